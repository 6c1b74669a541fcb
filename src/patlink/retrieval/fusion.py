"""Rank fusion of runs: reciprocal rank fusion and min-max-normalised convex combination.

``fuse([bm25_run, dense_run], method="convex", weights=[α, 1-α])`` is ranx's ``fuse(norm="min-max",
method="wsum")`` (Bassani, "ranx: A Blazing-Fast Python Library for Ranking Evaluation and Comparison");
``method="rrf"`` is reciprocal rank fusion (Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms
Condorcet and individual Rank Learning Methods", k = 60), ranx's ``fuse(norm=None, method="rrf")``. The convex
weight is tuned on a *validation* qrels with :func:`tune_convex_weight` (never on test); for three or more runs
:func:`tune_convex_weights` searches the weight simplex. :class:`patlink.methods.Fusion` fuses methods with them.

:func:`fuse` computes with numpy what ranx computes, step for step, so the two give the same run: the same
documents, the same scores (the same floating-point operations in the same order) and the same order of every
query's documents, ties included. :func:`fuse_ranx` is the ranx path, kept as the reference (the tests fuse real
runs both ways). What ranx does, and so what :func:`fuse` does, per query:

1. Each run's documents are sorted by descending score with numba's quicksort (``np.argsort`` of the negated
   scores, in the run's own order) — not a stable sort, so tied documents can change places.
2. ``convex``: min-max normalisation, ``(s - min) / max(max - min, 1e-9)`` (one document, or all scores equal:
   every score becomes 0). ``rrf``: the document at 0-based position ``i`` of step 1 scores ``1 / (k + i + 1)``.
3. Documents are gathered in order of appearance: the first run's (in the order of step 1), then the second run's
   new ones, and so on. Each scores ``0 + w_1·s_1 + w_2·s_2 + …`` summed left to right, ``s_i = 0`` where run ``i``
   lacks the document (``rrf``: every ``w_i = 1``).
4. The documents are sorted as in step 1; queries come in sorted order of their ids.

Where the ranx call refused, :func:`fuse` answers: a query that a run lacks (or holds empty) counts as empty in
that run, which is what ranx does with an empty query, and a query empty in every run comes back empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from patlink.retrieval.base import Qrels, Run

__all__ = ["convex_weight_curve", "fuse", "fuse_ranx", "pick_weight", "simplex_grid", "tune_convex_weight",
           "tune_convex_weights"]

#: Below this length numba's quicksort finishes a partition with an insertion sort.
_SMALL_QUICKSORT = 15


def _check(runs: Sequence[Run], method: str, weights: Sequence[float] | None) -> list[float]:
    """The weights a fusion uses (``rrf``: all 1); raises ``ValueError`` on bad arguments."""
    if method not in ("rrf", "convex"):
        raise ValueError(f"unknown fusion method {method!r}; use 'rrf' or 'convex'")
    if len(runs) < 2:
        raise ValueError(f"a fusion needs at least two runs, got {len(runs)}")
    if method == "rrf":
        return [1.0] * len(runs)
    w = list(weights) if weights is not None else [1.0 / len(runs)] * len(runs)
    if len(w) != len(runs):
        raise ValueError(f"{len(w)} weights for {len(runs)} runs")
    return w


# ---------------------------------------------------------------------------------------------------- sorting
def _quicksort_argsort(keys: list) -> list[int]:
    """Ascending argsort of ``keys`` exactly as numba's ``np.argsort`` (kind ``quicksort``, the sort ranx uses) does.

    numba's quicksort (``numba.misc.quicksort``): partitions around the median of the first, middle and last
    element, keeps the larger side on a stack, finishes partitions shorter than 15 with an insertion sort. It is
    not stable, so where keys tie the permutation depends on the whole array and on this exact sequence of swaps,
    reproduced here step for step. ``keys``: numbers without NaN (numba puts NaN last, all NaN equal: callers pass
    dense ranks, which compare as numba compares the floats).
    """
    n = len(keys)
    R = list(range(n))
    if n < 2:
        return R
    K = list(keys)                                # K[p] = keys[R[p]], swapped along with R
    stack = [(0, n - 1)]
    while stack:
        low, high = stack.pop()
        while high - low >= _SMALL_QUICKSORT:
            mid = (low + high) >> 1               # median of three, then partition around it
            if K[mid] < K[low]:
                R[low], R[mid] = R[mid], R[low]
                K[low], K[mid] = K[mid], K[low]
            if K[high] < K[mid]:
                R[high], R[mid] = R[mid], R[high]
                K[high], K[mid] = K[mid], K[high]
            if K[mid] < K[low]:
                R[low], R[mid] = R[mid], R[low]
                K[low], K[mid] = K[mid], K[low]
            pivot = K[mid]
            R[high], R[mid] = R[mid], R[high]
            K[high], K[mid] = K[mid], K[high]
            i, j = low, high - 1
            while True:
                while i < high and K[i] < pivot:
                    i += 1
                while j >= low and pivot < K[j]:
                    j -= 1
                if i >= j:
                    break
                R[i], R[j] = R[j], R[i]
                K[i], K[j] = K[j], K[i]
                i += 1
                j -= 1
            R[i], R[high] = R[high], R[i]
            K[i], K[high] = K[high], K[i]
            if high - i > i - low:                # push the larger side, go on with the smaller
                if high > i:
                    stack.append((i + 1, high))
                high = i - 1
            else:
                if i > low:
                    stack.append((low, i - 1))
                low = i + 1
        for k in range(low + 1, high + 1):       # insertion sort of positions low..high
            r, v = R[k], K[k]
            j = k
            while j > low and v < K[j - 1]:
                R[j] = R[j - 1]
                K[j] = K[j - 1]
                j -= 1
            R[j] = r
            K[j] = v
    return R


def _descending_order(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per segment ``scores[starts[s]:starts[s + 1]]``, ranx's descending order (step 1 of the module docstring),
    as indices into ``scores``.

    Where a segment's scores are distinct every correct sort gives the one order, so numpy's does; segments with a
    tie (``-0.0`` and ``0.0`` tie, as do NaNs) are sorted by :func:`_quicksort_argsort`.
    """
    keys = -scores
    lengths = np.diff(starts)
    seg = np.repeat(np.arange(len(lengths)), lengths)
    order = np.lexsort((keys, seg))
    sk = keys[order]
    tied = np.zeros(len(lengths), dtype=bool)
    if len(sk) > 1:
        tied[seg[1:][(sk[1:] == sk[:-1]) & (seg[1:] == seg[:-1])]] = True
    nan = np.isnan(keys)
    tied[seg[nan]] = True
    if tied.any():
        # dense ranks order as numba's float comparison: -0.0 = 0.0, every NaN equal and above all numbers
        ranks = np.unique(keys, return_inverse=True)[1].reshape(-1)
        for s in np.flatnonzero(tied):
            a, b = int(starts[s]), int(starts[s + 1])
            order[a:b] = a + np.asarray(_quicksort_argsort(ranks[a:b].tolist()), dtype=np.int64)
    return order


# ---------------------------------------------------------------------------------------------------- fusion
@dataclass
class _Prepared:
    """Runs brought to one table for fusing them with several weights: the per-query document union and each
    run's normalised score (or RRF score) of every document in it, 0 where the run lacks it."""

    queries: list[str]        # every query of any run, in order of first appearance
    present: list[str]        # sorted ids of the queries with at least one document in some run
    starts: np.ndarray        # (len(present) + 1,) offsets of each present query's documents in ``ids``
    ids: list[str]            # the document unions, query after query (step 3 order)
    parts: np.ndarray         # (n_runs, len(ids)) float64: run i's score of each document


def _prepare(runs: Sequence[Run], method: str, rrf_k: int) -> _Prepared:
    queries = list(dict.fromkeys(chain.from_iterable(runs)))
    present = sorted(q for q in queries if any(r.get(q) for r in runs))
    per_run = []
    for run in runs:
        docs = [run.get(q) or {} for q in present]
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        starts = np.concatenate(([0], np.cumsum(lengths)))
        ids = list(chain.from_iterable(docs))
        scores = np.array(list(chain.from_iterable(d.values() for d in docs)), dtype=np.float64)
        order = _descending_order(scores, starts)
        ids = [ids[j] for j in order.tolist()]
        scores = scores[order]
        if method == "convex":
            nz = lengths > 0
            seg = np.repeat(np.arange(len(lengths)), lengths)
            mn = np.zeros(len(lengths))
            mx = np.zeros(len(lengths))
            if nz.any():
                mn[nz] = np.fmin.reduceat(scores, starts[:-1][nz])      # NaN skipped, as by ranx
                mx[nz] = np.fmax.reduceat(scores, starts[:-1][nz])
            with np.errstate(invalid="ignore"):                 # inf scores give NaN, as in ranx
                den = np.maximum(mx - mn, 1e-9)
                vals = (scores - mn[seg]) / den[seg]
        else:
            rank = np.arange(len(ids)) - np.repeat(starts[:-1], lengths)
            vals = 1 / (rrf_k + rank + 1)
        per_run.append((starts, ids, vals))
    union: list[str] = []
    cols: list[list[int]] = [[] for _ in runs]
    ustarts = [0]
    for qi in range(len(present)):
        slices = [ids[starts[qi]:starts[qi + 1]] for starts, ids, _ in per_run]
        u = list(dict.fromkeys(chain.from_iterable(slices)))
        where = dict(zip(u, range(len(union), len(union) + len(u))))
        for c, sl in zip(cols, slices):
            c.extend(map(where.__getitem__, sl))
        union.extend(u)
        ustarts.append(len(union))
    parts = np.zeros((len(runs), len(union)))
    for i, (_, _, vals) in enumerate(per_run):
        parts[i, np.asarray(cols[i], dtype=np.int64)] = vals
    return _Prepared(queries, present, np.asarray(ustarts, dtype=np.int64), union, parts)


def _combine(p: _Prepared, weights: Sequence[float]) -> Run:
    """The fused run of prepared runs with ``weights`` (steps 3-4 of the module docstring)."""
    acc = np.zeros(len(p.ids))
    with np.errstate(invalid="ignore"):
        for w, part in zip(weights, p.parts):
            acc += w * part
    order = _descending_order(acc, p.starts)
    ids = [p.ids[j] for j in order.tolist()]
    vals = acc[order].tolist()
    st = p.starts.tolist()
    out: Run = {q: dict(zip(ids[st[i]:st[i + 1]], vals[st[i]:st[i + 1]])) for i, q in enumerate(p.present)}
    for q in p.queries:
        out.setdefault(q, {})
    return out


def fuse(runs: Sequence[Run], method: str = "rrf", weights: Sequence[float] | None = None, rrf_k: int = 60) -> Run:
    """Fuse several runs over the same queries (numpy; the same run as ranx, see the module docstring).

    Args:
        runs: two or more runs (query id → {doc id: score}).
        method: ``rrf`` or ``convex`` (min-max normalisation per query, then weighted sum).
        weights: one weight per run for ``convex`` (default equal weights); ignored by ``rrf``.
        rrf_k: the RRF constant.

    Returns:
        The fused run, each query's documents in descending score (ties in ranx's order); every query of any input
        run is present (empty when no run has a document for it).

    Raises:
        ValueError: on an unknown method, fewer than two runs or a weights/runs length mismatch.
    """
    w = _check(runs, method, weights)
    return _combine(_prepare(runs, method, rrf_k), w)


def fuse_ranx(runs: Sequence[Run], method: str = "rrf", weights: Sequence[float] | None = None,
              rrf_k: int = 60) -> Run:
    """:func:`fuse` computed by ranx (``ranx.fuse``), the reference :func:`fuse` is tested against; slow (numba
    typed dictionaries: converting the fused run back to Python dominates).

    ranx needs the same queries in every run and at least one document per run: a query that a run lacks is
    given to it empty, and a placeholder query (one document in each run, dropped from the result) lets a run whose
    queries are all empty through. Same arguments, result and errors as :func:`fuse`.
    """
    from ranx import Run as RxRun
    from ranx import fuse as rx_fuse

    w = _check(runs, method, weights)
    queries = list(dict.fromkeys(chain.from_iterable(runs)))
    present = [q for q in queries if any(r.get(q) for r in runs)]
    out: Run = {}
    if present:
        dummy = "\x7fpatlink-placeholder"
        while dummy in queries:
            dummy += "\x7f"
        rx = []
        for i, r in enumerate(runs):
            d = {q: dict(r.get(q) or {}) for q in present}
            d[dummy] = {"placeholder": 0.0}
            rx.append(RxRun(d, name=f"run{i}"))
        if method == "rrf":
            fused = rx_fuse(rx, norm=None, method="rrf", params={"k": rrf_k})
        else:
            fused = rx_fuse(rx, norm="min-max", method="wsum", params={"weights": w})
        out = {q: dict(d) for q, d in fused.to_dict().items() if q != dummy}
    for q in queries:
        out.setdefault(q, {})
    return out


# ---------------------------------------------------------------------------------------------------- tuning
def convex_weight_curve(run_a: Run, run_b: Run, qrels: Qrels, metric: str = "mrr",
                        grid: Sequence[float] = tuple(i / 10 for i in range(11))) -> list[float]:
    """Mean ``metric`` of the convex fusion ``α·run_a + (1-α)·run_b`` (min-max normalised) for each α of ``grid``."""
    from patlink.retrieval.measures import mean_metric

    p = _prepare([run_a, run_b], "convex", 60)
    return [mean_metric(qrels, _combine(p, [a, 1 - a]), metric) for a in grid]


def pick_weight(grid: Sequence[float], scores: Sequence[float]) -> float:
    """The grid value with the highest score; ties (within 1e-12) go to the value closest to 0.5."""
    best, best_score = 0.5, float("-inf")
    for a, s in sorted(zip(grid, scores), key=lambda x: abs(x[0] - 0.5)):
        if s > best_score + 1e-12:
            best, best_score = a, s
    return float(best)


def tune_convex_weight(run_a: Run, run_b: Run, qrels: Qrels, metric: str = "mrr",
                       grid: Sequence[float] = tuple(i / 10 for i in range(11))) -> float:
    """Weight α of ``run_a`` (1-α for ``run_b``) maximising ``metric`` on a validation ``qrels``.

    Ties go to the α closest to 0.5. Returns α in [0, 1].
    """
    return pick_weight(grid, convex_weight_curve(run_a, run_b, qrels, metric, grid))


def simplex_grid(n: int, step: float = 0.1) -> list[tuple[float, ...]]:
    """Every weight vector of ``n`` non-negative multiples of ``step`` that sum to 1 (``n = 3, step = 0.1``: 66).

    Raises:
        ValueError: ``n < 1`` or ``1/step`` not a whole number.
    """
    from itertools import combinations

    m = round(1 / step)
    if n < 1 or m < 1 or abs(m * step - 1) > 1e-9:
        raise ValueError(f"need n >= 1 and a step dividing 1, got n={n}, step={step}")
    out = []
    for bars in combinations(range(m + n - 1), n - 1):    # stars and bars
        cuts = (-1, *bars, m + n - 1)
        out.append(tuple(round((cuts[i + 1] - cuts[i] - 1) / m, 10) for i in range(n)))
    return out


def tune_convex_weights(runs: Sequence[Run], qrels: Qrels, metric: str = "mrr",
                        step: float = 0.1) -> tuple[list[float], dict[tuple[float, ...], float]]:
    """Weights of a min-max convex fusion of ``runs`` maximising ``metric`` on a *validation* ``qrels``.

    Exhaustive search of :func:`simplex_grid` (``len(runs)`` runs, ``step``); ties go to the weights closest to
    uniform (Euclidean). With two runs and the same grid this equals :func:`tune_convex_weight`.

    Returns:
        ``(weights, curve)``: the best weights (one per run, summing to 1) and the metric of every grid point.
    """
    from patlink.retrieval.measures import mean_metric

    grid = simplex_grid(len(runs), step)
    _check(runs, "convex", grid[0])
    p = _prepare(runs, "convex", 60)
    curve = {w: mean_metric(qrels, _combine(p, list(w)), metric) for w in grid}
    uniform = 1.0 / len(runs)
    best = max(grid, key=lambda w: (round(curve[w], 12), -round(sum((x - uniform) ** 2 for x in w), 12)))
    return [float(x) for x in best], curve
