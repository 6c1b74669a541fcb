"""Multi-label classification metrics for CPC labelling (Mueller & Stone, *Sparse Multi-label Patent
Classification with Deep Learning*, §3.2, §6.2, Appendix B/C).

Inputs are dense arrays: ``y_true`` and ``y_pred`` of shape (n_docs, n_labels) with values in {0, 1}, and
``scores`` (n_docs, n_labels) float (higher = more likely). Column ``j`` is label ``labels[j]``.

* :func:`prf` — precision / recall / F1, averaged three ways with scikit-learn
  (``precision_recall_fscore_support``): **micro** (pool all label decisions), **macro** (mean over labels that
  have at least one positive in ``y_true``), **samples** = example-based (mean over documents; the paper's
  "macro-averaged over all instances", §3.2). ``zero_division=0``.
* :func:`topk_metrics` — ranked metrics of DeepPatent / PatentBERT (Mueller & Stone §6.2, Table 2): precision@k =
  mean over documents of |top-k ∩ gold| / k; recall@k = mean of |top-k ∩ gold| / |gold|; F1@k = harmonic mean
  of the two averages (PatentBERT's convention). Documents without gold labels are skipped.
* :func:`per_section` — P/R/F1 restricted to the labels of each CPC section (Table 3).
* :func:`cooccurrence` — co-label counts for one label in gold and predictions (Table 4).
* :func:`bootstrap_ci` — percentile 95% CIs by resampling documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["bootstrap_ci", "cooccurrence", "evaluate_predictions", "per_section", "prf", "topk_metrics"]


def _check(y_true: np.ndarray, other: np.ndarray) -> None:
    if y_true.shape != other.shape or y_true.ndim != 2:
        raise ValueError(f"shape mismatch: y_true {y_true.shape} vs {other.shape} (need equal 2-D shapes)")


def prf(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Micro, macro and example-based precision/recall/F1 plus label-cardinality statistics.

    Returns:
        keys ``micro_p micro_r micro_f1 macro_p macro_r macro_f1 samples_p samples_r samples_f1`` (fractions in
        [0, 1]), ``hamming_loss``, ``labels_per_doc_true``, ``labels_per_doc_pred``, ``empty_pred_share``.
    """
    from sklearn.metrics import hamming_loss, precision_recall_fscore_support

    y_true = np.asarray(y_true).astype(np.int8)
    y_pred = np.asarray(y_pred).astype(np.int8)
    _check(y_true, y_pred)
    if y_true.shape[1] < 2:
        raise ValueError("need at least 2 label columns (scikit-learn reads one column as a binary problem)")
    out: dict[str, float] = {}
    for avg in ("micro", "samples"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=0)
        out.update({f"{avg}_p": float(p), f"{avg}_r": float(r), f"{avg}_f1": float(f)})
    present = np.flatnonzero(y_true.sum(0) > 0)
    if len(present):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", labels=present,
                                                     zero_division=0)
    else:
        p = r = f = 0.0
    out.update(macro_p=float(p), macro_r=float(r), macro_f1=float(f))
    out["hamming_loss"] = float(hamming_loss(y_true, y_pred))
    out["labels_per_doc_true"] = float(y_true.sum(1).mean()) if len(y_true) else 0.0
    out["labels_per_doc_pred"] = float(y_pred.sum(1).mean()) if len(y_pred) else 0.0
    out["empty_pred_share"] = float((y_pred.sum(1) == 0).mean()) if len(y_pred) else 0.0
    return out


def topk_metrics(y_true: np.ndarray, scores: np.ndarray, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """precision@k, recall@k and F1@k (DeepPatent / PatentBERT convention, see module docstring).

    Ties in ``scores`` are broken by column order (stable sort). Returns keys ``p@k``, ``r@k``, ``f1@k``.
    """
    y_true = np.asarray(y_true) > 0
    scores = np.asarray(scores, dtype=np.float64)
    _check(y_true, scores)
    keep = y_true.sum(1) > 0
    y_true, scores = y_true[keep], scores[keep]
    order = np.argsort(-scores, axis=1, kind="stable")
    n_gold = y_true.sum(1)
    out: dict[str, float] = {}
    for k in ks:
        top = order[:, :k]
        hits = np.take_along_axis(y_true, top, axis=1).sum(1) if len(top) else np.zeros(0)
        p = float((hits / k).mean()) if len(hits) else 0.0
        r = float((hits / n_gold).mean()) if len(hits) else 0.0
        out[f"p@{k}"], out[f"r@{k}"] = p, r
        out[f"f1@{k}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


def per_section(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, dict]:
    """Micro P/R/F1 over the label columns of each CPC section (first letter), like Table 3 of Mueller & Stone.

    Returns:
        section → ``{"p", "r", "f1", "n_patents" (docs with a gold label in the section), "n_labels"}``.
    """
    y_true = np.asarray(y_true) > 0
    y_pred = np.asarray(y_pred) > 0
    _check(y_true, y_pred)
    out: dict[str, dict] = {}
    for sec in sorted({lab[0] for lab in labels if lab}):
        cols = [j for j, lab in enumerate(labels) if lab and lab[0] == sec]
        t, pr = y_true[:, cols], y_pred[:, cols]
        # pooled counts (scikit-learn would read a single column as a binary, not multi-label, problem)
        tp, n_pred, n_gold = int((t & pr).sum()), int(pr.sum()), int(t.sum())
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        f = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0
        out[sec] = {"p": p, "r": r, "f1": f, "n_patents": int((t.sum(1) > 0).sum()), "n_labels": len(cols)}
    return out


def cooccurrence(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], label: str,
                 top: int = 10) -> dict[str, list[tuple[str, int]]]:
    """Labels that co-occur with ``label`` (Table 4 of Mueller & Stone).

    Returns four lists of ``(label, count)``, most frequent first (``label`` itself first, with its count):
    ``gold`` (docs whose gold set has ``label``: their gold labels), ``pred`` (docs where ``label`` is predicted:
    their predicted labels), ``pred_correct`` / ``pred_incorrect`` (the ``pred`` docs split by whether ``label``
    is also gold).

    Raises:
        ValueError: ``label`` is not a column.
    """
    labels = list(labels)
    if label not in labels:
        raise ValueError(f"label {label!r} is not in the model's label set ({len(labels)} labels)")
    j = labels.index(label)
    y_true = np.asarray(y_true) > 0
    y_pred = np.asarray(y_pred) > 0

    def count(rows: np.ndarray, mat: np.ndarray) -> list[tuple[str, int]]:
        c = Counter({labels[k]: int(v) for k, v in enumerate(mat[rows].sum(0)) if v > 0})
        head = [(label, c.pop(label, 0))]
        return head + sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top - 1]

    gold_rows = y_true[:, j]
    pred_rows = y_pred[:, j]
    return {
        "gold": count(gold_rows, y_true),
        "pred": count(pred_rows, y_pred),
        "pred_correct": count(pred_rows & gold_rows, y_pred),
        "pred_incorrect": count(pred_rows & ~gold_rows, y_pred),
    }


def bootstrap_ci(metric_fn: Callable[[np.ndarray], dict[str, float]], n: int, n_bootstrap: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, list[float]]:
    """Percentile bootstrap CIs over documents.

    Args:
        metric_fn: ``idx -> {metric: value}`` evaluated on the documents ``idx`` (an int array, with repeats).
        n: number of documents.
        n_bootstrap: resamples (0 → empty dict).
        level: coverage of the interval.

    Returns:
        metric → ``[lo, hi]``.
    """
    if n_bootstrap <= 0 or n == 0:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        for k, v in metric_fn(idx).items():
            draws.setdefault(k, []).append(v)
    a = (1 - level) / 2
    return {k: [float(np.quantile(v, a)), float(np.quantile(v, 1 - a))] for k, v in draws.items()}


MAIN_METRICS = ("micro_p", "micro_r", "micro_f1", "macro_f1", "samples_p", "samples_r", "samples_f1",
                "p@1", "r@5", "f1@5")


def evaluate_predictions(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray, labels: Sequence[str],
                         n_bootstrap: int = 1000, seed: int = 0, cooc_label: str | None = None) -> dict:
    """Full report: :func:`prf`, :func:`topk_metrics`, :func:`per_section`, optional :func:`cooccurrence` and
    bootstrap 95% CIs (``ci95``) for the main metrics (micro/example-based P/R/F1, macro F1, p@1, r@5, f1@5).
    """
    y_true = np.asarray(y_true)
    out = {"n_docs": len(y_true), "n_labels": len(labels)}
    out.update(prf(y_true, y_pred))
    out.update(topk_metrics(y_true, scores))

    def fn(idx: np.ndarray) -> dict[str, float]:
        m = {**prf(y_true[idx], y_pred[idx]), **topk_metrics(y_true[idx], scores[idx])}
        return {k: m[k] for k in MAIN_METRICS}

    out["ci95"] = bootstrap_ci(fn, len(y_true), n_bootstrap, seed)
    out["per_section"] = per_section(y_true, y_pred, labels)
    if cooc_label:
        out["cooccurrence"] = {"label": cooc_label, **cooccurrence(y_true, y_pred, labels, cooc_label)}
    return out
