"""Benchmark report: results table (Markdown + CSV), per-task JSON with paired tests, model × task heat-map.

Table cells are the task's main score (retrieval nDCG@10, classification k-NN macro-F1, clustering V-measure)
with its 95% bootstrap CI (retrieval, classification) or ± std over k-means seeds (clustering). Per (retrieval
task, view), every model variant is compared with the best one by a paired two-sided Student t-test on
per-query nDCG@10 (``patlink.evaluation.compare_runs``, ranx); cells not significantly worse than the column's
best (p ≥ 0.05) are marked ``≈``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

from patlink.bench.runner import atomic_write_json
from patlink.io import atomic_write_text as _atomic_text
from patlink.io import atomic_savefig

__all__ = ["flatten", "write_report", "heatmap"]

_SECONDARY = {
    "retrieval": ["ndcg@10", "map", "mrr", "recall@10", "recall@100"],
    "classification": ["macro_f1", "micro_f1", "logreg_macro_f1"],
    "clustering": ["v_measure", "ari"],
}


def flatten(entries: list[dict]) -> list[dict]:
    """One row per (task, view, model variant): ``task, type, view, model, main, lo, hi, <metrics>``."""
    rows = []
    for e in entries:
        t, res = e["task"], e["results"]
        base = {"task": t["name"], "type": t["type"], "view": e["view"], "main_metric": t["main_score"]}
        if t["type"] == "retrieval":
            for name, m in res["variants"].items():
                ci = m.get("ci95", {}).get("ndcg@10", [None, None])
                row = dict(base, model=name, main=m["ndcg@10"], lo=ci[0], hi=ci[1], n=m.get("n_queries"))
                row.update({k: m.get(k) for k in _SECONDARY["retrieval"]})
                if "alpha" in m:
                    row["alpha"] = m["alpha"]
                rows.append(row)
        elif t["type"] == "classification":
            ci = res["knn"]["ci95"]["macro_f1"]
            rows.append(dict(base, model=e["model"]["name"], main=res["knn"]["macro_f1"], lo=ci[0], hi=ci[1],
                             n=res["n_test"], macro_f1=res["knn"]["macro_f1"], micro_f1=res["knn"]["micro_f1"],
                             logreg_macro_f1=res["logreg"]["macro_f1"]))
        else:
            v, s = res["v_measure"], res["v_measure_std"]
            rows.append(dict(base, model=e["model"]["name"], main=v, lo=v - s, hi=v + s, n=res["n_docs"],
                             v_measure=v, ari=res["ari"]))
    return rows


def _paired_tests(entries: list[dict]) -> dict[tuple[str, str], dict]:
    """(task, view) → {"best": name, "pvalues": {name: p vs best}} from the stored top-100 runs."""
    from patlink.evaluation import compare_runs

    by: dict[tuple[str, str], dict] = defaultdict(dict)
    qrels: dict[tuple[str, str], dict] = {}
    for e in entries:
        if e["task"]["type"] != "retrieval":
            continue
        key = (e["task"]["name"], e["view"])
        qrels[key] = e["results"]["qrels"]
        for name, m in e["results"]["variants"].items():
            by[key][name] = m["run"]
    out = {}
    for key, runs in by.items():
        if len(runs) < 2:
            continue
        cmp = compare_runs(qrels[key], runs, metrics=("ndcg@10",))
        best = max(cmp["scores"], key=lambda n: cmp["scores"][n]["ndcg@10"])
        out[key] = {"best": best, "test": cmp["stat_test"],
                    "pvalues": {n: cmp["pvalues"][best][n]["ndcg@10"] for n in runs if n != best}}
    return out


def _fmt(v, nd=3):
    return "" if v is None else f"{v:.{nd}f}"


def write_report(entries: list[dict], out: Path, skipped: list[dict] | None = None, title: str = "patlink bench") -> dict:
    """Write ``results.md``, ``results.csv`` (long: every metric), ``tasks/{task}.json`` and ``heatmap.png``.

    Returns:
        ``{"markdown": str, "paths": {...}}``.
    """
    out = Path(out)
    rows = flatten(entries)
    tests = _paired_tests(entries)
    cols = sorted({(r["task"], r["view"]) for r in rows}, key=lambda c: (
        ["retrieval", "classification", "clustering"].index(next(r["type"] for r in rows if (r["task"], r["view"]) == c)),
        c))
    models = list(dict.fromkeys(r["model"] for r in rows))
    cell = {(r["model"], r["task"], r["view"]): r for r in rows}
    best = {c: max((cell[(m, *c)]["main"] for m in models if (m, *c) in cell), default=None) for c in cols}
    lines = [f"# {title}", "", "Main score per task · view (retrieval nDCG@10, classification k-NN macro-F1, "
             "clustering V-measure); [95% bootstrap CI] or ±std over k-means seeds. **bold** = best in column; "
             "≈ = not significantly below the best (paired t-test on per-query nDCG@10, p ≥ 0.05).", ""]
    lines.append("| model | " + " | ".join(f"{t} · {v}" for t, v in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for m in models:
        cells = []
        for c in cols:
            r = cell.get((m, *c))
            if r is None:
                cells.append("–")
                continue
            s = _fmt(r["main"])
            if best[c] is not None and abs(r["main"] - best[c]) < 1e-12:
                s = f"**{s}**"
            elif c in tests and tests[c]["pvalues"].get(m, 0.0) >= 0.05:
                s = f"≈{s}"
            if r["type"] == "clustering":
                s += f" ±{(r['hi'] - r['main']):.3f}"
            elif r["lo"] is not None:
                s += f" [{_fmt(r['lo'])}, {_fmt(r['hi'])}]"
            cells.append(s)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if skipped:
        lines += ["", "Skipped:"] + [f"- {s['task']} · {s['view']}: {s['reason']}" for s in skipped]
    md = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    _atomic_text(out / "results.md", md)
    # Long CSV: every metric of every row.
    metric_keys = sorted({k for r in rows for k in r} - {"task", "type", "view", "model", "main_metric"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["task", "type", "view", "model", "main_metric", *metric_keys])
    w.writeheader()
    for r in rows:
        w.writerow(r)
    _atomic_text(out / "results.csv", buf.getvalue())
    # Per-task JSON (runs and qrels left out: they stay in the cache files).
    for task in dict.fromkeys(r["task"] for r in rows):
        task_entries = [e for e in entries if e["task"]["name"] == task]
        slim = []
        for e in task_entries:
            res = dict(e["results"])
            res.pop("qrels", None)
            if "variants" in res:
                res["variants"] = {n: {k: v for k, v in m.items() if k != "run"} for n, m in res["variants"].items()}
            res.pop("per_seed", None)
            slim.append({"view": e["view"], "model": e["model"]["name"], "seconds": e.get("seconds"), "results": res})
        obj = {"task": task_entries[0]["task"], "results": slim,
               "paired_tests": {v: t for (tk, v), t in tests.items() if tk == task}}
        atomic_write_json(out / "tasks" / f"{task}.json", obj)
    paths = {"markdown": out / "results.md", "csv": out / "results.csv", "tasks": out / "tasks"}
    if rows:
        paths["heatmap"] = heatmap(rows, out / "heatmap.png")
    return {"markdown": md, "paths": {k: str(v) for k, v in paths.items()}}


def heatmap(rows: list[dict], path: Path) -> Path:
    """Model × (task · view) heat-map of main scores (matplotlib, Agg), each cell annotated; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = list(dict.fromkeys((r["task"], r["view"]) for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    grid = np.full((len(models), len(cols)), np.nan)
    for r in rows:
        grid[models.index(r["model"]), cols.index((r["task"], r["view"]))] = r["main"]
    fig, ax = plt.subplots(figsize=(1.0 + 1.1 * len(cols), 1.2 + 0.45 * len(models)))
    im = ax.imshow(grid, cmap="viridis", aspect="auto", vmin=0, vmax=max(1e-9, np.nanmax(grid)))
    ax.set_xticks(range(len(cols)), [f"{t}\n{v}" for t, v in cols], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(models)), models, fontsize=8)
    for i in range(len(models)):
        for j in range(len(cols)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if grid[i, j] < 0.6 * np.nanmax(grid) else "black")
    fig.colorbar(im, ax=ax, fraction=0.03, label="main score")
    ax.set_title("patlink bench: main score (nDCG@10 / macro-F1 / V-measure)", fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return Path(path)
