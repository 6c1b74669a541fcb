"""Typed results of an evaluation: one :class:`EvaluationResult` per call of :func:`patlink.evaluate` or
:func:`patlink.cross_validate`, holding one :class:`DirectionResult` per method and direction.

The result is what a ranx report or an MTEB result is to those libraries: metrics with their bootstrap CIs, the
runs and qrels behind them (so paired tests and TREC files can be produced), and what was tuned.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DirectionResult", "EvaluationResult"]

DIRECTION_NAMES = {"item2patent": "item → patent", "patent2item": "patent → item"}


@dataclass(frozen=True)
class DirectionResult:
    """One method evaluated in one direction.

    Attributes:
        method: the method's label (its name with what was tuned, e.g. ``hybrid[convex(α=0.40)]``).
        direction: ``item2patent`` or ``patent2item``.
        metrics: metric name → mean over queries (``mrr``, ``map``, ``ndcg@10``, ``recall@k``, ``p@k``,
            ``rcap@k``, ``roc_auc``, ``pr_auc``, ``n_queries``), with ``ci95`` → {metric: (low, high)}
            (percentile bootstrap over queries) and ``per_query`` → {metric: [values]}.
        run: query id → {document id: score} (ranx/TREC run).
        qrels: query id → {relevant document id: 1}.
        pool: sizes of the evaluated pool (queries, documents, empty texts, protocol facts).
        alpha: the first part's convex weight of a two-part fusion, else ``None``.
        weights: the convex weights of a fusion of three or more parts, else ``None``.
        params: what the method tuned, ``{part: {param: value}}``.
        folds: per-fold summaries under cross-validation (``mrr``, ``n_queries``, …), else ``None``.
    """

    method: str
    direction: str
    metrics: dict
    run: dict
    qrels: dict
    pool: dict
    alpha: float | list | None = None
    weights: list | None = None
    params: dict = field(default_factory=dict)
    folds: list | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, direction: str, d: dict) -> DirectionResult:
        return cls(method=d.get("method", ""), direction=direction, metrics=d["metrics"], run=d.get("run", {}),
                   qrels=d.get("qrels", {}), pool=d.get("pool", {}), alpha=d.get("alpha"), weights=d.get("weights"),
                   params=d.get("params") or {}, folds=d.get("folds"), raw=d)

    def __getitem__(self, metric: str) -> float:
        """The mean of ``metric`` (``result["mrr"]``). Raises ``KeyError`` for a metric not computed."""
        return float(self.metrics[metric])

    def ci(self, metric: str) -> tuple[float, float]:
        """The 95% bootstrap CI of ``metric`` (``(nan, nan)`` without bootstrap)."""
        lo, hi = (self.metrics.get("ci95") or {}).get(metric, (float("nan"), float("nan")))
        return float(lo), float(hi)

    @property
    def n_queries(self) -> int:
        return int(self.metrics.get("n_queries", len(self.qrels)))


class EvaluationResult(Mapping):
    """Methods × directions of one evaluation. ``result["bm25"]["item2patent"]["mrr"]`` is BM25's MRR.

    A read-only mapping from the method names given to the evaluation to ``{direction: DirectionResult}``.
    ``context`` records what was evaluated (dataset, views, split, protocol, pool, seed, folds).
    """

    def __init__(self, results: dict[str, dict[str, dict]], context: dict | None = None, cv: dict | None = None):
        self._raw = results
        self._typed = {m: {d: DirectionResult.from_dict(d, r) for d, r in per.items()} for m, per in results.items()}
        self.context = dict(context or {})
        self.cv = cv

    def __getitem__(self, method: str) -> dict[str, DirectionResult]:
        return self._typed[method]

    def __iter__(self) -> Iterator[str]:
        return iter(self._typed)

    def __len__(self) -> int:
        return len(self._typed)

    @property
    def methods(self) -> list[str]:
        return list(self._typed)

    @property
    def directions(self) -> list[str]:
        return [d for d in DIRECTION_NAMES if any(d in per for per in self._typed.values())]

    def metric(self, method: str, direction: str, name: str = "mrr") -> float:
        """Mean ``name`` of ``method`` in ``direction``."""
        return self._typed[method][direction][name]

    def to_frame(self, metrics=("mrr", "map", "ndcg@10", "recall@10", "recall@100", "rcap@10", "roc_auc", "pr_auc")):
        """A pandas DataFrame: one row per (method, direction), a column per metric plus ``{metric}_low`` /
        ``{metric}_high`` (95% CI) and ``n_queries``."""
        import pandas as pd

        rows = []
        for m, per in self._typed.items():
            for d, r in per.items():
                row = {"method": m, "direction": d, "n_queries": r.n_queries}
                for k in metrics:
                    if k in r.metrics:
                        row[k] = float(r.metrics[k])
                        lo, hi = r.ci(k)
                        row[f"{k}_low"], row[f"{k}_high"] = lo, hi
                rows.append(row)
        return pd.DataFrame(rows)

    def summary(self, metric: str = "mrr") -> str:
        """A plain-text table of ``metric`` with its 95% CI per method and direction."""
        heads = [DIRECTION_NAMES[d] for d in self.directions]
        width = max([len("method")] + [len(m) for m in self.methods])
        lines = [f"{'method':<{width}}  " + "  ".join(f"{h + ' ' + metric.upper():<26}" for h in heads)]
        for m, per in self._typed.items():
            cells = []
            for d in self.directions:
                r = per.get(d)
                if r is None:
                    cells.append(f"{'–':<26}")
                    continue
                lo, hi = r.ci(metric)
                ci = "" if math.isnan(lo) else f" [{lo:.3f}, {hi:.3f}]"
                cells.append(f"{r[metric]:.3f}{ci:<20}")
            lines.append(f"{m:<{width}}  " + "  ".join(cells))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The plain nested form ``{method: {direction: {...}}}`` read by the report writer and ``patlink compare``."""
        return self._raw

    def write(self, out_dir: str | Path, title: str | None = None) -> dict:
        """Write ``metrics.json``, ``report.md``, TREC runs and qrels, and ROC/PR/@k plots under ``out_dir``
        (:func:`patlink.evaluation.report.write_report`). Returns the written paths."""
        from patlink.evaluation.report import write_report

        t = title or f"patlink eval — {self.context.get('dataset', '')}"
        return write_report(self._raw, out_dir, t, self.context, cv=self.cv)

    def __repr__(self) -> str:
        return f"<EvaluationResult {self.methods} × {self.directions}>"
