"""Rank fusion of runs with ``ranx``: reciprocal rank fusion and min-max-normalised convex combination.

``fuse([bm25_run, dense_run], method="convex", weights=[α, 1-α])`` is ranx's ``wsum`` over min-max-normalised
scores; ``method="rrf"`` is reciprocal rank fusion (Cormack et al. 2009, k=60). The convex weight is tuned on a
*validation* qrels with :func:`tune_convex_weight` (never on test); for three or more runs
:func:`tune_convex_weights` searches the weight simplex. :class:`patlink.methods.Fusion` fuses methods with them.
"""

from __future__ import annotations

from collections.abc import Sequence

from patlink.retrieval.base import Qrels, Run

__all__ = ["convex_weight_curve", "fuse", "pick_weight", "simplex_grid", "tune_convex_weight", "tune_convex_weights"]


def _to_ranx(run: Run, name: str):
    from ranx import Run as RxRun

    # ranx rejects empty queries: keep them out of fusion and add them back (empty) afterwards.
    return RxRun({q: d for q, d in run.items() if d}, name=name)


def fuse(runs: Sequence[Run], method: str = "rrf", weights: Sequence[float] | None = None, rrf_k: int = 60) -> Run:
    """Fuse several runs over the same queries.

    Args:
        runs: ranx-style runs (query id → {doc id: score}).
        method: ``rrf`` or ``convex`` (min-max normalisation per query, then weighted sum).
        weights: one weight per run for ``convex`` (default equal weights).
        rrf_k: the RRF constant.

    Returns:
        The fused run; every query of any input run is present (possibly empty).

    Raises:
        ValueError: on an unknown method or a weights/runs length mismatch.
    """
    from ranx import fuse as rx_fuse

    if method not in ("rrf", "convex"):
        raise ValueError(f"unknown fusion method {method!r}; use 'rrf' or 'convex'")
    queries = {q for r in runs for q in r}
    rx = [_to_ranx(r, f"run{i}") for i, r in enumerate(runs)]
    if method == "rrf":
        fused = rx_fuse(rx, norm=None, method="rrf", params={"k": rrf_k})
    else:
        w = list(weights) if weights is not None else [1.0 / len(runs)] * len(runs)
        if len(w) != len(runs):
            raise ValueError(f"{len(w)} weights for {len(runs)} runs")
        fused = rx_fuse(rx, norm="min-max", method="wsum", params={"weights": w})
    out: Run = {q: dict(d) for q, d in fused.to_dict().items()}
    for q in queries:
        out.setdefault(q, {})
    return out


def convex_weight_curve(run_a: Run, run_b: Run, qrels: Qrels, metric: str = "mrr",
                        grid: Sequence[float] = tuple(i / 10 for i in range(11))) -> list[float]:
    """Mean ``metric`` of the convex fusion ``α·run_a + (1-α)·run_b`` (min-max normalised) for each α of ``grid``."""
    from patlink.retrieval.measures import mean_metric

    return [mean_metric(qrels, fuse([run_a, run_b], "convex", [a, 1 - a]), metric) for a in grid]


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
    curve = {w: mean_metric(qrels, fuse(runs, "convex", list(w)), metric) for w in grid}
    uniform = 1.0 / len(runs)
    best = max(grid, key=lambda w: (round(curve[w], 12), -round(sum((x - uniform) ** 2 for x in w), 12)))
    return [float(x) for x in best], curve
