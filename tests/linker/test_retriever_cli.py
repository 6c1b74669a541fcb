"""LinkerRetriever interface, and `patlink train` end to end on a tiny BEIR fixture with the bundled MiniLM."""

import json

import numpy as np
import pytest
from conftest import FakeTokenStore, fixture_split, make_fixture_dataset

from patlink.retrieval.linker import LinkerRetriever
from patlink.training.config import EncoderConfig, TrainConfig, ValidationConfig
from patlink.training.trainer import train_linker


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    ds = make_fixture_dataset(32)
    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(encoder=EncoderConfig(hidden=32, out_dim=16, n_heads=2), epochs=2, batch_size=8,
                      progress=False, validation=ValidationConfig(full_metrics=False))
    train_linker(ds, fixture_split(ds), cfg, out, store=FakeTokenStore())
    return ds, out


def test_retriever_both_directions(trained_run):
    ds, out = trained_run
    items, patents = ds.item_texts(), ds.patent_texts()
    r = LinkerRetriever(out, "item2patent", store=FakeTokenStore())
    r.index(patents)
    qids, dids, S = r.score_matrix(dict(list(items.items())[:5]))
    assert S.shape == (5, len(patents)) and S.dtype == np.float32 and dids == list(patents)
    run = r.search(dict(list(items.items())[:5]), top_k=3)
    assert list(run) == qids and all(len(v) == 3 for v in run.values())
    best = max(run[qids[0]], key=run[qids[0]].get)
    assert best == dids[int(S[0].argmax())]
    # patent2item uses the other encoders: scores are the transpose of item2patent
    r2 = LinkerRetriever(out / "best", "patent2item", store=FakeTokenStore())
    r2.index(dict(list(items.items())[:5]))
    _, _, S2 = r2.score_matrix(patents)
    np.testing.assert_allclose(S2.T, S, atol=1e-5)
    r.index_sets({"pX": [items["i0"], items["i1"]]})
    assert r.doc_ids == ["pX"]
    with pytest.raises(ValueError):
        LinkerRetriever(out, "sideways")
    with pytest.raises(ValueError):
        LinkerRetriever(out / "nothing-here")


def test_plots(trained_run):
    from patlink.training.plots import plot_run

    _, out = trained_run
    paths = plot_run(out)
    assert paths[0].name == "training.png" and paths[0].stat().st_size > 1000


@pytest.mark.slow
def test_cli_train_on_beir_fixture(tmp_path, monkeypatch):
    from patlink.cli.main import main
    from patlink.data.beir import export_beir

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    ds = make_fixture_dataset(24)
    sp = fixture_split(ds, n_val=6)
    beir = export_beir(ds, tmp_path / "beir", splits={"train": sp["train"], "val": sp["val"]})
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"encoder": {"hidden": 32, "out_dim": 16, "max_length": 16}, "batch_size": 8,
                               "progress": False, "full_val_metrics": False}))
    rc = main(["train", "--beir", str(beir), "--out", str(tmp_path / "run"), "--config", str(cfg),
               "--epochs", "2", "--negatives", "adversarial", "--no-plots"])
    assert rc == 0
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(m["epochs"]) == 2 and m["epochs"][1]["hard_negatives"] == 5
    assert (tmp_path / "run" / "best" / "linker.json").exists()
    # link with the linker fused with BM25 and dense: weights tuned on the run's validation links (split.json)
    from patlink.cli.methods import parse_method
    from patlink.linking import _validation_links

    multi = f"{tmp_path / 'run'}+bm25+dense"
    fusion = parse_method(multi)
    assert sorted(_validation_links(ds, fusion, seed=0)) == sorted(map(tuple, sp["val"]))
    assert main(["link", "--beir", str(beir), "--method", multi, "--top", "3", "--json",
                 ds.item_texts()["i0"]]) == 0
    # resume of a finished run: nothing left to do, same result
    assert main(["train", "--beir", str(beir), "--out", str(tmp_path / "run"), "--config", str(cfg),
                 "--epochs", "2", "--negatives", "adversarial", "--resume", "--no-plots"]) == 0
    # resuming with a different config is refused
    assert main(["train", "--beir", str(beir), "--out", str(tmp_path / "run"), "--config", str(cfg),
                 "--epochs", "2", "--negatives", "random", "--resume", "--no-plots"]) == 2
    # impossible config → exit 2 before training
    cfg.write_text(json.dumps({"temperature": -1}))
    assert main(["train", "--beir", str(beir), "--out", str(tmp_path / "bad"), "--config", str(cfg)]) == 2
    assert not (tmp_path / "bad" / "checkpoint.pt").exists()


def test_cli_train_and_eval_folds(tmp_path, monkeypatch):
    """`train --folds 2` writes one finished model per fold (a second call skips them); `eval --folds 2` pools the
    two folds' test parts (every link tested once) and reads runs/NAME as runs/NAME/fold{f}."""
    from patlink.cli.main import main
    from patlink.data.beir import export_beir

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    ds = make_fixture_dataset(24)
    beir = export_beir(ds, tmp_path / "beir")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"encoder": {"hidden": 32, "out_dim": 16, "max_length": 16}, "batch_size": 8,
                               "progress": False, "full_val_metrics": False, "tune_fusion": False}))
    run = tmp_path / "cv"
    args = ["train", "--beir", str(beir), "--out", str(run), "--config", str(cfg), "--epochs", "1", "--no-plots"]
    assert main(args + ["--folds", "2"]) == 0
    for f in (0, 1):
        m = json.loads((run / f"fold{f}" / "metrics.json").read_text())
        assert m["finished"] is True and (run / f"fold{f}" / "best" / "linker.json").is_file()
        split = json.loads((run / f"fold{f}" / "split.json").read_text())
        assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 24
    stamp = (run / "fold0" / "metrics.json").stat().st_mtime_ns
    assert main(args + ["--folds", "2", "--fold", "0"]) == 0  # finished: skipped, not retrained
    assert (run / "fold0" / "metrics.json").stat().st_mtime_ns == stamp
    assert main(args + ["--folds", "2", "--fold", "2"]) == 2  # out of range
    assert main(args + ["--fold", "0"]) == 2  # --fold without --folds

    out = tmp_path / "rep"
    multi = f"{run}+bm25+dense"
    rc = main(["eval", "--beir", str(beir), "--folds", "2", "--method", f"bm25,{run},{multi}", "--bootstrap", "50",
               "--out", str(out), "--json"])
    assert rc == 0
    rep = json.loads((out / "metrics.json").read_text())
    for m in ("bm25", str(run), multi):
        assert rep["metrics"][m]["item2patent"]["n_queries"] == 24  # both folds' test parts, pooled
        assert rep["pools"][m]["item2patent"]["folds"] == 2
    weights = rep["methods"][multi]["item2patent"]["weights"]  # linker, bm25, dense per fold, tuned on validation
    assert len(weights) == 2 and all(len(w) == 3 and sum(w) == pytest.approx(1) for w in weights)
    cv = rep["cv"]  # what `patlink compare` needs to combine partitions: each query's fold, fold sizes, seed
    assert cv["folds"] == 2 and cv["seed"] == 0 and sorted(set(cv["query_fold"]["item2patent"].values())) == [0, 1]
    assert len(cv["query_fold"]["item2patent"]) == 24
    assert [s["test"] for s in cv["fold_sizes"]] == [12, 12]
    assert all(s["train"] + s["val"] + s["test"] == 24 for s in cv["fold_sizes"])
    assert (out / "runs" / "qrels.item2patent.trec").is_file()
    assert main(["compare", str(out), "-m", "bm25", "-m", str(run), "--reference", "bm25", "--resamples", "100"]) == 0
    assert main(["eval", "--beir", str(beir), "--folds", "30", "--method", "bm25"]) == 2  # k > number of pairs
    # the folds of another partition would score links the fold models were trained on: refused, not evaluated
    assert main(["eval", "--beir", str(beir), "--folds", "2", "--seed", "1", "--method", str(run)]) == 2


def test_eval_refuses_a_run_on_links_it_was_trained_on(tmp_path):
    from patlink.cli.methods import parse_method as pm
    from patlink.evaluation.linkage import check_not_trained_on

    run = tmp_path / "r"
    (run / "best").mkdir(parents=True)
    (run / "best" / "linker.json").write_text("{}")
    (run / "split.json").write_text(json.dumps({"train": [["i1", "p1"]], "val": [["i2", "p2"]],
                                                "test": [["i3", "p3"]]}))
    check_not_trained_on(pm(f"{run}+bm25"), [("i3", "p3")])                    # its own test split: fine
    check_not_trained_on(pm(f"{run}+bm25"), [("i2", "p2")], split="val")       # validating where it validated: fine
    check_not_trained_on(pm("bm25"), [("i1", "p1")])                           # untrained methods: nothing to check
    with pytest.raises(ValueError, match="trained or validated on 1 of the 2 test links"):
        check_not_trained_on(pm(f"{run}+bm25+dense"), [("i3", "p3"), ("i1", "p1")])
    with pytest.raises(ValueError, match="1 of the 1 test links"):
        check_not_trained_on(pm(f"knn-linker:{run}"), [("i2", "p2")])          # selected on validation: also leakage


def test_hybrid_weight_tuned_on_validation(tmp_path, monkeypatch):
    """`hybrid` with validation links: α is tuned on the validation pool (never on the evaluated links) and the
    result equals a hybrid with that α fixed (the label carries it)."""
    from patlink.evaluation.linkage import LinkageEvalConfig, evaluate_linkage, pools_for, validation_for
    from patlink.methods import Hybrid

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    ds = make_fixture_dataset(30)
    links = sorted(ds.links)
    val, test = links[:10], links[10:]
    r = evaluate_linkage(ds, test, Hybrid(), LinkageEvalConfig(directions=("item2patent",), n_bootstrap=0),
                         val_links=val)["item2patent"]
    alpha = Hybrid().for_direction("item2patent").fit(validation_for(ds, val, "item2patent")).alpha
    assert r["alpha"] == alpha and r["method"] == f"hybrid[convex(α={alpha:.2f})]"
    fresh = Hybrid(weights=[alpha, 1 - alpha])
    items, patents = pools_for(ds, test, "split")
    fresh.index(patents)
    run = fresh.search({i: items[i] for i, _ in test}, len(patents))
    assert {q: list(d) for q, d in run.items()} == {q: list(d) for q, d in r["run"].items()}


def test_cli_repeated_cross_validation(tmp_path, monkeypatch):
    """`train --folds 2 --repeats 2` writes OUT/seed{s}/fold{f}; `eval --folds 2 --repeats 2` evaluates each
    partition with its own models, writes one report per partition and their comparison, and resumes."""
    from patlink.cli.main import main
    from patlink.data.beir import export_beir

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    beir = export_beir(make_fixture_dataset(24), tmp_path / "beir")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"encoder": {"hidden": 32, "out_dim": 16, "max_length": 16}, "batch_size": 8,
                               "progress": False, "full_val_metrics": False, "tune_fusion": False}))
    run = tmp_path / "rcv"
    assert main(["train", "--beir", str(beir), "--out", str(run), "--config", str(cfg), "--epochs", "1",
                 "--no-plots", "--folds", "2", "--repeats", "2", "--seed", "3"]) == 0
    for s in (3, 4):
        for f in (0, 1):
            assert json.loads((run / f"seed{s}" / f"fold{f}" / "config.json").read_text())["seed"] == s
    rep = tmp_path / "rep"
    args = ["eval", "--beir", str(beir), "--folds", "2", "--repeats", "2", "--seed", "3", "--direction",
            "item2patent", "--method", f"bm25,{run}", "--reference", "bm25", "--bootstrap", "20", "--out", str(rep)]
    assert main(args) == 0
    for s in (3, 4):
        meta = json.loads((rep / f"seed{s}" / "metrics.json").read_text())
        assert set(meta["metrics"]) == {"bm25", str(run)} and meta["cv"]["seed"] == s  # named as given
    (comp,) = json.loads((rep / "comparison.json").read_text())
    assert comp["n_repeats"] == 2 and comp["n_queries"] == 24 and comp["reference"] == "bm25"
    assert str(run) in comp["tests"] and len(comp["per_fold"][str(run)]) == 2
    stamp = (rep / "seed3" / "metrics.json").stat().st_mtime_ns
    assert main(args) == 0  # finished partitions are reused
    assert (rep / "seed3" / "metrics.json").stat().st_mtime_ns == stamp
    assert main(args[:-2]) == 2  # --repeats without --out
    assert main(["train", "--beir", str(beir), "--out", str(run), "--repeats", "2"]) == 2  # without --folds


def test_trained_views_are_applied_unless_others_are_asked(trained_run):
    """A linker reads the views it was trained on; an explicit different view is used, with a warning."""
    from patlink.cli.methods import parse_method
    from patlink.methods import BM25, resolve_views

    ds, out = trained_run
    recorded = (tuple(ds.item_view), tuple(ds.patent_view))
    assert resolve_views([parse_method(f"{out}+bm25")]) == recorded
    assert resolve_views([BM25()]) == (None, None)                 # untrained: the dataset's defaults
    other = "abstract" if recorded[1] != ("abstract",) else "title"
    with pytest.warns(UserWarning, match="trained on patent view"):
        assert resolve_views([parse_method(str(out))], patent_view=other) == (recorded[0], (other,))
