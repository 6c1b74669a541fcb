"""The paper's experiment as one chain, offline, on REAL text: El Bouari & de Rassenfosse hydrate patent texts from
Google's public data, summarise them with an LLM and train the graph-split linker on the summaries. Here the texts
are pap2pat's real patents written into USPTO's application full-text XML (:mod:`twin.bulk_formats`), the graph is
pap2pat's links with patents known by number only (:mod:`twin.chain`), and the LLM is a local OpenAI-compatible
server. Every step is the command a user runs:

    patlink hydrate --numbers N --source bulk --bulk-dir BULK --db STORE
    patlink data export --beir GRAPH --texts STORE --patent-view title,abstract,claims,description --format jsonl
    patlink summarise --beir GRAPH --texts STORE --llm-base-url URL --llm-model M
    patlink train --beir GRAPH --texts STORE --patent-view summary --out RUN
    patlink eval  --beir GRAPH --texts STORE --patent-view summary --method RUN,bm25
"""

from __future__ import annotations

import json
import re

import pytest
from fake_openai import ChatHandler, serve

from patlink.cli.main import main

from .bulk_formats import pap2pat_patents, write_application_xml
from .chain import write_numbers_only_beir

N_PATENTS = 60


class _Summariser(ChatHandler):
    """OpenAI chat completions: a map call answers the first sentences of its part as notes; a reduce (or direct)
    call the first words of its notes (or text) within the word budget its system prompt states."""

    def do_POST(self):  # noqa: N802
        req = self.read_json()
        system, user = req["messages"][0]["content"], req["messages"][-1]["content"]
        body = user.split("\n\n", 1)[-1]
        budget = int(m.group(1)) if (m := re.search(r"at most (\d+) words", system)) else 60
        if "take notes on one part" in system:
            kind, answer = "map", "\n".join(f"- {s}" for s in re.split(r"(?<=\.)\s+", body)[:3])
        else:
            kind = "reduce" if "notes taken from consecutive parts" in system else "direct"
            text = body.split("Notes:\n", 1)[-1].replace("- ", " ")
            answer = " ".join(text.split()[:budget])
        type(self).requests.append(kind)
        self.send_completion(req, answer, id="c")


@pytest.fixture()
def llm_url():
    with serve(_Summariser) as (base, handler):
        yield f"{base}/v1", handler.requests


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_hydrate_export_summarise_train_eval(tmp_path, monkeypatch, capsys, llm_url):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    url, calls = llm_url
    real = pap2pat_patents()
    chosen = sorted(real)[:N_PATENTS]
    bulk, graph, store = tmp_path / "bulk", tmp_path / "graph", tmp_path / "store.duckdb"
    write_application_xml({n: real[n] for n in chosen}, bulk)
    counts = write_numbers_only_beir(graph, chosen)
    assert counts["corpus"] == N_PATENTS and counts["train"] > counts["test"] > 0
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("\n".join(chosen) + "\n")

    # 1. hydrate: the graph's patents get their texts from the bulk files
    code, out, err = _run(capsys, "hydrate", "--numbers", str(numbers), "--source", "bulk", "--bulk-dir", str(bulk),
                          "--db", str(store), "--json")
    assert code == 0, err
    assert json.loads(out)["fetched"] == N_PATENTS

    # before: the graph alone has no patent text, and training on it is refused in one line
    code, _, err = _run(capsys, "train", "--beir", str(graph), "--out", str(tmp_path / "no-text"), "--epochs", "1")
    assert code == 2 and "have no text in view" in err

    # 2. export what was hydrated: every patent has text in the full view
    code, out, err = _run(capsys, "data", "export", "--beir", str(graph), "--texts", str(store), "--patent-view",
                          "title,abstract,claims,description", "--format", "jsonl", "--out", str(tmp_path / "ex"),
                          "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["patents_with_text"] == N_PATENTS and rep["patents_without_text"] == 0
    rows = [json.loads(x) for x in (tmp_path / "ex" / "patents.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rows} == set(chosen) and all(r["claims"] and r["description"] for r in rows)

    # 3. summarise with the LLM (map over every chunk, then reduce), into the same store
    code, out, err = _run(capsys, "summarise", "--beir", str(graph), "--texts", str(store), "--llm-base-url", url,
                          "--llm-model", "fake", "--json")
    assert code == 0, err
    summ = json.loads(out)
    assert summ["counts"]["summarised"] == N_PATENTS and summ["counts"]["failed"] == 0
    assert calls.count("map") >= N_PATENTS and calls.count("reduce") >= 1   # long patents read in several parts
    n_calls = len(calls)
    code, out, _ = _run(capsys, "summarise", "--beir", str(graph), "--texts", str(store), "--llm-base-url", url,
                        "--llm-model", "fake", "--json")
    assert code == 0 and len(calls) == n_calls and json.loads(out)["counts"]["cached"] == N_PATENTS

    # 4. train the linker on the summaries (graph split = the folder's qrels), 5. evaluate it beside BM25
    run = tmp_path / "runs" / "twin"
    code, _, err = _run(capsys, "train", "--beir", str(graph), "--texts", str(store), "--patent-view", "summary",
                        "--out", str(run), "--epochs", "1", "--no-plots")
    assert code == 0, err
    settings = json.loads((run / "best" / "linker.json").read_text())
    assert "summary" in json.dumps(settings)
    code, out, err = _run(capsys, "eval", "--beir", str(graph), "--texts", str(store), "--patent-view", "summary",
                          "--method", f"{run},bm25", "--bootstrap", "0", "--out", str(tmp_path / "report"), "--json")
    assert code == 0, err
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    text = json.dumps(metrics)
    for name in ("mrr", "map", "roc_auc", "pr_auc", "rcap@20"):
        assert f'"{name}"' in text
    assert f"{N_PATENTS} of {N_PATENTS} in view summary" in text
