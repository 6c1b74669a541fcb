"""Pooling of k-fold results: known runs → known pooled metrics; fold folder resolution."""

from __future__ import annotations

import pytest

from patlink.evaluation.crossval import pool_fold_results


def _result(qrels, run, method="m", alpha=None):
    from patlink.evaluation.metrics import evaluate_run

    return {"method": method, "alpha": alpha, "qrels": qrels, "run": run, "doc_ids": ["a", "b", "c"],
            "metrics": evaluate_run(qrels, run, n_bootstrap=0, doc_ids=["a", "b", "c"]),
            "pool": {"queries": len(qrels), "documents": 3, "empty_queries": 0}}


def test_pool_two_folds_mrr_is_mean_over_all_queries():
    # fold 0: q1 relevant at rank 1, q2 at rank 2 (MRR 0.75); fold 1: q3 at rank 3 (MRR 1/3)
    f0 = _result({"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": {"a": 3, "b": 2, "c": 1}, "q2": {"a": 3, "b": 2, "c": 1}},
                 alpha=0.3)
    f1 = _result({"q3": {"c": 1}}, {"q3": {"a": 3, "b": 2, "c": 1}}, alpha=0.6)
    pooled = pool_fold_results([{"m": {"item2patent": f0}}, {"m": {"item2patent": f1}}], n_bootstrap=200)
    r = pooled["m"]["item2patent"]
    assert r["metrics"]["mrr"] == pytest.approx((1 + 0.5 + 1 / 3) / 3)  # not the mean of fold means (0.542)
    assert r["metrics"]["n_queries"] == 3 and r["pool"]["queries"] == 3 and r["pool"]["folds"] == 2
    assert [f["mrr"] for f in r["folds"]] == pytest.approx([0.75, 1 / 3])
    assert r["alpha"] == [0.3, 0.6] and set(r["run"]) == {"q1", "q2", "q3"}
    lo, hi = r["metrics"]["ci95"]["mrr"]
    assert lo <= r["metrics"]["mrr"] <= hi
    assert "roc_auc" in r["metrics"]  # same candidate pool in both folds → pair AUCs too


def test_pool_keeps_recurring_queries_apart_and_rejects_bad_input():
    # new-product protocol, patent→item: patent q1 is asked in both folds, about different new products
    f0 = _result({"q1": {"a": 1}}, {"q1": {"a": 3, "b": 2, "c": 1}})          # RR 1
    f1 = _result({"q1": {"c": 1}}, {"q1": {"a": 3, "b": 2, "c": 1}})          # RR 1/3
    pooled = pool_fold_results([{"m": {"patent2item": f0}}, {"m": {"patent2item": f1}}], n_bootstrap=0)
    r = pooled["m"]["patent2item"]
    assert set(r["qrels"]) == {"q1@fold0", "q1@fold1"} and r["metrics"]["n_queries"] == 2
    assert r["metrics"]["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    with pytest.raises(ValueError, match="no fold"):
        pool_fold_results([])
    with pytest.raises(ValueError, match="differ"):
        pool_fold_results([{"m": {"item2patent": f0}}, {"m": {}}], n_bootstrap=0)


def test_with_subfolder_reads_fold_folders(tmp_path):
    from patlink.cli.methods import parse_method

    for sub in ("fold0", "fold1"):
        (tmp_path / "cv" / sub).mkdir(parents=True)
        (tmp_path / "cv" / sub / "linker.json").write_text("{}")
    cv = tmp_path / "cv"
    fused = parse_method(f"{cv}+bm25").with_subfolder("fold1")
    assert fused.parts[0].path == cv / "fold1" and fused.parts[1].name == "bm25"
    assert parse_method("hybrid@8").with_subfolder("fold1").name == "hybrid@8"
    knn = parse_method(f"knn-linker:{cv}+bm25").with_subfolder("fold1")
    assert knn.parts[0].param[0] == str(cv / "fold1")
    assert parse_method("knn:5").with_subfolder("fold1").label() == "knn(k=5)"
    with pytest.raises(ValueError, match="has no fold7"):
        parse_method(str(cv)).with_subfolder("fold7")


def test_evaluating_patents_without_text_is_a_clear_error():
    """honeywell-vpm ships no patent text: the graph protocol cannot rank its patents until they are hydrated."""
    from patlink.data import load_dataset
    from patlink.evaluation.linkage import evaluate_linkage, pools_for
    from patlink.methods import BM25

    ds = load_dataset("honeywell-vpm")
    links = sorted(ds.links)[:50]
    with pytest.raises(ValueError, match="has text.*patlink hydrate honeywell-vpm.*new-product"):
        pools_for(ds, links)
    with pytest.raises(ValueError, match="candidate patents has text"):
        evaluate_linkage(ds, links, BM25())
