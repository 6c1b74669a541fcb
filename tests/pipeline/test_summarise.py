"""Map-reduce patent summaries (patlink.pipeline.summarise, patlink summarise) against a fake OpenAI-compatible
server on 127.0.0.1 that answers /v1/chat/completions in the real response format.

The fake server "summarises" by echoing facts: texts carry markers ``FACT-KEY-…`` (important) and
``FACT-MINOR-…`` (details). A map call lists every marker of its excerpt (important ones first); a reduce (or
direct) call keeps the important markers of its notes, and a few details when asked for an intermediate merge.
So a marker reaches the final summary only if every step on its way read it.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from fake_openai import CHAT_PATH, ChatHandler, serve

from patlink.cli.main import main
from patlink.data.chunking import chunk_text, token_spans
from patlink.hydrate.store import HydrationStore
from patlink.pipeline.condense import Condenser
from patlink.pipeline.config import (
    ChunkConfig, FetchConfig, FilterConfig, LLMConfig, PipelineConfig, SearchConfig, SummaryConfig,
)
from patlink.pipeline.llm import ChatClient, ExtractiveSummarizer, split_sentences
from patlink.pipeline.prompts import Prompts
from patlink.pipeline.runner import run_pipeline
from patlink.pipeline.store import PipelineStore
from patlink.pipeline.summarise import (
    MemoryCache, PatentSummariser, reduce_in_rounds, sentence_chunks, summarise_patents,
)

from .test_reliability_http import SECRET, assert_no_secret, dump_duckdb

FACT = re.compile(r"FACT-[A-Z]+-[A-Z0-9]+")
KEY_ENV = "PATLINK_TEST_SUMMARY_KEY"


# ---------------------------------------------------------------------------------------------- the fake server
def _kind(system: str) -> str:
    if "take notes on one part" in system:
        return "map"
    if "notes taken from consecutive parts" in system:
        return "reduce"
    if "Write a dense summary" in system:
        return "direct"
    if "You merge notes about one commercial product" in system:
        return "merge"
    if "ONE paragraph" in system:
        return "paragraph"
    return "other"


def _ordered(facts: list[str]) -> list[str]:
    facts = list(dict.fromkeys(facts))
    return [f for f in facts if "-KEY-" in f] + [f for f in facts if "-KEY-" not in f]


class _FakeOpenAI(ChatHandler):
    def do_POST(self):  # noqa: N802
        req = self.read_json()
        if self.path != CHAT_PATH:
            return self.send_json(404, {"error": {"message": "no such route", "type": "invalid_request_error"}})
        system, user = req["messages"][0]["content"], req["messages"][-1]["content"]
        kind = _kind(system)
        type(self).requests.append({"kind": kind, "model": req["model"], "system": system, "user": user,
                                    "headers": {k.lower(): v for k, v in self.headers.items()}})
        if req["model"] == "deny":
            return self.send_json(401, {"error": {"message": f"invalid key {self.headers.get('Authorization')}",
                                                  "type": "invalid_request_error"}})
        if "ECHO-400" in user:   # a careless server: the request's credentials in its error body
            return self.send_json(400, {"error": {"message": "bad request with Authorization: "
                                                  f"{self.headers.get('Authorization')}",
                                                  "type": "invalid_request_error"}})
        facts = _ordered(FACT.findall(user.split("\n", 1)[-1]))
        keys = [f for f in facts if "-KEY-" in f]
        if kind == "map":
            answer = "\n".join(f"- {f}" for f in facts) or "NONE"
        elif kind in ("reduce", "direct"):
            detail = [] if "at most 180 words" in system or kind == "direct" else facts[len(keys):][:8]
            answer = "Summary: " + " ".join(keys + detail)
        elif kind == "merge":
            answer = "\n".join(f"- {f}" for f in (keys + facts[len(keys):][:3]))
        elif kind == "paragraph":
            answer = "PARAGRAPH " + " ".join(keys)
        else:
            answer = "?"
        return self.send_completion(req, answer, id=f"chatcmpl-{len(type(self).requests)}",
                                    prompt_tokens=len((system + user).split()), system_fingerprint="fake")


@pytest.fixture()
def openai_server():
    """Base URL (``.../v1``) of the fake server; ``.requests`` lists every call (kind, model, prompts, headers)."""
    with serve(_FakeOpenAI) as (base, handler):
        class U(str):
            pass

        url = U(f"{base}/v1")
        url.requests = handler.requests
        yield url


def kinds(requests) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in requests:
        out[r["kind"]] = out.get(r["kind"], 0) + 1
    return out


def client(url, model="fake-model", **kw) -> ChatClient:
    return ChatClient(LLMConfig(base_url=url, model=model, retries=0, **kw), sleep=lambda s: None)


FILLER = ("the housing holds a channel through which the medium passes while the circuit board reads the "
          "signal and stores it for later use by the operator").split()


def long_patent(words: int = 7000, every: int = 50) -> dict[str, str]:
    """A patent whose description has ``words`` words: a minor fact every ``every`` words, an important fact
    only at its very end (past word 6,000, where the old single-call summary cut the text)."""
    desc = []
    for i in range(words):
        desc.append(f"FACT-MINOR-{i // every}" if i % every == every - 1 else FILLER[i % len(FILLER)])
    desc.append("and finally FACT-KEY-LAST closes the description.")
    return {"title": "Thermal flow sensor FACT-KEY-TITLE",
            "abstract": "A sensor with a heated element FACT-KEY-ABSTRACT measures gas flow.",
            "claims": "1. A flow sensor comprising FACT-KEY-CLAIM1 a heater and two temperature sensors.",
            "description": " ".join(desc)}


# ---------------------------------------------------------------------------------------------- map-reduce
def test_a_fact_only_in_the_last_chunk_reaches_the_summary(openai_server):
    patent = long_patent()
    s = PatentSummariser(client(openai_server))
    from patlink.pipeline.summarise import patent_full_text

    text = patent_full_text(patent, s.config.patent_fields)
    chunks = chunk_text(text, s.config.chunk_tokens, s.config.chunk_overlap)
    assert len(chunks) == 5 and "FACT-KEY-LAST" in chunks[-1] and not any("FACT-KEY-LAST" in c for c in chunks[:-1])
    # the old path summarised the first 6,000 words in one call: the last fact was not in its input
    assert "FACT-KEY-LAST" not in " ".join(text.split()[:6000])

    res = s.summarise("US7123456", patent)
    for fact in ("FACT-KEY-TITLE", "FACT-KEY-ABSTRACT", "FACT-KEY-CLAIM1", "FACT-KEY-LAST"):
        assert fact in res.summary
    assert kinds(openai_server.requests) == {"map": 5, "reduce": 1}
    assert res.n_chunks == 5 and res.rounds == 0 and res.llm_calls == 6 and res.computed == 6 and res.cached == 0
    assert res.words_in == sum(len(v.split()) for v in patent.values()) and res.words_out <= 180
    maps = [r for r in openai_server.requests if r["kind"] == "map"]
    assert [r["user"].split("\n", 1)[0] for r in maps] == [f"Patent US7123456, part {i} of 5:" for i in range(1, 6)]
    assert "claim" in maps[0]["system"] and "independent" in maps[0]["system"]   # claim elements are asked for
    reduce = next(r for r in openai_server.requests if r["kind"] == "reduce")
    assert "at most 180 words" in reduce["system"] and "field of use" in reduce["system"]


def test_a_short_patent_is_one_direct_call(openai_server):
    s = PatentSummariser(client(openai_server))
    res = s.summarise("US1", {"title": "Valve FACT-KEY-V", "abstract": "A valve switches water."})
    assert res.summary == "Summary: FACT-KEY-V" and res.n_chunks == 1
    assert kinds(openai_server.requests) == {"direct": 1}


def test_notes_that_do_not_fit_one_call_are_merged_in_rounds(openai_server):
    """A tiny call budget: the notes of 13 chunks need several merge rounds; every call reads at most the budget
    and the facts of the first and the last chunk both reach the summary."""
    cfg = SummaryConfig(chunk_tokens=60, chunk_overlap=6, note_max_words=30)
    s = PatentSummariser(client(openai_server), cfg)
    words = ["FACT-KEY-FIRST"] + [f"FACT-MINOR-{i}" if i % 3 == 0 else "word" for i in range(1, 700)]
    words.append("FACT-KEY-LAST")
    text = " ".join(words)
    n_chunks = len(chunk_text(text, 60, 6))
    res = s.summarise("US2", text)
    assert "FACT-KEY-FIRST" in res.summary and "FACT-KEY-LAST" in res.summary
    k = kinds(openai_server.requests)
    assert res.n_chunks == n_chunks == k["map"] and res.rounds >= 2
    assert res.rounds + 1 <= k["reduce"] <= n_chunks and res.llm_calls == k["map"] + k["reduce"]
    for r in openai_server.requests:
        body = r["user"].split("\n\n", 1)[1].removeprefix("Notes:\n")
        assert len(token_spans(body)) <= 60, r["kind"]


def test_reduce_in_rounds_ends_and_refuses_items_over_half_the_budget():
    out, rounds = reduce_in_rounds(["a b"] * 9, 4, lambda x: len(x.split()), lambda g: "a b", lambda g: len(g))
    assert out == 2 and rounds >= 2
    assert reduce_in_rounds(["a"], 4, lambda x: 1, lambda g: "x", lambda g: g) == (["a"], 0)
    with pytest.raises(ValueError, match="half the budget"):
        reduce_in_rounds(["a b c"], 4, lambda x: len(x.split()), lambda g: "", lambda g: g)


def test_cache_second_run_makes_no_call_and_a_changed_prompt_or_model_recomputes(openai_server, tmp_path):
    patents = {"US7000001": long_patent(4000), "US7000002": long_patent(2500, every=40)}
    db = tmp_path / "s.duckdb"
    with HydrationStore(db) as store:
        r1 = summarise_patents(patents, PatentSummariser(client(openai_server)), store)
        n1 = len(openai_server.requests)
        assert sorted(r1.summarised) == sorted(patents) and r1.llm_calls == n1 == r1.steps_computed > 0
        r2 = summarise_patents(patents, PatentSummariser(client(openai_server)), store)
        assert len(openai_server.requests) == n1 and r2.llm_calls == 0 and r2.steps_computed == 0
        assert sorted(r2.cached) == sorted(patents) and not r2.summarised and r2.steps_cached == n1
        # a changed reduce prompt: the reduce calls only, the map notes come from the cache
        prompts = Prompts(patent_reduce_system=Prompts().patent_reduce_system + " Keep part numbers.")
        r3 = summarise_patents(patents, PatentSummariser(client(openai_server), prompts=prompts), store)
        new = openai_server.requests[n1:]
        assert kinds(new) == {"reduce": 2} and r3.llm_calls == 2 and sorted(r3.summarised) == sorted(patents)
        assert r3.prompt_hash != r1.prompt_hash and store.summaries.get("US7000001").prompt_hash == r3.prompt_hash
        # another model: everything again
        n3 = len(openai_server.requests)
        r4 = summarise_patents(patents, PatentSummariser(client(openai_server, model="other-model")), store)
        assert r4.llm_calls == n1 and len(openai_server.requests) == n3 + n1
        assert {r["model"] for r in openai_server.requests[n3:]} == {"other-model"}
        row = store.summaries.get("US7000001")
        assert row.model == "other-model" and row.method == "llm" and row.n_chunks == 3 and row.words_out > 0


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_run_resumes_losing_only_the_call_in_flight(openai_server, tmp_path, monkeypatch, exc):
    patents = {"US7000001": long_patent(4000), "US7000002": long_patent(3000)}
    with HydrationStore(tmp_path / "clean.duckdb") as store:   # what an uninterrupted run takes
        clean = summarise_patents(patents, PatentSummariser(client(openai_server)), store)
        expected = store.texts_for(patents)
    total = clean.llm_calls
    assert total == len(openai_server.requests) == 3 + 1 + 3 + 1

    real = ChatClient.chat
    seen = {"n": 0}

    def chat(self, messages, **kw):
        seen["n"] += 1
        if seen["n"] == 6:   # the second patent's second map call
            raise exc("stopped")
        return real(self, messages, **kw)

    monkeypatch.setattr(ChatClient, "chat", chat)
    db = tmp_path / "s.duckdb"
    before = len(openai_server.requests)
    with HydrationStore(db) as store, pytest.raises(exc):
        summarise_patents(patents, PatentSummariser(client(openai_server)), store)
    assert len(openai_server.requests) - before == 5
    with HydrationStore(db, read_only=True) as store:   # the first patent is complete, the second absent
        assert set(store.texts_for(patents)) == {"US7000001"}
    monkeypatch.setattr(ChatClient, "chat", real)
    before = len(openai_server.requests)
    with HydrationStore(db) as store:
        again = summarise_patents(patents, PatentSummariser(client(openai_server)), store)
        assert store.texts_for(patents) == expected
    assert len(openai_server.requests) - before == again.llm_calls == total - 5   # nothing done twice
    assert again.cached == ["US7000001"] and again.summarised == ["US7000002"]


def test_the_key_never_appears_in_errors_logs_or_the_store(openai_server, tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    patents = {"US7000001": long_patent(2000), "US7000002": {"title": "Broken ECHO-400 FACT-KEY-X"}}
    db = tmp_path / "s.duckdb"
    with HydrationStore(db) as store:
        rep = summarise_patents(patents, PatentSummariser(client(openai_server, api_key_env=KEY_ENV)), store)
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"   # the key is sent ...
    assert rep.summarised == ["US7000001"] and list(rep.failed) == ["US7000002"]
    reason = rep.failed["US7000002"]
    assert "HTTP 400" in reason and "bad request with Authorization" in reason   # ... the server's reason is kept
    for name, text in (("failure", reason), ("report", json.dumps(rep.as_dict())), ("store", dump_duckdb(db)),
                       ("log records", "\n".join(r.getMessage() for r in caplog.records))):
        assert_no_secret(text, name)
    # a rejected key stops the run at once: one line naming the variable, exit 2, no secret printed
    capsys.readouterr()
    beir = _beir(tmp_path / "beir", {"US7000003": "A pump FACT-KEY-P moves water."})
    rc = main(["summarise", "--beir", str(beir), "--db", str(tmp_path / "d.duckdb"), "--llm-base-url",
               openai_server, "--llm-model", "deny", "--llm-api-key-env", KEY_ENV])
    out = capsys.readouterr()
    assert rc == 2 and f"check the API key in ${KEY_ENV}" in out.err and len(out.err.strip().splitlines()) == 1
    assert_no_secret(out.out + out.err, "CLI output")


def test_no_key_sends_a_placeholder_never_openai_api_key(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)   # a key for another service must not reach this server
    PatentSummariser(client(openai_server)).summarise("US1", "A valve FACT-KEY-V switches water.")
    assert openai_server.requests[-1]["headers"]["authorization"] == "Bearer no-key"


# ---------------------------------------------------------------------------------------------- extractive
ASPECTS = [
    "The mass flow rate of the gas is derived from a temperature difference.",
    "A downstream temperature sensor measures the gas after the platinum element.",
    "The temperature difference between upstream and downstream grows with the mass flow rate.",
    "The upstream and the downstream temperature sensor sit on both sides of the heated platinum element.",
    "The flow sensor derives the gas mass flow from the measured temperatures.",
    "The gas flows past the upstream temperature sensor, the platinum heater and the downstream temperature sensor.",
    "The platinum heater warms the gas flowing through the thermal flow sensor.",
    "The sensor measures the temperature difference of the gas to find its mass flow rate.",
]
FILLER_SENTENCES = [
    "The packaging is a recyclable cardboard box with moulded pulp inserts.",
    "Figure 3 is drawn to a different scale than figure 2.",
    "Screws of stainless steel hold the cover on the base plate.",
    "The operator manual is available in English, German and French.",
    "A green LED on the front panel shows that power is on.",
    "Mounting brackets allow installation on a standard DIN rail.",
    "The cable gland accepts cables with diameters from 4 to 8 mm.",
    "Shipping weight including accessories is 1.2 kg.",
    "The housing colour is light grey RAL 7035.",
    "Service intervals depend on the customer's maintenance plan.",
    "Reference signs in the claims do not limit their scope.",
    "Spare fuses are stored inside the terminal cover.",
    "The warranty period is two years from the date of delivery.",
    "Labels on the enclosure follow the applicable safety standards.",
    "Firmware updates are installed through the USB service port.",
    "Wall mounting needs four anchors suitable for concrete.",
]
CENTRAL = ("The thermal mass flow sensor heats the gas with a platinum element and derives the mass flow rate from "
           "the temperature difference measured by an upstream and a downstream temperature sensor.")


def test_extractive_map_reduce_keeps_a_central_sentence_of_the_last_chunk():
    paras = [" ".join([FILLER_SENTENCES[2 * i], ASPECTS[i], FILLER_SENTENCES[2 * i + 1]]) for i in range(8)]
    paras.append(" ".join(["The enclosure is rated IP65 against dust and water jets.", CENTRAL,
                           "The display backlight turns off after one minute."]))
    text = "\n".join(paras)
    ex = ExtractiveSummarizer()
    cfg = SummaryConfig(chunk_tokens=100, chunk_overlap=8, note_max_words=45, patent_max_words=45)
    chunks = sentence_chunks(text, 100)
    assert len(chunks) == 4 and CENTRAL in chunks[-1].splitlines() and not any(CENTRAL in c for c in chunks[:-1])
    sents = split_sentences(text)
    score = ex.centrality(sents)
    rank = sorted(range(len(sents)), key=lambda i: -score[i]).index(sents.index(CENTRAL))
    assert rank <= 2   # one of the three most central of the 27 sentences
    res = PatentSummariser(ex, cfg).summarise("US3", text)
    assert CENTRAL in res.summary and res.n_chunks == 4 and res.llm_calls == 0 and res.method == "extractive"
    assert len(res.summary.split()) <= 45 and res.model == "lexrank:minilm"
    # the summary is made of whole sentences of the text (none cut at a chunk boundary)
    assert all(s in sents for s in split_sentences(res.summary))


def test_a_summariser_needs_a_backend_chosen_on_purpose():
    with pytest.raises(TypeError, match="ChatClient .* or an ExtractiveSummarizer"):
        PatentSummariser(None)
    with pytest.raises(ValueError, match="half of chunk_tokens"):
        PatentSummariser(ExtractiveSummarizer(), SummaryConfig(chunk_tokens=100, chunk_overlap=10, note_max_words=60))


# ---------------------------------------------------------------------------------------------- product side
def test_product_bullets_beyond_one_call_are_merged_in_rounds(openai_server):
    cfg = SummaryConfig(chunk_tokens=40, chunk_overlap=4, note_max_words=15)
    cond = Condenser(client(openai_server), cfg)
    bullets = [f"The pump has property FACT-MINOR-{i} in use." for i in range(40)] + ["It runs on FACT-KEY-LAST."]
    text, rounds = cond.paragraph_rounds("Acme P1", bullets)
    assert text == "PARAGRAPH FACT-KEY-LAST" and rounds >= 1
    k = kinds(openai_server.requests)
    assert k["paragraph"] == 1 and k["merge"] >= rounds
    for r in openai_server.requests:   # every call reads at most the budget (before: all 41 bullets in one)
        points = r["user"].split("\n\n", 1)[1].split("\n", 1)[1]
        assert len(token_spans(points.replace("- ", ""))) <= 40


def test_pipeline_reports_chunks_beyond_the_page_limit(web, tmp_path):
    url = f"{web}/products/product_fs100.html"
    urls = tmp_path / "urls.csv"
    urls.write_text(f"product,url\nAcme FS-100,{url}\n")
    prods = tmp_path / "p.txt"
    prods.write_text("Acme FS-100\n")
    db = tmp_path / "p.duckdb"
    cfg = PipelineConfig(company="Acme", db_path=db, show_progress=False,
                         search=SearchConfig(provider="urls", urls_file=urls),
                         filter=FilterConfig(require_name_in_url=False), fetch=FetchConfig(timeout_s=5, retries=0),
                         chunk=ChunkConfig(max_tokens=20, overlap=0, max_chunks_per_page=2))
    with PipelineStore(db) as st:
        rep = run_pipeline(cfg, st, products_file=prods, until="condense", sleep=lambda s: None)
        total = st.stage_outputs("extract")[url]["n_chunks_total"]
        assert total > 2 and rep["extract"]["dropped_chunks"] == total - 2
        cond = st.stage_outputs("condense")["Acme FS-100"]
        assert cond["dropped_chunks"] == {url: total - 2} and cond["merge_rounds"] == 0


def test_pipeline_patent_stage_summarises_long_patents_whole_and_caches_steps(openai_server, tmp_path):
    pats = tmp_path / "patents.jsonl"
    pats.write_text(json.dumps({"id": "US 7,123,456 B2", **long_patent(4000)}) + "\n")
    db = tmp_path / "p.duckdb"
    cfg = PipelineConfig(db_path=db, show_progress=False, llm=LLMConfig(base_url=openai_server, model="m", retries=0))
    with PipelineStore(db) as st:
        rep = run_pipeline(cfg, st, patents_file=pats, sleep=lambda s: None)
        assert rep["patent_summary"]["done"] == 1
        summ = st.stage_outputs("patent_summary")["US7123456"]["summary"]
        assert "FACT-KEY-LAST" in summ and "FACT-KEY-TITLE" in summ
        assert st.counts()["patent_step"]["done"] == 4   # 3 map notes + 1 reduce, each its own row
    assert kinds(openai_server.requests) == {"map": 3, "reduce": 1}


# ---------------------------------------------------------------------------------------------- the CLI
def _beir(folder: Path, docs: dict[str, str]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    ids = list(docs)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n"
                                                 for i, t in docs.items()))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{k}", "text": "a product"}) + "\n"
                                                  for k in range(len(ids))))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"q{k}\t{i}\t1\n" for k, i in enumerate(ids)))
    return folder


@pytest.mark.slow
def test_cli_extractive_on_pap2pat_writes_summaries_that_texts_for_returns(tmp_path, capsys):
    import patlink as pl

    ds = pl.load_dataset("pap2pat")
    ids = list(ds.patents)[:3]
    db = tmp_path / "pap2pat.duckdb"
    assert main(["summarise", "pap2pat", "--db", str(db), "--extractive", "--limit", "2", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["counts"] == {"requested": 2, "summarised": 2, "cached": 0, "failed": 0, "skipped_no_text": 0}
    assert rep["method"] == "extractive" and rep["llm_calls"] == 0 and rep["summaries_in_store"] == 2
    assert rep["chunks"] > 2 and rep["words_in"] > rep["words_out"] > 0
    with HydrationStore(db, read_only=True) as store:
        got = store.texts_for(ids)
    assert set(got) == set(ids[:2])   # pap2pat's patents have no patents row: the summary alone
    for pid in ids[:2]:
        summary = got[pid]["summary"]
        assert set(got[pid]) == {"summary"} and 0 < len(summary.split()) <= 180
        source = " ".join(" ".join(v.split()) for k, v in ds.patents[pid].items() if k != "date")
        first = summary.split(". ", 1)[0].rstrip(".")
        assert len(first.split()) >= 3 and first in source   # extracted: it starts with a sentence of the text
        assert {w.rstrip(".") for w in summary.split()} <= {w.rstrip(".") for w in source.split()}
    # a rerun with --texts (the --db default): nothing recomputed
    assert main(["summarise", "pap2pat", "--texts", str(db), "--extractive", "--limit", "2", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["db_path"] == str(db) and again["counts"]["cached"] == 2 and again["steps_computed"] == 0


def test_cli_llm_on_a_beir_folder_and_ctrl_c_leaves_complete_rows(openai_server, tmp_path, capsys, monkeypatch):
    docs = {"d1": "A pump FACT-KEY-P1 moves water.", "US7000005": "A valve FACT-KEY-V5 switches air.",
            "d3": "A fan FACT-KEY-F3 moves air.", "d4": ""}
    beir = _beir(tmp_path / "beir", docs)
    db = tmp_path / "s.duckdb"
    real = PatentSummariser.summarise
    seen = {"n": 0}

    def summarise(self, number, text, **kw):
        seen["n"] += 1
        if seen["n"] == 2:
            raise KeyboardInterrupt
        return real(self, number, text, **kw)

    monkeypatch.setattr(PatentSummariser, "summarise", summarise)
    args = ["summarise", "--beir", str(beir), "--db", str(db), "--llm-base-url", openai_server, "--llm-model", "m"]
    assert main(args) == 130
    assert "interrupted" in capsys.readouterr().err
    with HydrationStore(db, read_only=True) as store:
        assert store.texts_for(docs) == {"d1": {"summary": "Summary: FACT-KEY-P1"}}   # complete or absent
    monkeypatch.setattr(PatentSummariser, "summarise", real)
    assert main(args + ["--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["counts"] == {"requested": 4, "summarised": 2, "cached": 1, "failed": 0, "skipped_no_text": 1}
    assert rep["skipped_no_text"] == ["d4"] and rep["llm_calls"] == 2
    with HydrationStore(db, read_only=True) as store:
        assert store.texts_for(["d1", "US 7,000,005 B2", "d3", "d4"]) == {
            "d1": {"summary": "Summary: FACT-KEY-P1"}, "US 7,000,005 B2": {"summary": "Summary: FACT-KEY-V5"},
            "d3": {"summary": "Summary: FACT-KEY-F3"}}
    assert main(args) == 0   # the table
    assert "already current" in capsys.readouterr().out


@pytest.mark.parametrize("extra, needle", [
    ([], "no summariser chosen"),
    (["--extractive", "--llm-base-url", "http://x/v1", "--llm-model", "m"], "not both"),
    (["--llm-base-url", "http://x/v1"], "both --llm-base-url and --llm-model"),
    (["--extractive", "--limit", "0"], "--limit must be at least 1"),
    (["--extractive", "--chunk-tokens", "2"], "chunk_tokens must be at least 4"),
])
def test_cli_usage_errors_are_one_line_and_touch_no_file(extra, needle, tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    assert main(["summarise", "pap2pat", "--db", str(db), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and not db.exists()


def test_cli_needs_a_store(capsys):
    assert main(["summarise", "pap2pat", "--extractive"]) == 2
    assert "--db STORE" in capsys.readouterr().err


def test_an_old_store_without_summary_tables_opens_and_reads_none(tmp_path):
    import duckdb

    db = tmp_path / "old.duckdb"
    with HydrationStore(db):
        pass
    con = duckdb.connect(str(db))
    assert {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()} == {
        "patents", "failures"}
    con.close()
    with HydrationStore(db, read_only=True) as store:
        assert store.texts_for(["US7000001"]) == {} and store.summaries.count() == 0
    with HydrationStore(db) as store:   # created on the first write
        summarise_patents({"US7000001": "A pump moves water with a rotating impeller blade."},
                          PatentSummariser(ExtractiveSummarizer(), cache=MemoryCache()), store)
        assert store.summaries.count() == 1 and store.summaries.cache.count() == 0   # its own cache was used
    with HydrationStore(db, read_only=True) as store:
        assert store.texts_for(["US 7,000,001"]) == {
            "US 7,000,001": {"summary": "A pump moves water with a rotating impeller blade."}}


def test_pipeline_run_prints_the_dropped_chunks(web, tmp_path, capsys):
    urls = tmp_path / "urls.csv"
    urls.write_text(f"product,url\nAcme FS-100,{web}/products/product_fs100.html\n")
    prods = tmp_path / "p.txt"
    prods.write_text("Acme FS-100\n")
    args = ["pipeline", "run", "--products", str(prods), "--urls", str(urls), "--no-name-filter", "--until", "condense",
            "--chunk-tokens", "2", "--chunk-overlap", "0", "--db", str(tmp_path / "p.duckdb"), "--no-progress"]
    assert main(args + ["--json"]) == 0
    dropped = json.loads(capsys.readouterr().out)["run"]["extract"]["dropped_chunks"]
    assert dropped > 0   # a page of ~100 words in 2-token chunks: more than the 40 kept
    assert main(args) == 0
    assert f"{dropped} chunk(s) of long pages beyond 40 per page were not condensed" in capsys.readouterr().out


def test_a_file_with_only_the_summary_tables_is_a_store(tmp_path):
    """Another program's DuckDB file is refused; one holding only patlink's summary tables is accepted."""
    import duckdb

    from patlink.hydrate.summaries import _SCHEMA

    db = tmp_path / "only-summaries.duckdb"
    con = duckdb.connect(str(db))
    con.execute(_SCHEMA)
    con.execute("INSERT INTO summaries VALUES ('US7000001', 'A pump.', 'llm', 'm', 'h', 1, 10, 2, now())")
    con.close()
    with HydrationStore(db) as store:
        assert store.texts_for(["US7000001"]) == {"US7000001": {"summary": "A pump."}}
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE summaries_of_meetings (id INTEGER)")
    con.close()
    with pytest.raises(ValueError, match="not a patlink hydration store"):
        HydrationStore(other)


def test_tfidf_lexrank_ranks_the_sentence_sharing_most_words_first():
    """model="tfidf": the original LexRank similarity; the sentence whose words the others share is the most
    central, an off-topic one the least; no neural model is loaded."""
    import numpy as np

    from patlink.pipeline.llm import ExtractiveSummarizer

    ex = ExtractiveSummarizer("tfidf")
    sents = ["The valve body holds a piston and a spring.",
             "A piston moves in the valve body against the spring.",
             "The spring presses the piston onto the valve seat.",
             "Invoices are payable within thirty days."]
    score = ex.centrality(sents)
    assert np.argmin(score) == 3 and score[:3].min() > score[3]
    chosen = ex.select(sents, 20)
    assert len(" ".join(chosen).split()) <= 20 and sents[3] not in chosen and chosen
    assert "tfidf" in ex.fingerprint
