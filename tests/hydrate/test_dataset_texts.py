"""Patent texts reach a dataset only when a source is passed: load_dataset(texts=...), with_patent_texts, --texts."""

from __future__ import annotations

import json

import pytest

from patlink.data import load_dataset
from patlink.hydrate.records import PatentRecord
from patlink.hydrate.store import HydrationStore, open_texts

# real honeywell-vpm patent numbers (their texts below are invented fixtures)
US_A, US_B = "US10001292", "US7000308"


def _store(path, numbers=(US_A, US_B)):
    with HydrationStore(path) as s:
        s.write_batch([PatentRecord(number=n, title=f"Fixture title {n}", abstract=f"Fixture abstract {n}",
                                    cpc=["G06K7/10"]) for n in numbers], {})
    return path


def test_store_at_the_old_default_path_is_not_read_without_texts(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    _store(tmp_path / "hydrate.duckdb")  # where `patlink hydrate` writes by default
    ds = load_dataset("honeywell-vpm")
    assert ds.patents_with_text() == 0
    assert not ds.has_patent_text and ds.missing_text()["patents"] == len(ds.patents)
    with open_texts(tmp_path / "hydrate.duckdb") as store:
        assert load_dataset("honeywell-vpm", texts=store).patents_with_text() == 2


def test_with_patent_texts_fills_missing_fields_and_keeps_bundled_texts():
    pap = load_dataset("pap2pat")
    pid = next(iter(pap.patents))
    title = pap.patents[pid]["title"]
    out = pap.with_patent_texts({pid: {"title": "Other title", "cpc": "A01B; A01C", "kind": "B2", "empty": " "},
                                 "US0000001": {"title": "not a pap2pat patent"}})
    assert out.patents[pid]["title"] == title  # the dataset's own text wins
    assert out.patents[pid]["cpc"] == "A01B; A01C" and out.patents[pid]["kind"] == "B2"
    assert "empty" not in out.patents[pid] and "US0000001" not in out.patents
    assert out.metadata["hydrated_patents"] == 1 and out.metadata["patent_texts_from"] == "dict"
    assert "cpc" not in pap.patents[pid] and "hydrated_patents" not in pap.metadata  # self unchanged


def test_patents_with_text_counts_the_chosen_view():
    vpm = load_dataset("honeywell-vpm")
    ds = vpm.with_patent_texts({US_A: {"title": "a title"}, US_B: {"claims": "1. A claim."}})
    assert ds.patents_with_text() == 1                       # default view title+abstract
    assert ds.patents_with_text("claims") == 1
    assert ds.patents_with_text("title,claims") == 2
    assert ds.with_views(patent_view="claims").patents_with_text() == 1
    assert ds.summary()["patents_with_text"] == 1


def test_a_path_is_not_a_text_source():
    with pytest.raises(TypeError, match="open_texts"):
        load_dataset("honeywell-vpm", texts="hydrate.duckdb")
    with pytest.raises(TypeError, match="texts_for"):
        load_dataset("honeywell-vpm", texts=42)


def test_loaded_datasets_are_independent_copies():
    a = load_dataset("honeywell-vpm")
    a.patents[US_A]["title"] = "changed"
    a.links.clear()
    a.metadata["anomalies"].clear()
    b = load_dataset("honeywell-vpm")
    assert b.patents[US_A] == {} and b.links and b.metadata["anomalies"]


def test_corrupt_store_is_a_clear_error_when_opened_for_a_dataset(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"\0not duckdb" * 500)
    with pytest.raises(ValueError, match=r"junk\.duckdb is not a patlink hydration store \(not a DuckDB database file\)"):
        load_dataset("honeywell-vpm", texts=open_texts(junk))


def test_cli_texts_option(tmp_path, monkeypatch, capsys):
    from patlink.cli.main import main

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    db = _store(tmp_path / "hydrate.duckdb")
    assert main(["data", "stats", "honeywell-vpm", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["patents_with_text"] == 0 and "texts" not in plain
    assert main(["data", "stats", "honeywell-vpm", "--texts", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["patents_with_text"] == 2 and out["texts"] == {"store": str(db), "hydrated_patents": 2}
    assert out["missing_text"]["patents"] == plain["missing_text"]["patents"] - 2


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_cli_bad_store_is_one_error_line_naming_the_file(tmp_path, capsys, kind):
    from patlink.cli.main import main

    bad = tmp_path / f"{kind}.duckdb"
    if kind == "corrupt":
        bad.write_text("not a database")
    assert main(["data", "stats", "honeywell-vpm", "--texts", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1  # one line, not wrapped, no traceback
    assert err.startswith("error: --texts:") and str(bad) in err


@pytest.mark.slow  # one graph split of honeywell-vpm (~20 s on 2 cores)
def test_bench_retrieval_task_uses_the_given_store_and_keys_its_cache_on_it(tmp_path):
    from patlink.bench.models import parse_models
    from patlink.bench.runner import BenchConfig, run_benchmark
    from patlink.bench.tasks import TASKS

    db = _store(tmp_path / "h.duckdb")
    task, bm25 = [TASKS["honeywell-vpm-product2patent"]], parse_models("bm25")
    quiet = {"log": lambda *_: None}
    cfg = BenchConfig(out=tmp_path / "b", views=["ta"], texts=db)
    cfg.retrieval.n_bootstrap = 10
    first = run_benchmark(task, bm25, cfg, **quiet)
    assert (first["computed"], first["skipped"]) == (1, [])
    assert first["entries"][0]["texts"] == str(db) and first["entries"][0]["results"]["n_docs"] == 2
    assert run_benchmark(task, bm25, cfg, **quiet)["cached"] == 1
    cfg.texts = None  # the cached result computed with the store is not served without it
    again = run_benchmark(task, bm25, cfg, **quiet)
    assert again["cached"] == 0 and "hydrate" in again["skipped"][0]["reason"]


def test_store_texts_reach_patents_whatever_the_spelling_of_their_ids(tmp_path):
    from patlink.data.dataset import Dataset

    db = _store(tmp_path / "h.duckdb")
    ds = Dataset(name="spellings", items={"q": {"text": "a reader"}},
                 patents={"US10001292B2": {}, "7,000,308": {"title": "own title"}, "X-1": {}},
                 links=[("q", "US10001292B2")])
    with open_texts(db) as store:
        out = ds.with_patent_texts(store)
    assert out.patents["US10001292B2"]["title"] == f"Fixture title {US_A}"
    assert out.patents["7,000,308"]["title"] == "own title"  # the dataset's text kept ...
    assert out.patents["7,000,308"]["abstract"] == f"Fixture abstract {US_B}"  # ... the missing field filled
    assert out.patents["X-1"] == {} and out.metadata["hydrated_patents"] == 2
