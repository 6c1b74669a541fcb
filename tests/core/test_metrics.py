"""Every metric against a hand-computed example."""

import numpy as np
import pytest

from patlink.evaluation import bootstrap_ci, compare_runs, evaluate_run, pair_auc

QRELS = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}, "q3": {"z": 1}}
RUN = {"q1": {"a": 0.9, "x": 0.8, "b": 0.1}, "q2": {"x": 1.0, "c": 0.5}}  # q3 retrieves nothing


def test_ranking_metrics_by_hand():
    m = evaluate_run(QRELS, RUN, cutoffs=(1, 2), n_bootstrap=0)
    assert m["n_queries"] == 3
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    # AP(q1) = (1/1 + 2/3) / 2, AP(q2) = 1/2, AP(q3) = 0
    assert m["map"] == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 3)
    assert m["p@1"] == pytest.approx(1 / 3)
    assert m["p@2"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert m["recall@1"] == pytest.approx((1 / 2 + 0 + 0) / 3)
    assert m["recall@2"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    # capped recall = hits@k / min(k, |rel|) (upstream's "P@k")
    assert m["rcap@1"] == pytest.approx((1 + 0 + 0) / 3)
    assert m["rcap@2"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    # nDCG@10 q1: (1 + 1/log2(4)) / (1 + 1/log2(3)); q2: (1/log2(3)) / 1
    q1 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    q2 = 1 / np.log2(3)
    assert m["ndcg@10"] == pytest.approx((q1 + q2) / 3)


def test_pair_auc_by_hand():
    # pool a,b,c,x,z; missing pairs tied below every returned score
    out = pair_auc(QRELS, RUN, ["a", "b", "c", "x", "z"])
    from sklearn.metrics import roc_auc_score

    floor = 0.1 - 1
    y = [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    s = [0.9, 0.1, floor, 0.8, floor, floor, floor, 0.5, 1.0, floor, floor, floor, floor, floor, floor]
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert out["n_pairs"] == 15 and out["n_positive_pairs"] == 4


def test_perfect_run_scores_one():
    run = {"q1": {"a": 2, "b": 1, "x": 0}, "q2": {"c": 1, "x": 0}, "q3": {"z": 1, "x": 0}}
    m = evaluate_run(QRELS, run, cutoffs=(1, 2), n_bootstrap=50, doc_ids=["a", "b", "c", "x", "z"])
    for k in ("mrr", "map", "ndcg@10", "rcap@1", "rcap@2", "roc_auc", "pr_auc"):
        assert m[k] == pytest.approx(1.0), k
    assert m["ci95"]["mrr"] == [1.0, 1.0]


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    v = np.random.default_rng(1).random(200)
    lo, hi = bootstrap_ci(v, 500, seed=3)
    assert lo < v.mean() < hi
    assert (lo, hi) == bootstrap_ci(v, 500, seed=3)
    assert hi - lo < 0.1


def test_compare_runs_detects_a_real_difference():
    rng = np.random.default_rng(0)
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(60)}
    good = {q: {f"d{i}": 1.0, "n": 0.0} for i, q in enumerate(qrels)}
    bad = {q: {"n": 1.0, f"d{i}": float(rng.random() * 0.5)} for i, q in enumerate(qrels)}
    c = compare_runs(qrels, {"good": good, "bad": bad})
    assert c["scores"]["good"]["mrr"] == 1.0 and c["scores"]["bad"]["mrr"] == 0.5
    assert c["significant"]["good"]["bad"]["mrr"]


def test_empty_qrels_is_an_error():
    with pytest.raises(ValueError):
        evaluate_run({"q": {"a": 0}}, {"q": {"a": 1.0}})


def test_vectorised_auc_bootstrap_equals_sklearn_on_a_resample():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from patlink.evaluation.metrics import _auc_counts, _weighted_auc_ap

    rng = np.random.default_rng(0)
    labels = (rng.random((40, 30)) < 0.05).astype(np.int8)
    labels[np.arange(40), rng.integers(0, 30, 40)] = 1
    scores = np.round(rng.normal(size=(40, 30)) + labels, 1)  # rounded: ties on purpose
    idx = rng.integers(0, 40, 40)
    W = np.bincount(idx, minlength=40)[None, :].astype(float)
    roc, ap = _weighted_auc_ap(_auc_counts(labels, scores), W)
    assert roc[0] == pytest.approx(roc_auc_score(labels[idx].ravel(), scores[idx].ravel()))
    assert ap[0] == pytest.approx(average_precision_score(labels[idx].ravel(), scores[idx].ravel()))
