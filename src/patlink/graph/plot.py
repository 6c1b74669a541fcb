"""Plots of the item–patent graph: component statistics (like Fig. 1 of El Bouari & de Rassenfosse,
"Product-Patent linkage prediction", §3.1) and per-split sizes. matplotlib with the non-interactive Agg backend;
files are PNG (or the format of the path's suffix), written atomically (:func:`patlink.io.atomic_savefig`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from patlink.io import atomic_savefig

__all__ = ["plot_components", "plot_split_sizes"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    return atomic_savefig(fig, path, dpi=130, bbox_inches="tight")


def plot_components(links: Iterable[tuple[str, str]], path: str | Path, title: str = "",
                    n_outliers: int = 2) -> Path:
    """Scatter of connected components: node count vs edge count (left) and vs bipartite density (right).

    Log-log axes; the ``n_outliers`` largest components are drawn in red and annotated with their share of all
    nodes and edges (the paper's "two outliers hold 61% of nodes and 83% of edges"). Marker area grows with the
    number of components at the same point. Returns the PNG path.
    """
    from collections import Counter

    from patlink.graph.stats import build_graph, component_table

    plt = _pyplot()
    rows = component_table(build_graph(links))
    if not rows:
        raise ValueError("no links to plot")
    n_all = sum(r["items"] + r["patents"] for r in rows)
    e_all = sum(r["edges"] for r in rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, key, ylabel in ((axes[0], "edges", "edges"), (axes[1], "density", "density = edges / (items × patents)")):
        pts = Counter((r["items"] + r["patents"], r[key]) for r in rows[n_outliers:])
        if pts:
            xs, ys, ns = zip(*((x, y, n) for (x, y), n in sorted(pts.items())))
            ax.scatter(xs, ys, s=[12 + 6 * n for n in ns], c="tab:blue", alpha=0.55, edgecolors="none",
                       label=f"other components ({len(rows) - n_outliers})")
        for k, r in enumerate(rows[:n_outliers]):
            x = r["items"] + r["patents"]
            ax.scatter([x], [r[key]], s=90, c="tab:red", marker="D", zorder=3,
                       label="largest components" if k == 0 else None)
            if key == "edges":
                label = (f"{r['items']} items, {r['patents']} patents, {r['edges']} edges\n"
                         f"({100 * x / n_all:.0f}% of nodes, {100 * r['edges'] / e_all:.0f}% of edges)")
            else:
                label = f"density {r['density']:.4f}"
            ax.annotate(label, (x, r[key]), textcoords="offset points", xytext=(-12, 0), ha="right", va="center",
                        fontsize=7.5, color="tab:red")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("nodes in component (items + patents)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
    top = rows[:n_outliers]
    share_n = sum(r["items"] + r["patents"] for r in top) / n_all
    share_e = sum(r["edges"] for r in top) / e_all
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{title + ': ' if title else ''}{len(rows)} components; the {n_outliers} largest hold "
                 f"{100 * share_n:.0f}% of nodes and {100 * share_e:.0f}% of edges", fontsize=11)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_split_sizes(counts: Mapping[str, Mapping[str, int]], path: str | Path,
                     targets: Mapping[str, Mapping[str, float]] | None = None,
                     upstream: Mapping[str, Mapping[str, int]] | None = None, title: str = "",
                     dropped: int | None = None) -> Path:
    """Grouped bars of items / patents / edges per split (one panel per quantity).

    Args:
        counts: ``{"train": {"items", "patents", "edges"}, "val": ..., "test": ...}`` (:meth:`Split.stats`).
        path: output PNG.
        targets: same shape; drawn as black ticks over the bars.
        upstream: same shape (e.g. upstream's honeywell-vpm split); drawn as hatched grey bars beside ours.
        dropped: number of dropped edges, written in the edges panel title.

    Returns the PNG path.
    """
    plt = _pyplot()
    splits = [s for s in ("train", "val", "test") if s in counts]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    width = 0.38 if upstream else 0.6
    for ax, q in zip(axes, ("items", "patents", "edges")):
        xs = list(range(len(splits)))
        ours = [counts[s][q] for s in splits]
        off = -width / 2 if upstream else 0.0
        bars = ax.bar([x + off for x in xs], ours, width, color=["tab:blue", "tab:orange", "tab:green"][: len(xs)],
                      label="patlink")
        ax.bar_label(bars, fontsize=7.5, padding=1)
        if upstream:
            ub = ax.bar([x + width / 2 for x in xs], [upstream[s][q] for s in splits], width, color="lightgrey",
                        hatch="//", edgecolor="grey", label="upstream (paper)")
            ax.bar_label(ub, fontsize=7.5, padding=1, color="dimgrey")
        if targets:
            for x, s in zip(xs, splits):
                if q in targets.get(s, {}):
                    ax.plot([x - 0.45, x + 0.45], [targets[s][q]] * 2, color="black", lw=1.0, ls="--",
                            label="target" if x == 0 else None)
        ax.set_xticks(xs, splits)
        ax.set_title(q + (f" ({dropped} dropped)" if q == "edges" and dropped is not None else ""), fontsize=10)
        ax.margins(y=0.12)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out
