"""``patlink data``: list, describe, check and export datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from patlink.cli.common import (
    BeirOpt, ItemViewOpt, JsonOpt, PatentViewOpt, PatlinkError, console, load_input, print_json,
)

app = typer.Typer(help="Bundled datasets and BEIR folders: list, stats, anomaly check, BEIR export.",
                  no_args_is_help=True)


@app.command("list")
def list_datasets(json_out: JsonOpt = False) -> None:
    """List the bundled real datasets."""
    from patlink.data import DATASETS

    if json_out:
        print_json({k: v.description for k, v in DATASETS.items()})
        return
    t = Table("name", "description")
    for k, v in DATASETS.items():
        t.add_row(k, v.description)
    console.print(t)


@app.command("stats")
def stats(
    dataset: Annotated[Optional[str], typer.Argument(help="Bundled dataset name (or use --beir).")] = None,
    beir: BeirOpt = None,
    item_view: ItemViewOpt = None,
    patent_view: PatentViewOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Counts, graph components, degrees and missing texts of a dataset.

    Example: `patlink data stats honeywell-vpm --json`.
    """
    ds = load_input(dataset, beir, item_view, patent_view)
    out = {**ds.summary(), **ds.stats()}
    out["missing_text"] = ds.missing_text()
    if json_out:
        print_json(out)
        return
    t = Table("statistic", "value", title=f"{ds.name}")
    for k in ("items", "patents", "edges", "density", "components", "share_nodes_top2", "share_edges_top2"):
        v = out[k]
        t.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    t.add_row("item degree (mean/median/max)", "{mean:.2f} / {median:.0f} / {max}".format(**out["item_degree"]))
    t.add_row("patent degree (mean/median/max)", "{mean:.2f} / {median:.0f} / {max}".format(**out["patent_degree"]))
    t.add_row("missing item texts", str(out["missing_text"]["items"]))
    t.add_row("missing patent texts", str(out["missing_text"]["patents"]))
    console.print(t)
    if out["largest_components"]:
        c = Table("component", "items", "patents", "edges", "density", title="largest components")
        for n, r in enumerate(out["largest_components"], 1):
            c.add_row(str(n), str(r["items"]), str(r["patents"]), str(r["edges"]), f"{r['density']:.4f}")
        console.print(c)


@app.command("check")
def check(
    dataset: Annotated[str, typer.Argument(help="Dataset to check (honeywell-vpm parses the raw VPM table).")],
    json_out: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="Anomalies to print (all with --json).")] = 200,
) -> None:
    """Report every anomaly found while parsing the raw data, with line numbers.

    For honeywell-vpm: separators other than ';' (non-breaking spaces, colons, spaces), repeated numbers,
    repeated product rows (merged), short or invalid numbers, and products without a description.
    """
    from patlink.data import load_dataset
    from patlink.data.registry import load_vpm_table

    ds = load_dataset(dataset)
    if ds.name != "honeywell-vpm":
        summary = ds.summary()
        if json_out:
            print_json({"dataset": ds.name, "anomalies": [], "missing_text": summary["missing_text"]})
        else:
            console.print(f"{ds.name}: loaded without anomalies; missing texts: {summary['missing_text']}")
        return
    table = load_vpm_table()
    rows = [a.__dict__ for a in table.anomalies]
    report = {
        "dataset": ds.name,
        "raw_rows": table.n_rows,
        "raw": {"products": len(table.products), "patents": len(table.patents), "edges": len(table.links)},
        "cleaned": {"products": len(ds.items), "patents": len(ds.patents), "edges": len(ds.links)},
        "upstream": ds.metadata["upstream_counts"],
        "anomaly_counts": table.anomaly_counts(),
        "products_without_description": ds.metadata["products_without_description"],
        "descriptions_without_links": ds.metadata["descriptions_without_links"],
        "anomalies": rows,
    }
    if json_out:
        print_json(report)
        return
    t = Table("line", "kind", "product", "detail", title=f"{len(rows)} anomalies in the raw VPM table")
    for a in rows[:limit]:
        t.add_row(str(a["line"]), a["kind"], a["product"][:40], a["detail"][:70])
    console.print(t)
    console.print(f"anomaly counts: {report['anomaly_counts']}")
    console.print(f"raw: {report['raw']}  cleaned (products with a description): {report['cleaned']}  "
                  f"upstream: {report['upstream']}")
    console.print(f"{len(report['products_without_description'])} products without a description are excluded "
                  f"(list with --json); {len(report['descriptions_without_links'])} descriptions have no VPM row.")


@app.command("export-beir")
def export_beir_cmd(
    dataset: Annotated[str, typer.Argument(help="Bundled dataset to export.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    item_view: ItemViewOpt = None,
    patent_view: PatentViewOpt = None,
    split_dir: Annotated[Optional[Path], typer.Option(
        "--split-dir", help="Folder of `patlink split` (train/val/test.tsv) to write as qrels; else all links as test.")] = None,
) -> None:
    """Write a dataset as a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv)."""
    from patlink.data.beir import export_beir

    ds = load_input(dataset, None, item_view, patent_view)
    splits = None
    if split_dir is not None:
        from patlink.graph.split import read_split

        splits = read_split(split_dir)
    if not ds.items:
        raise PatlinkError(f"{ds.name} has no items/links to export as queries and qrels")
    path = export_beir(ds, out, splits)
    console.print(f"wrote BEIR folder {path}")
