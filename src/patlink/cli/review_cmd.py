"""``patlink review``: the decisions recorded with ``patlink serve`` — counts, listing, export for people and
for training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from patlink.cli.common import (
    BeirOpt, DatasetOpt, JsonOpt, PatlinkError, TextsOpt, console, err_console, print_json,
)

app = typer.Typer(help="Decisions recorded in the review page (`patlink serve`): list them, export them as a "
                       "table or as a BEIR folder for `patlink train`.", no_args_is_help=True)

DbArg = Annotated[Path, typer.Option("--db", help="The decisions database `patlink serve --db` wrote.")]


def _store(db: Path):
    from patlink.review import DecisionStore

    return DecisionStore(db, read_only=True)


@app.command("list")
def list_cmd(
    db: DbArg = Path("decisions.sqlite"),
    item: Annotated[Optional[str], typer.Option("--item", help="Only this item's decisions.")] = None,
    decision: Annotated[Optional[str], typer.Option("--decision", help="accept, reject or unsure.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Every recorded row, not only current ones.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows shown.", min=1)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Counts of current decisions by kind, and the latest ones."""
    store = _store(db)
    rows = store.decisions(item_id=item, decision=decision, latest=not history)
    if json_out:
        print_json({"counts": store.counts(), "total": len(rows), "decisions": [d.to_dict() for d in rows[-limit:]]})
        return
    c = store.counts()
    console.print(f"{db}: {sum(c.values())} pairs decided — {c['accept']} accepted, {c['reject']} rejected, "
                  f"{c['unsure']} unsure", highlight=False)
    t = Table("item", "patent", "decision", "reviewer", "when", "note", title=f"last {min(limit, len(rows))} of "
              f"{len(rows)}")
    for d in rows[-limit:]:
        t.add_row(d.item_id, d.patent_id, d.decision, d.reviewer, d.decided_at[:19], d.note[:60])
    console.print(t)


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="decisions.csv/.tsv/.jsonl/.parquet (a table), or a "
                                                          "folder name without suffix (a BEIR folder for "
                                                          "`patlink train --beir`).")],
    db: DbArg = Path("decisions.sqlite"),
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv, tsv, jsonl, parquet or beir when the "
                                                                "suffix of --out does not say.")] = None,
    index: Annotated[Optional[Path], typer.Option(
        "--index", "-i", help="BEIR: the saved index the decisions were made on (patent titles and texts).")] = None,
    dataset: DatasetOpt = None,
    beir: BeirOpt = None,
    known: Annotated[bool, typer.Option(
        "--known/--no-known", help="BEIR: also write the dataset's known links as positives (unless rejected).")
    ] = True,
    history: Annotated[bool, typer.Option("--history", help="Table: every recorded row, not only current ones.")
                       ] = False,
    items_file: Annotated[Optional[str], typer.Option(
        "--items", help="BEIR: the known products' texts (a JSONL/CSV/TSV/Parquet file, as `patlink serve --items`); "
                        "texts pasted in the page are always kept.")] = None,
    links_file: Annotated[Optional[Path], typer.Option(
        "--links", help="BEIR: known links (item_id, patent_id) written as positives unless rejected.")] = None,
    texts: TextsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export decisions: a table for people, or a BEIR folder that `patlink train --beir` and `patlink eval
    --beir` read (score 1 = accepted, 0 = rejected: known negatives for `--negatives known`).

    Examples:
      patlink review export --db decisions.sqlite --out decisions.csv
      patlink review export --db decisions.sqlite --dataset honeywell-vpm --out reviewed/
      patlink train --beir reviewed/ --patent-repr item_set --out runs/reviewed
    """
    from patlink.review.export import decisions_format, export_decisions, export_training

    fmt = decisions_format(out, fmt)
    store = _store(db)
    if fmt != "beir":
        n = export_decisions(store.decisions(latest=not history), out, fmt)
        summary = {"rows": n, "out": str(out), "format": fmt}
    else:
        if index is None and dataset is None and beir is None:
            raise PatlinkError("a BEIR export needs the patents' texts: give --index IDX or --dataset/--beir")
        from patlink.cli.serve_cmd import known_data

        idx = None
        if index is not None:
            from patlink.cli.index_cmd import open_index

            idx = open_index(index)
        ds, extra_items, extra_links = known_data(idx, dataset, beir, items_file, links_file, texts)
        patents: dict = {}
        items: dict = {}
        links: list = []
        if ds is not None:
            items = ds.item_texts()
            ptexts = ds.patent_texts()
            patents = {p: {"title": d.get("title", ""), "text": ptexts.get(p, "")} for p, d in ds.patents.items()}
            links = list(ds.links)
        if extra_items is not None:
            items.update({i: it["text"] for i, it in extra_items.items()})
        if extra_links is not None:
            links = sorted(set(links) | set(extra_links))
        if not known:
            links = []
        if idx is not None:
            ids = {d.patent_id for d in store.decisions()} | {p for _, p in links}
            texts_ = idx.texts(sorted(ids))
            patents.update({p: {"title": idx.title_of(p), "text": t} for p, t in texts_.items()})
        counts = export_training(store, out, patents=patents, items=items, known_links=links)
        summary = {"out": str(out), "format": "beir", **counts}
        if counts["missing_item_text"]:
            err_console.print(f"[yellow]{counts['missing_item_text']} item(s) have no text (not known items and "
                              "none recorded): give --dataset or --items data with their texts[/yellow]")
    if json_out:
        print_json(summary)
    else:
        err_console.print(" · ".join(f"{k}: {v}" for k, v in summary.items()), highlight=False)
