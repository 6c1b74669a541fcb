"""CLI: ``patlink hydrate`` — fill patent texts from BigQuery, PatentsView, Google Patents pages or bulk files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patlink.cli.common import JsonOpt, PatlinkError, console, err_console, print_json


def hydrate_command(
    dataset: Annotated[str | None, typer.Argument(
        help="Bundled dataset whose patents to hydrate (honeywell-vpm). Omit when using --numbers.")] = None,
    numbers: Annotated[Path | None, typer.Option(
        "--numbers", help="File of publication numbers, one a line (any spelling: US7852519, 7,852,519, "
        "US-7852519-B2); first column of CSV/TSV lines.")] = None,
    source: Annotated[str, typer.Option(
        "--source", "-s", help="bigquery | patentsview | google-html | bulk")] = "bulk",
    bulk_dir: Annotated[Path | None, typer.Option(
        "--bulk-dir", help="Folder with PatentsView g_*.tsv[.gz] and/or USPTO ipg*.xml/zip (source bulk).")] = None,
    html_dir: Annotated[Path | None, typer.Option(
        "--html-dir", help="Folder of saved Google Patents pages (source google-html); else pages are fetched.")] = None,
    db: Annotated[Path | None, typer.Option(
        "--db", help="DuckDB store to write (default: $PATLINK_CACHE/hydrate.duckdb, i.e. "
        "~/.cache/patlink/hydrate.duckdb). Other commands read it when given --texts STORE.")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", help="Numbers per request/checkpoint (default per source: bigquery 5000, patentsview "
        "100, google-html 10, bulk 10000).")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Hydrate at most N missing or incomplete numbers.")] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed/--no-retry-failed", help="Retry numbers an earlier run failed on.")] = True,
    refetch_incomplete: Annotated[bool, typer.Option(
        "--refetch-incomplete/--keep-incomplete", help="Fetch again stored records that are incomplete (no text, "
        "a utility grant without claims ...); --keep-incomplete only reports them.")] = True,
    bq_project: Annotated[str | None, typer.Option(
        "--bq-project", help="BigQuery billing project (default: from the environment).")] = None,
    bq_max_gb: Annotated[float | None, typer.Option(
        "--bq-max-gb", help="Refuse BigQuery queries that would bill more than this many GB.")] = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Override the site/API root (mirrors, local tests).", hidden=True)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch title, abstract, claims, description, CPC, dates and family id of patents into a local DuckDB store.

    Resumable: numbers already stored are skipped, failures are recorded with their error. The store is used
    only where it is named: after `patlink hydrate honeywell-vpm --source ... --db STORE`, pass `--texts STORE`
    (e.g. `patlink data stats honeywell-vpm --texts STORE`), or in Python
    `load_dataset("honeywell-vpm", texts=patlink.hydrate.open_texts(STORE))`.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from patlink.hydrate.config import SOURCES, HydrateConfig, default_db_path
    from patlink.hydrate.runner import dataset_numbers, hydrate, normalize_numbers, read_numbers_file

    if source not in SOURCES:
        raise PatlinkError(f"unknown --source {source!r}; choose one of: {', '.join(SOURCES)}")
    if (dataset is None) == (numbers is None):
        raise PatlinkError("give exactly one of a dataset name (honeywell-vpm) or --numbers FILE")
    if source == "bulk" and bulk_dir is None:
        raise PatlinkError("--source bulk needs --bulk-dir DIR (PatentsView g_*.tsv and/or USPTO ipg*.xml)")
    if source == "bigquery":  # once, before the run, not one failure per number
        from patlink.hydrate.bigquery import require_client_library

        try:
            require_client_library()
        except RuntimeError as e:
            raise PatlinkError(str(e)) from None  # cli.main prints it as text: "[bigquery]" is kept
    cfg = HydrateConfig(source=source, db_path=db if db is not None else default_db_path(), batch_size=batch_size,
                        retry_failed=retry_failed, refetch_incomplete=refetch_incomplete, limit=limit)
    cfg.bulk.bulk_dir = bulk_dir
    cfg.google.html_dir = html_dir
    cfg.bigquery.project = bq_project
    if bq_max_gb is not None:
        cfg.bigquery.maximum_bytes_billed = int(bq_max_gb * 1e9)
    if base_url:
        cfg.google.base_url = base_url
        cfg.patentsview.base_url = base_url

    if numbers is not None:
        wanted, invalid = read_numbers_file(numbers)
    else:
        wanted, invalid = normalize_numbers((f"item {i}", n) for i, n in enumerate(dataset_numbers(dataset)))
    for where, text, _ in invalid[:20]:
        err_console.print(f"[yellow]skipped[/yellow] {escape(f'{where}: {text!r}')} is not a publication number",
                          highlight=False)
    if not wanted:
        raise PatlinkError("no valid publication numbers to hydrate")

    with Progress(TextColumn("hydrating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, disable=as_json, transient=False) as bar:
        task = bar.add_task("hydrate", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = hydrate(wanted, cfg, progress=progress)
        except ValueError as e:  # e.g. the store is locked by another run or is not a DuckDB file
            raise PatlinkError(str(e)) from None
    summary.invalid = invalid + summary.invalid

    if as_json:
        print_json(summary.as_dict())
        return
    from rich.table import Table

    table = Table(title=f"hydrate · source {source}",
                  caption=f"store: {summary.db_path} (use it with --texts {summary.db_path})")
    table.add_column("status")
    table.add_column("numbers", justify="right")
    table.add_row("requested", str(summary.requested))
    table.add_row("fetched now", str(len(summary.fetched)))
    table.add_row("already cached", str(len(summary.cached)))
    table.add_row("incomplete records refetched", str(len(summary.refetched_incomplete)))
    table.add_row("malformed documents skipped", str(len(summary.malformed)))
    table.add_row("failed", str(len(summary.failed)))
    if summary.incomplete:
        table.add_row("still incomplete (stored)", str(len(summary.incomplete)))
    if summary.skipped_failed:
        table.add_row("skipped (failed before)", str(len(summary.skipped_failed)))
    table.add_row("invalid input", str(len(summary.invalid)))
    console.print(table)
    for msg in summary.malformed[:10]:  # file and line of each damaged document, as text (not rich markup)
        err_console.print(f"[yellow]malformed[/yellow] {escape(msg)}", highlight=False)
    if len(summary.malformed) > 10:
        err_console.print(f"... and {len(summary.malformed) - 10} more malformed documents (--json lists them)")
    if summary.failed:
        errs: dict[str, int] = {}
        for e in summary.failed.values():
            errs[e[:120]] = errs.get(e[:120], 0) + 1
        ft = Table(title="failures by error (first examples)")
        ft.add_column("error")
        ft.add_column("count", justify="right")
        for e, c in sorted(errs.items(), key=lambda x: -x[1])[:10]:
            ft.add_row(escape(e), str(c))  # the text of an error, not rich markup
        console.print(ft)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("hydrate")(hydrate_command)
