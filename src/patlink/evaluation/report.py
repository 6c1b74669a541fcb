"""Evaluation reports: ``metrics.json``, a Markdown report, TREC run files and PNG plots.

Input is a *results* mapping ``{method: {direction: result}}`` where each result is what
:func:`patlink.evaluation.linkage.evaluate_linkage` returns for one direction (``metrics``, ``run``, ``qrels``,
``pool``). Plots: ROC and precision–recall curves over all (query, candidate) pairs of the pool, and P@k /
R_cap@k / Recall@k against k.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


from patlink.evaluation.metrics import compare_runs, pair_matrix
from patlink.io import atomic_write_text

__all__ = ["metrics_table_rows", "write_report", "atomic_write_text", "TABLE_METRICS", "format_metric", "run_file_stem",
           "trec_id", "untrec_id"]

TABLE_METRICS = ("mrr", "map", "ndcg@10", "recall@10", "recall@100", "rcap@10", "p@10", "roc_auc", "pr_auc")
DIRECTION_TITLES = {"item2patent": "item → patent", "patent2item": "patent → item"}


def format_metric(metrics: dict, name: str, ci: bool = True) -> str:
    """``0.912 [0.884, 0.937]`` (or ``–`` if absent)."""
    if name not in metrics:
        return "–"
    v = f"{metrics[name]:.3f}"
    lo_hi = metrics.get("ci95", {}).get(name)
    return f"{v} [{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]" if ci and lo_hi else v


def format_compact(metrics: dict, name: str) -> str:
    """``0.912 ±0.027`` (half-width of the 95% CI) for narrow terminal tables."""
    if name not in metrics:
        return "–"
    lo_hi = metrics.get("ci95", {}).get(name)
    return f"{metrics[name]:.3f} ±{(lo_hi[1] - lo_hi[0]) / 2:.3f}" if lo_hi else f"{metrics[name]:.3f}"


def metrics_table_rows(results: dict, direction: str, metrics=TABLE_METRICS, ci: bool = True,
                       compact: bool = False) -> list[list[str]]:
    """Rows ``[method, metric...]`` for one direction, in the order of ``results``."""
    rows = []
    for method, per_dir in results.items():
        if direction in per_dir:
            m_ = per_dir[direction]["metrics"]
            rows.append([method] + [format_compact(m_, m) if compact else format_metric(m_, m, ci) for m in metrics])
    return rows


def run_file_stem(method: str) -> str:
    """File-name stem of a method's TREC run under ``--out DIR/runs/`` (``runs/cv+bm25`` → ``runs_cv_bm25``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in method)


def trec_id(x: str) -> str:
    """A query/document id as one TREC field: ``%`` and whitespace percent-encoded (``"100 FW Series"`` →
    ``"100%20FW%20Series"``), every other id unchanged. Product names are ids in VPM data, and TREC files are
    whitespace-separated. Inverse: :func:`untrec_id`.

    Raises:
        ValueError: for an empty id (it would leave an empty field).
    """
    if not x:
        raise ValueError("an empty id cannot be written to a TREC file")
    if "%" not in x and not any(c.isspace() for c in x):
        return x
    return "".join("".join(f"%{b:02X}" for b in c.encode("utf-8")) if c == "%" or c.isspace() else c for c in x)


def untrec_id(field: str) -> str:
    """Inverse of :func:`trec_id` (percent-decoding; a field without ``%`` is returned as is)."""
    if "%" not in field:
        return field
    from urllib.parse import unquote

    return unquote(field, errors="strict")


def _write_trec(path: Path, run: dict, name: str) -> None:
    lines = []
    for q, docs in run.items():
        qf = trec_id(q)
        for rank, (d, s) in enumerate(sorted(docs.items(), key=lambda kv: -kv[1]), 1):
            # repr: the shortest text that reads back as the same float (6 decimals made ties of scores that
            # differ by a tie-breaker, e.g. knn's 1e-6 degree term, and `patlink compare` then re-ranked them)
            lines.append(f"{qf} Q0 {trec_id(d)} {rank} {float(s)!r} {name}\n")
    atomic_write_text(path, "".join(lines))


def _plots(results: dict, direction: str, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ci, (method, per_dir) in enumerate(results.items()):
        if direction not in per_dir:
            continue
        color = f"C{ci % 10}"
        r = per_dir[direction]
        docs = r.get("doc_ids") or sorted({d for q in r["qrels"].values() for d in q} |
                                          {d for q in r["run"].values() for d in q})
        y, s = pair_matrix(r["qrels"], r["run"], docs)
        fpr, tpr, _ = roc_curve(y.ravel(), s.ravel())
        prec, rec, _ = precision_recall_curve(y.ravel(), s.ravel())
        m = r["metrics"]
        axes[0].plot(fpr, tpr, color=color, label=f"{method} (AUC {m.get('roc_auc', float('nan')):.3f})")
        axes[1].plot(rec, prec, color=color, label=f"{method} (AP {m.get('pr_auc', float('nan')):.3f})")
        ks = sorted(int(k.split("@")[1]) for k in m if k.startswith("rcap@"))
        axes[2].plot(ks, [m[f"rcap@{k}"] for k in ks], marker="o", color=color, label=f"{method} R_cap@k")
        axes[2].plot(ks, [m[f"p@{k}"] for k in ks], marker="x", linestyle="--", color=color,
                     label=f"{method} P@k")
    axes[0].plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    axes[0].set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (all pairs of the pool)")
    axes[1].set(xlabel="recall", ylabel="precision", title="Precision–recall (all pairs)")
    axes[2].set(xscale="log", xlabel="k", ylabel="value", title="R_cap@k (upstream 'P@k') and true P@k")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(DIRECTION_TITLES.get(direction, direction))
    fig.tight_layout()
    p = out / f"curves_{direction}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths


def _cv_facts(results: dict, context: dict) -> dict | None:
    """Cross-validation facts of pooled results (``patlink eval --folds K``): K, the partition seed, the fold that
    tested each query and the fold sizes in links, so that reports of several partitions can be combined
    (:mod:`patlink.evaluation.repeated`). ``None`` for a single split."""
    per = next((per for per in results.values() if any(r.get("query_fold") for r in per.values())), None)
    if per is None:
        return None
    qf = {d: r["query_fold"] for d, r in per.items() if r.get("query_fold")}
    first = next(r for r in per.values() if r.get("query_fold"))
    sizes = [{k: f[f"n_{k}"] for k in ("train", "val", "test") if f"n_{k}" in f} for f in first.get("folds", [])]
    return {"folds": len(first.get("folds", [])), "seed": context.get("seed"), "query_fold": qf,
            "fold_sizes": sizes if all(sizes) else []}


def write_report(results: dict, out_dir: str | os.PathLike, title: str, context: dict | None = None,
                 compare: bool = True, plots: bool = True, save_runs: bool = True, cv: dict | None = None) -> dict:
    """Write ``metrics.json``, ``report.md``, ``runs/*.trec`` and ``curves_*.png`` into ``out_dir``.

    ``cv`` (stored as ``metrics.json["cv"]``): which fold tested each query, fold sizes and seed, for
    ``patlink compare``; derived from pooled cross-validation results when not given.

    Returns:
        ``{"metrics": {method: {direction: metrics}}, "comparisons": {...}, "report": path, "plots": [...]}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    directions = sorted({d for per in results.values() for d in per},
                        key=lambda d: list(DIRECTION_TITLES).index(d) if d in DIRECTION_TITLES else 9)
    comparisons = {}
    if compare and len(results) > 1:
        for d in directions:
            runs = {m: per[d]["run"] for m, per in results.items() if d in per}
            qrels = next(per[d]["qrels"] for per in results.values() if d in per)
            comparisons[d] = compare_runs(qrels, runs)
    metrics = {m: {d: r["metrics"] for d, r in per.items()} for m, per in results.items()}
    resolved = {m: {d: {k: r[k] for k in ("method", "alpha", "weights", "params") if r.get(k) is not None}
                    for d, r in per.items()} for m, per in results.items()}
    payload = {"title": title, "context": context or {}, "methods": resolved, "metrics": metrics,
               "comparisons": comparisons,
               "pools": {m: {d: r["pool"] for d, r in per.items()} for m, per in results.items()}}
    cv = cv or _cv_facts(results, context or {})
    if cv:
        payload["cv"] = cv
    atomic_write_text(out / "metrics.json", json.dumps(payload, indent=2, default=float))
    if save_runs:
        for m, per in results.items():
            for d, r in per.items():
                safe = run_file_stem(m)
                _write_trec(out / "runs" / f"{safe}.{d}.trec", r["run"], safe)
        for d in directions:  # the judgements the runs were scored against (`patlink compare` reads them back)
            qrels = next(per[d]["qrels"] for per in results.values() if d in per)
            atomic_write_text(out / "runs" / f"qrels.{d}.trec",
                              "".join(f"{trec_id(q)} 0 {trec_id(doc)} {int(rel)}\n" for q, docs in qrels.items()
                                      for doc, rel in docs.items()))
    plot_paths: list[Path] = []
    if plots:
        for d in directions:
            plot_paths += _plots(results, d, out)
    lines = [f"# {title}", ""]
    for k, v in (context or {}).items():
        lines.append(f"- **{k}**: {v}")
    lines += ["", "Metrics with bootstrap 95% confidence intervals over queries. `rcap@k` is capped recall "
              "(hits@k / min(k, |relevant|)), what the upstream paper calls \"Precision@k\"; `p@k` is true "
              "precision. ROC-AUC and PR-AUC are over every (query, candidate) pair of the pool.", ""]
    for d in directions:
        lines += [f"## {DIRECTION_TITLES.get(d, d)}", ""]
        lines.append("| method | " + " | ".join(TABLE_METRICS) + " |")
        lines.append("|---" * (len(TABLE_METRICS) + 1) + "|")
        for row in metrics_table_rows(results, d):
            lines.append("| " + " | ".join(row) + " |")
        tuned = [f"{m} = {per[d]['method']}" for m, per in results.items()
                 if d in per and per[d].get("method") not in (None, m)]
        if tuned:
            lines += ["", "Resolved methods (weights/k tuned on validation): " + "; ".join(tuned) + "."]
        pool = next(per[d]["pool"] for per in results.values() if d in per)
        lines += ["", f"Pool: {pool['queries']} queries × {pool['documents']} candidates"
                  f" (empty query texts: {pool.get('empty_queries', 0)}).", ""]
        if d in comparisons:
            c = comparisons[d]
            names = list(c["scores"])
            best = max(names, key=lambda n: c["scores"][n]["mrr"])
            lines.append(f"Paired {c['stat_test']} t-test against the best MRR (**{best}**), p-values:")
            lines.append("")
            lines.append("| method | " + " | ".join(c["metrics"]) + " |")
            lines.append("|---" * (len(c["metrics"]) + 1) + "|")
            for n in names:
                if n != best:
                    lines.append(f"| {n} | " + " | ".join(f"{c['pvalues'][best][n][m]:.2g}" for m in c["metrics"])
                                 + " |")
            lines.append("")
        for p in plot_paths:
            if p.name == f"curves_{d}.png":
                lines += [f"![{d}]({p.name})", ""]
    report = atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return {"metrics": metrics, "comparisons": comparisons, "report": str(report),
            "plots": [str(p) for p in plot_paths]}
