"""Metrics against hand-computed examples."""

import numpy as np
import pytest

from patlink.classify.metrics import bootstrap_ci, cooccurrence, evaluate_predictions, per_section, prf, topk_metrics
from patlink.classify.thresholds import ThresholdConfig, apply_thresholds, tune_thresholds

LABELS = ["A01H", "C12N", "G06F", "H04L"]
# fixture: 3 documents x 4 labels
Y = np.array([[1, 1, 0, 0],
              [0, 0, 1, 1],
              [0, 0, 1, 0]])
P = np.array([[1, 0, 0, 0],
              [0, 0, 1, 0],
              [0, 1, 1, 0]])


def test_prf_micro_macro_samples_by_hand():
    m = prf(Y, P)
    # micro: TP=3 (A01H d0, G06F d1, G06F d2), predicted 4, gold 5
    assert m["micro_p"] == pytest.approx(3 / 4)
    assert m["micro_r"] == pytest.approx(3 / 5)
    assert m["micro_f1"] == pytest.approx(2 * 3 / (4 + 5))
    # macro over labels with gold positives (all 4 here): F1 per label A01H 1, C12N 0, G06F 1, H04L 0
    assert m["macro_f1"] == pytest.approx(0.5)
    # example-based: d0 p=1 r=.5 f=2/3; d1 p=1 r=.5 f=2/3; d2 p=.5 r=1 f=2/3
    assert m["samples_p"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["samples_r"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert m["samples_f1"] == pytest.approx(2 / 3)
    assert m["labels_per_doc_true"] == pytest.approx(5 / 3)
    assert m["empty_pred_share"] == 0.0


def test_macro_ignores_labels_without_gold_positives():
    y = np.array([[1, 0], [1, 0]])
    p = np.array([[1, 1], [1, 0]])
    assert prf(y, p)["macro_f1"] == pytest.approx(1.0)  # label 2 has no gold positive: not averaged


def test_topk_by_hand():
    scores = np.array([[0.9, 0.1, 0.5, 0.2],    # top1 A01H (hit); top2 A01H,G06F -> 1 of 2 gold
                       [0.3, 0.2, 0.1, 0.8],    # top1 H04L (hit)
                       [0.6, 0.5, 0.4, 0.1]])   # top1 A01H (miss); G06F is 3rd
    m = topk_metrics(Y, scores, ks=(1, 2))
    assert m["p@1"] == pytest.approx(2 / 3)
    assert m["r@1"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert m["p@2"] == pytest.approx((1 / 2 + 1 / 2 + 0 / 2) / 3)
    assert m["r@2"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    p, r = m["p@2"], m["r@2"]
    assert m["f1@2"] == pytest.approx(2 * p * r / (p + r))


def test_per_section_and_cooccurrence():
    sec = per_section(Y, P, LABELS)
    assert set(sec) == {"A", "C", "G", "H"}
    assert sec["G"] == {"p": 1.0, "r": 1.0, "f1": 1.0, "n_patents": 2, "n_labels": 1}
    assert sec["C"]["p"] == 0.0 and sec["C"]["n_patents"] == 1
    co = cooccurrence(Y, P, LABELS, "G06F", top=3)
    assert co["gold"] == [("G06F", 2), ("H04L", 1)]
    assert co["pred"] == [("G06F", 2), ("C12N", 1)]
    assert co["pred_correct"] == [("G06F", 2), ("C12N", 1)]
    assert co["pred_incorrect"] == [("G06F", 0)]
    with pytest.raises(ValueError, match="not in the model"):
        cooccurrence(Y, P, LABELS, "B60W")


def test_bootstrap_ci_brackets_point_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    y = (rng.random((60, 5)) < 0.3).astype(int)
    p = np.where(rng.random((60, 5)) < 0.8, y, 1 - y)
    fn = lambda idx: {"micro_f1": prf(y[idx], p[idx])["micro_f1"]}
    ci = bootstrap_ci(fn, 60, n_bootstrap=200, seed=3)
    point = prf(y, p)["micro_f1"]
    assert ci["micro_f1"][0] < point < ci["micro_f1"][1]
    assert bootstrap_ci(fn, 60, n_bootstrap=200, seed=3) == ci
    rep = evaluate_predictions(y, p, p.astype(float), ["A01B", "B01D", "C07D", "G06F", "H04L"], n_bootstrap=50)
    assert set(rep["ci95"]) >= {"micro_f1", "samples_f1", "p@1", "r@5"}


def test_apply_thresholds_and_min_labels():
    s = np.array([[0.1, 0.2, 0.05], [0.6, 0.7, 0.1]])
    assert apply_thresholds(s, 0.5, min_labels=0).tolist() == [[0, 0, 0], [1, 1, 0]]
    assert apply_thresholds(s, 0.5, min_labels=1).tolist() == [[0, 1, 0], [1, 1, 0]]
    assert apply_thresholds(s, np.array([0.05, 0.9, 0.9]), min_labels=0).tolist() == [[1, 0, 0], [1, 0, 0]]


def test_tune_thresholds_finds_separating_threshold():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    s = np.array([[0.8, 0.3], [0.2, 0.6], [0.7, 0.65], [0.1, 0.2]])
    t = tune_thresholds(y, s, ThresholdConfig(min_labels=0))
    assert 0.3 < t["global"] <= 0.6 and t["val_score"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        tune_thresholds(y, s[:2])
    with pytest.raises(ValueError, match="objective"):
        tune_thresholds(y, s, ThresholdConfig(objective="accuracy"))
    per = tune_thresholds(y, s, ThresholdConfig(per_label=True, min_support=1, min_labels=0))
    assert len(per["per_label"]) == 2 and per["val_score"] == pytest.approx(1.0)
