"""Decision thresholds for multi-label predictions, tuned on a validation split carved from TRAIN.

A label is predicted when its score is ≥ its threshold. ``min_labels`` (default 1) additionally forces the
``min_labels`` best labels of each document on: every patent has at least one CPC subclass, and the paper
(§5) reports 20% of its predictions came out empty without such a rule.

Never call these functions with test data: :mod:`patlink.classify.train` passes the validation part of the
training set only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DEFAULT_GRID", "ThresholdConfig", "apply_thresholds", "tune_thresholds"]

# fine steps at the low end: BCE-trained models give rare labels probabilities of a few percent
DEFAULT_GRID = (0.002, 0.005, 0.01, 0.015) + tuple(float(x) for x in np.round(np.arange(0.02, 0.96, 0.02), 2))


@dataclass
class ThresholdConfig:
    """How thresholds are chosen.

    Attributes:
        objective: metric maximised on validation: ``micro_f1`` or ``samples_f1`` (example-based F1).
        per_label: also tune one threshold per label (labels with fewer than ``min_support`` validation positives
            keep the global threshold).
        min_support: validation positives a label needs for its own threshold.
        min_labels: labels always predicted per document (top scores), 0 to disable.
        grid: candidate thresholds.
    """

    objective: str = "micro_f1"
    per_label: bool = False
    min_support: int = 5
    min_labels: int = 1
    grid: tuple[float, ...] = field(default=DEFAULT_GRID)


def apply_thresholds(scores: np.ndarray, thresholds: float | np.ndarray, min_labels: int = 1) -> np.ndarray:
    """Binary predictions (n, m) uint8 from ``scores`` (n, m) and a scalar or per-label (m,) threshold.

    The ``min_labels`` highest-scoring labels of every row are set to 1 as well.
    """
    scores = np.asarray(scores)
    pred = (scores >= np.asarray(thresholds, dtype=scores.dtype)).astype(np.uint8)
    if min_labels > 0 and scores.shape[1] > 0:
        k = min(min_labels, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        np.put_along_axis(pred, top, 1, axis=1)
    return pred


def _objective(y: np.ndarray, pred: np.ndarray, name: str) -> float:
    if name == "micro_f1":
        tp = float((y & pred).sum())
        denom = float(y.sum() + pred.sum())
        return 2 * tp / denom if denom else 0.0
    if name == "samples_f1":
        tp = (y & pred).sum(1)
        denom = y.sum(1) + pred.sum(1)
        return float(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0).mean())
    raise ValueError(f"unknown threshold objective {name!r}; choose micro_f1 or samples_f1")


def tune_thresholds(y_val: np.ndarray, scores_val: np.ndarray, cfg: ThresholdConfig | None = None) -> dict:
    """Choose thresholds maximising ``cfg.objective`` on validation data.

    Args:
        y_val: (n, m) {0,1} validation labels (from the TRAIN split, never test).
        scores_val: (n, m) validation scores.

    Returns:
        ``{"global": t, "per_label": list[float] | None, "objective": name, "val_score": best value,
        "curve": [[t, value], ...], "min_labels": k}``.

    Raises:
        ValueError: shape mismatch, empty validation set or unknown objective.
    """
    cfg = cfg or ThresholdConfig()
    y = (np.asarray(y_val) > 0).astype(np.uint8)
    s = np.asarray(scores_val, dtype=np.float32)
    if y.shape != s.shape or y.ndim != 2 or len(y) == 0:
        raise ValueError(f"need equal non-empty 2-D y_val/scores_val, got {y.shape} and {s.shape}")
    curve = [(t, _objective(y, apply_thresholds(s, t, cfg.min_labels), cfg.objective)) for t in cfg.grid]
    best_t, best_v = max(curve, key=lambda tv: (tv[1], -abs(tv[0] - 0.5)))
    per_label = None
    if cfg.per_label:
        th = np.full(y.shape[1], best_t, dtype=np.float32)
        # coordinate ascent, one pass over labels with enough validation support
        for j in np.flatnonzero(y.sum(0) >= cfg.min_support):
            best_j, best_vj = th[j], _objective(y, apply_thresholds(s, th, cfg.min_labels), cfg.objective)
            for t in cfg.grid:
                th[j] = t
                v = _objective(y, apply_thresholds(s, th, cfg.min_labels), cfg.objective)
                if v > best_vj + 1e-12:
                    best_j, best_vj = t, v
            th[j] = best_j
        per_label = [float(x) for x in th]
        best_v = _objective(y, apply_thresholds(s, th, cfg.min_labels), cfg.objective)
    return {"global": float(best_t), "per_label": per_label, "objective": cfg.objective, "val_score": float(best_v),
            "curve": [[float(t), float(v)] for t, v in curve], "min_labels": cfg.min_labels}
