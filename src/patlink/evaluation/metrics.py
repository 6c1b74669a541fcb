"""Ranking metrics with ranx, capped recall, pair-level ROC/PR AUC, bootstrap CIs and paired tests.

Metric names (field standard):

* ``mrr`` — mean reciprocal rank of the first relevant document.
* ``map`` — mean average precision (AP divided by *all* relevant documents of the query, so it is exact only
  when the run ranks the whole corpus; patlink runs do, up to ``depth``).
* ``ndcg@10`` — binary-relevance nDCG at 10.
* ``p@k`` — true precision at k: relevant in top k / k.
* ``recall@k`` — relevant in top k / |relevant|.
* ``rcap@k`` — *capped recall*: relevant in top k / min(k, |relevant|). This is what El Bouari & de
  Rassenfosse, "Product-Patent linkage prediction" (evaluation section) and its repository call "Precision@k";
  it is 1.0 when the top k are all relevant *or* all relevant documents are in the top k. patlink reports it
  under its own name, next to the true ``p@k``.
* ``roc_auc`` / ``pr_auc`` — over every (query, candidate) pair of the evaluation pool (scikit-learn
  ``roc_auc_score`` and ``average_precision_score``); documents a run does not return are tied below all others.

Confidence intervals: percentile bootstrap over queries (``n_bootstrap`` resamples, seeded). Paired tests:
ranx ``compare`` (two-sided paired Student's t-test by default, Fisher's randomisation test optional).
"""

from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import numpy as np

from patlink.retrieval.base import Qrels, Run
from patlink.retrieval.measures import _prepare, _ranx_name, mean_metric, per_query_metrics

__all__ = [
    "per_query_metrics", "pair_matrix", "evaluate_run", "mean_metric", "bootstrap_ci", "pair_auc", "compare_runs",
    "HEADLINE_METRICS",
]

#: Metrics printed in tables, in order.
HEADLINE_METRICS = ("mrr", "map", "ndcg@10", "recall@10", "recall@100", "rcap@10", "p@10")

def bootstrap_ci(values: np.ndarray, n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (resampling queries with replacement)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(n_bootstrap)
    for s in range(0, n_bootstrap, 100):  # chunks keep memory at 100 × n
        b = min(100, n_bootstrap - s)
        means[s:s + b] = values[rng.integers(0, len(values), (b, len(values)))].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def pair_matrix(qrels: Qrels, run: Run, doc_ids: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``(labels, scores)`` matrices of shape ``(n_queries, n_docs)`` over the pool.

    Queries are those of ``qrels`` with a relevant document; pairs missing from ``run`` get a score one below
    the lowest returned score (tied). ``labels`` is int8 (1 = relevant), ``scores`` float64.
    """
    docs = list(dict.fromkeys(doc_ids))
    col = {d: j for j, d in enumerate(docs)}
    qids = [q for q in qrels if any(r > 0 for r in qrels[q].values())]
    if not qids or not docs:
        raise ValueError("pair metrics need at least one query with a relevant document and a non-empty pool")
    floor = min((s for q in qids for s in run.get(q, {}).values()), default=0.0) - 1.0
    scores = np.full((len(qids), len(docs)), floor, dtype=np.float64)
    labels = np.zeros((len(qids), len(docs)), dtype=np.int8)
    for i, q in enumerate(qids):
        for d, s in run.get(q, {}).items():
            j = col.get(d)
            if j is not None:
                scores[i, j] = s
        for d, r in qrels[q].items():
            if r > 0 and d in col:
                labels[i, col[d]] = 1
    return labels, scores


def _auc_counts(labels: np.ndarray, scores: np.ndarray):
    """Per-(positive pair, query) counts ``(pos_q, C, A, P, n_neg)`` of :func:`_query_bootstrap_auc`."""
    pos_q, pos_d = np.nonzero(labels)
    s_pos = scores[pos_q, pos_d]
    n_q = labels.shape[0]
    C = np.empty((len(s_pos), n_q))
    A = np.empty_like(C)
    P = np.empty_like(C)
    n_neg = np.empty(n_q)
    for q in range(n_q):
        lab = labels[q].astype(bool)
        neg, pos, allv = np.sort(scores[q, ~lab]), np.sort(scores[q, lab]), np.sort(scores[q])
        lo, hi = np.searchsorted(neg, s_pos, "left"), np.searchsorted(neg, s_pos, "right")
        C[:, q] = lo + 0.5 * (hi - lo)
        A[:, q] = len(allv) - np.searchsorted(allv, s_pos, "left")
        P[:, q] = len(pos) - np.searchsorted(pos, s_pos, "left")
        n_neg[q] = len(neg)
    return pos_q, C, A, P, n_neg


def _weighted_auc_ap(counts, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC and AP for each row of query weights ``W`` ``(B, n_queries)``; rows without both classes dropped."""
    pos_q, C, A, P, n_neg = counts
    wpos = W[:, pos_q]
    denom_roc = wpos.sum(1) * (W @ n_neg)
    ok = denom_roc > 0
    roc = (wpos * (W @ C.T)).sum(1)[ok] / denom_roc[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(wpos > 0, (W @ P.T) / np.maximum(W @ A.T, 1e-12), 0.0)
    ap = (wpos * prec).sum(1)[ok] / wpos.sum(1)[ok]
    return roc, ap


def _query_bootstrap_auc(labels: np.ndarray, scores: np.ndarray, n_bootstrap: int, seed: int,
                         level: float = 0.95) -> dict[str, list[float]]:
    """Exact ROC-AUC and average-precision bootstrap over *queries*, vectorised.

    Resampling queries with replacement gives each query an integer weight; ROC-AUC and AP of the weighted pair
    set are linear in per-(positive pair, query) counts computed once:

    * ``C[i, q]``: negatives of query ``q`` scored below positive ``i`` (ties count ½) → weighted Mann–Whitney AUC;
    * ``A[i, q]`` / ``P[i, q]``: pairs / positives of ``q`` scored ≥ positive ``i`` → weighted precision at ``i``.

    So each resample costs two matrix products instead of a sort of every pair (``n_pos × n_queries`` memory).
    """
    counts = _auc_counts(labels, scores)
    n_q = labels.shape[0]
    rng = np.random.default_rng(seed)
    roc, ap = [], []
    for s in range(0, n_bootstrap, 50):
        W = rng.multinomial(n_q, np.full(n_q, 1.0 / n_q), size=min(50, n_bootstrap - s)).astype(np.float64)
        r, a = _weighted_auc_ap(counts, W)
        roc.append(r)
        ap.append(a)
    roc_a, ap_a = np.concatenate(roc), np.concatenate(ap)
    a = (1 - level) / 2
    return {"roc_auc": [float(np.quantile(roc_a, a)), float(np.quantile(roc_a, 1 - a))],
            "pr_auc": [float(np.quantile(ap_a, a)), float(np.quantile(ap_a, 1 - a))]}


def pair_auc(qrels: Qrels, run: Run, doc_ids: Iterable[str], n_bootstrap: int = 0, seed: int = 0,
             level: float = 0.95) -> dict:
    """ROC-AUC and PR-AUC (average precision) over every (query, document) pair of the pool.

    Args:
        qrels: relevance of the pool; queries without relevant documents are skipped.
        run: scores; pairs missing from the run get a score below every returned document (ties among them).
        doc_ids: the candidate pool (every document a query could be linked to).
        n_bootstrap: if > 0, percentile bootstrap CIs over queries (exact, see :func:`_query_bootstrap_auc`).

    Returns:
        ``{"roc_auc", "pr_auc", "n_pairs", "n_positive_pairs"}`` and, with bootstrap, ``"ci95"`` for both.

    Raises:
        ValueError: if the pool has no positive or no negative pair.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels, scores = pair_matrix(qrels, run, doc_ids)
    y, s = labels.ravel(), scores.ravel()
    if y.min() == y.max():
        raise ValueError("pair_auc needs both positive and negative pairs in the pool")
    out = {"roc_auc": float(roc_auc_score(y, s)), "pr_auc": float(average_precision_score(y, s)),
           "n_pairs": int(y.size), "n_positive_pairs": int(y.sum())}
    if n_bootstrap:
        out["ci95"] = _query_bootstrap_auc(labels, scores, n_bootstrap, seed, level)
    return out


def evaluate_run(
    qrels: Qrels,
    run: Run,
    cutoffs: Sequence[int] = (1, 5, 10, 20, 100),
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    doc_ids: Iterable[str] | None = None,
    auc_bootstrap: int = 1000,
) -> dict:
    """Evaluate a run: MRR, MAP, nDCG@10, P@k, Recall@k, R_cap@k, and pair AUCs when ``doc_ids`` is given.

    Args:
        qrels: query id → {relevant doc id: grade}.
        run: query id → {doc id: score}.
        cutoffs: k values for ``p@k``, ``recall@k``, ``rcap@k``.
        n_bootstrap: resamples for the ``ci95`` of each ranking metric (0 disables).
        doc_ids: the candidate pool; enables ``roc_auc`` and ``pr_auc``.
        auc_bootstrap: resamples for the AUC CIs (they are costlier).

    Returns:
        ``{"n_queries", "mrr", "map", "ndcg@10", "p@k"..., "recall@k"..., "rcap@k"..., ["roc_auc", "pr_auc"],
        "ci95": {metric: [lo, hi]}}``.
    """
    metrics = ["mrr", "map", "ndcg@10"]
    for k in cutoffs:
        metrics += [f"p@{k}", f"recall@{k}", f"rcap@{k}"]
    qids, vals = per_query_metrics(qrels, run, metrics)
    out: dict = {"n_queries": len(qids)}
    ci: dict[str, list[float]] = {}
    for i, m in enumerate(metrics):
        out[m] = float(vals[m].mean())
        if n_bootstrap:
            ci[m] = list(bootstrap_ci(vals[m], n_bootstrap, seed + i, level))
    if doc_ids is not None:
        auc = pair_auc(qrels, run, doc_ids, n_bootstrap=auc_bootstrap if n_bootstrap else 0, seed=seed)
        out["roc_auc"], out["pr_auc"] = auc["roc_auc"], auc["pr_auc"]
        out["n_pairs"] = auc["n_pairs"]
        ci.update(auc.get("ci95", {}))
    out["ci95"] = ci
    return out


def compare_runs(qrels: Qrels, runs: dict[str, Run], metrics: Sequence[str] = ("mrr", "map", "ndcg@10"),
                 stat_test: str = "student", max_p: float = 0.05) -> dict:
    """Paired significance tests between runs (ranx ``compare``).

    Returns:
        ``{"metrics": [...], "stat_test", "scores": {run: {metric: mean}}, "pvalues": {run_a: {run_b: {metric:
        p}}}, "significant": {run_a: {run_b: {metric: bool}}}}`` where ``significant`` means p < ``max_p``
        (two-sided).
    """
    from ranx import compare

    names = list(runs)
    if len(names) < 2:
        raise ValueError("compare_runs needs at least two runs")
    rx_runs = []
    for name in names:
        rx_q, rx_r, _ = _prepare(qrels, runs[name])
        rx_r.name = name
        rx_runs.append(rx_r)
    rm = [_ranx_name(m) for m in metrics]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = compare(rx_q, rx_runs, metrics=rm, stat_test=stat_test, max_p=max_p, make_comparable=True)
    d = report.to_dict()
    back = dict(zip(rm, metrics))
    scores = {n: {back[m]: float(d[n]["scores"][m]) for m in rm} for n in names}
    pvalues = {n: {o: {back[m]: float(d[n]["comparisons"][o][m]) for m in rm} for o in names if o != n}
               for n in names}
    return {
        "metrics": list(metrics),
        "stat_test": stat_test,
        "scores": scores,
        "pvalues": pvalues,
        "significant": {n: {o: {m: p < max_p for m, p in v.items()} for o, v in pv.items()}
                        for n, pv in pvalues.items()},
    }
