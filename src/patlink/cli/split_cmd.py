"""``patlink split``: graph-aware train/val/test split of a dataset's links (El Bouari & de Rassenfosse,
"Product-Patent linkage prediction", §3.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patlink.cli.common import BeirOpt, JsonOpt, PatlinkError, console, load_input, print_json


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("split")(split)


def split(
    dataset: Annotated[str | None, typer.Argument(help="Bundled dataset name (or use --beir).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (created).")] = None,
    beir: BeirOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 0,
    protocol: Annotated[str, typer.Option(
        "--protocol", help="graph: no item or patent in two splits (random pairs for one-to-one data); "
                           "new-product: split by item, patents shared.")] = "graph",
    val_frac: Annotated[float, typer.Option("--val-frac", help="Target share held out for val.")] = 0.15,
    test_frac: Annotated[float, typer.Option("--test-frac", help="Target share held out for test.")] = 0.15,
    folds: Annotated[int, typer.Option(
        "--folds", help="K-fold cross-validation (K >= 2): write OUT/fold0 … OUT/fold{K-1}, whose test parts "
                        "partition the links (one-to-one data, --protocol new-product) or, for many-to-many graph "
                        "splits, the links inside K node-disjoint parts of the graph (links between parts are "
                        "never tested; split.json counts them).")] = 0,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write components.png and split_sizes.png.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Split links into train/val/test and write train.tsv, val.tsv, test.tsv, dropped.tsv and split.json.

    Example: `patlink split honeywell-vpm --out splits/vpm --seed 0`.
    """
    from rich.table import Table

    from patlink.graph import SplitConfig, split_dataset, write_split

    if out is None:
        raise PatlinkError("give an output folder with --out DIR")
    if protocol not in ("graph", "new-product"):
        raise PatlinkError(f"unknown --protocol {protocol!r}; expected graph or new-product")
    ds = load_input(dataset, beir)
    if not ds.links:
        raise PatlinkError(f"{ds.name} has no links to split")
    if folds:
        _write_folds(ds, out, folds, seed, val_frac, protocol, json_out)
        return
    cfg = SplitConfig(val_frac=val_frac, test_frac=test_frac, seed=seed)
    sp = split_dataset(ds, config=cfg, protocol=protocol)  # type: ignore[arg-type]
    paths = write_split(sp, out)
    meta = sp.to_json()
    up = ds.metadata.get("upstream_split") if sp.protocol == "graph" else None  # the paper's sizes, if known
    if up:
        meta["upstream"] = up
    if plot:
        from patlink.graph.plot import plot_components, plot_split_sizes

        paths["components.png"] = plot_components(ds.links, Path(out) / "components.png", title=ds.name)
        targets = meta.get("targets", {})
        targets = targets if all(isinstance(v, dict) for v in targets.values()) else None
        paths["split_sizes.png"] = plot_split_sizes(
            sp.stats(), Path(out) / "split_sizes.png", targets=targets, upstream=meta.get("upstream"),
            title=f"{ds.name}: {sp.protocol} split, seed {sp.seed}", dropped=len(sp.dropped))
    if json_out:
        print_json(meta)
        return
    counts = sp.stats()
    t = Table(title=f"{ds.name}: {sp.protocol} split (seed {sp.seed})",
              caption="ours (target" + ("; upstream)" if up else ")"))
    t.add_column("split")
    for q in ("items", "patents", "edges"):
        t.add_column(q, justify="right")
    for name in ("train", "val", "test"):
        tgt = meta.get("targets", {}).get(name)
        row = [name]
        for q in ("items", "patents", "edges"):
            if isinstance(tgt, dict):
                ref = f"{tgt[q]:.0f}"
            else:  # random: target counts pairs; new-product: target counts items
                ref = str(tgt) if tgt is not None and q == ("edges" if sp.protocol == "random" else "items") else "-"
            if up:
                ref += f"; {up[name][q]}"
            row.append(f"{counts[name][q]} [dim]({ref})[/dim]")
        t.add_row(*row)
    console.print(t)
    console.print(f"dropped edges (ends in two splits): {len(sp.dropped)}")
    if "lost_nodes" in meta:
        console.print(f"nodes left in no split: {meta['lost_nodes']['items']} items, "
                      f"{meta['lost_nodes']['patents']} patents")
    if "unseen_patents" in meta:
        console.print(f"held-out patents with no training link (kept in qrels): val "
                      f"{meta['unseen_patents']['val']}, test {meta['unseen_patents']['test']}")
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _write_folds(ds, out: Path, folds: int, seed: int, val_frac: float, protocol: str, json_out: bool) -> None:
    """``patlink split --folds K``: one split folder per fold (:func:`patlink.graph.kfold_splits`)."""
    from rich.table import Table

    from patlink.graph import SplitConfig, kfold_splits, write_split

    try:  # test_frac is 1/K in every fold (0 here only keeps any --val-frac constructible)
        parts = kfold_splits(ds, k=folds, seed=seed, config=SplitConfig(val_frac=val_frac, test_frac=0.0),
                             protocol=protocol)  # type: ignore[arg-type]
    except ValueError as e:
        raise PatlinkError(str(e)) from None
    meta = []
    for f, sp in enumerate(parts):
        write_split(sp, Path(out) / f"fold{f}")
        meta.append({"fold": f, **{k: len(sp.links(k)) for k in ("train", "val", "test")}})
    if json_out:
        print_json({"dataset": ds.name, "folds": meta})
        return
    t = Table("fold", "train", "val", "test", title=f"{ds.name}: {folds}-fold split (seed {seed}), links")
    for r in meta:
        t.add_row(str(r["fold"]), str(r["train"]), str(r["val"]), str(r["test"]))
    console.print(t)
    console.print(f"wrote {out}/fold0 … fold{folds - 1}")
