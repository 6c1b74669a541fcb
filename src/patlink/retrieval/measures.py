"""Per-query ranking measures computed with ranx: the primitive that validation tuning and evaluation share.

Names follow the field's usage (see :mod:`patlink.evaluation.metrics` for the full list and the reports built on
them): ``mrr``, ``map``, ``ndcg@k``, ``p@k``, ``recall@k``, ``hits@k`` and ``rcap@k`` (capped recall,
relevant in top k / min(k, |relevant|)).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from patlink.retrieval.base import Qrels, Run

__all__ = ["exact_mrr", "mean_metric", "per_query_metrics"]

_RANX_NAMES = {"mrr": "mrr", "map": "map"}


def _ranx_name(metric: str) -> str:
    if metric in _RANX_NAMES:
        return _RANX_NAMES[metric]
    name, _, k = metric.partition("@")
    return {"p": "precision", "recall": "recall", "ndcg": "ndcg", "hits": "hits", "mrr": "mrr",
            "map": "map"}[name] + (f"@{k}" if k else "")


def _prepare(qrels: Qrels, run: Run):
    from ranx import Qrels as RxQrels, Run as RxRun

    qrels = {q: {d: int(r) for d, r in docs.items() if r > 0} for q, docs in qrels.items()}
    qrels = {q: d for q, d in qrels.items() if d}
    if not qrels:
        raise ValueError("qrels has no query with a relevant document")
    # ranx needs a non-empty ranking per query: give empty queries a sentinel that is never relevant.
    run = {q: (run.get(q) or {"__patlink_none__": 0.0}) for q in qrels}
    return RxQrels(qrels), RxRun(run), qrels


def per_query_metrics(qrels: Qrels, run: Run, metrics: Sequence[str]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Per-query values of ``metrics`` (see module docstring for names).

    Returns:
        ``(query_ids, {metric: (n_queries,) float64})``; queries are those of ``qrels`` with at least one
        relevant document; a query absent from ``run`` scores 0.

    Raises:
        ValueError: if ``qrels`` has no relevant document, or a metric name is unknown.
    """
    from ranx import evaluate

    rx_q, rx_r, clean = _prepare(qrels, run)
    qids = list(rx_q.keys())
    out: dict[str, np.ndarray] = {}
    ranx_metrics = []
    for m in metrics:
        if m.startswith("rcap@"):
            ranx_metrics.append(f"hits@{m.split('@')[1]}")
        else:
            try:
                ranx_metrics.append(_ranx_name(m))
            except KeyError:
                raise ValueError(f"unknown metric {m!r}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals = evaluate(rx_q, rx_r, sorted(set(ranx_metrics)), return_mean=False, make_comparable=True)
    if not isinstance(vals, dict):
        vals = {ranx_metrics[0]: vals}
    n_rel = np.array([len(clean[q]) for q in qids], dtype=np.float64)
    for m, rm in zip(metrics, ranx_metrics):
        v = np.asarray(vals[rm], dtype=np.float64)
        if m.startswith("rcap@"):
            k = int(m.split("@")[1])
            v = v / np.minimum(k, n_rel)
        out[m] = v
    return qids, out


def mean_metric(qrels: Qrels, run: Run, metric: str) -> float:
    """Mean of one metric over the queries of ``qrels``."""
    return float(per_query_metrics(qrels, run, [metric])[1][metric].mean())


def exact_mrr(scores: np.ndarray, relevant: list[list[int]]) -> float:
    """MRR from a full ``(n_queries, n_docs)`` score matrix: the mean over queries with a relevant document of
    1 / rank of the best-ranked relevant one (``relevant[q]`` = column indices), ties counted in the query's
    favour. Equals ranx's MRR on the untruncated run when scores are distinct."""
    rr = []
    for q, rel in enumerate(relevant):
        if not rel:
            continue
        best = scores[q, rel].max()
        rr.append(1.0 / (1 + int((scores[q] > best).sum())))
    return float(np.mean(rr)) if rr else 0.0
