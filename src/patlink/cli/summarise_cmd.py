"""CLI: ``patlink summarise`` — patent summaries by map-reduce into a hydration store (El Bouari & de
Rassenfosse, *Product-Patent linkage prediction*, §2.1).

    patlink summarise honeywell-vpm --texts hw.duckdb --llm-base-url http://localhost:8000/v1 --llm-model M
    patlink summarise pap2pat --db pap2pat.duckdb --extractive
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from patlink.cli.common import (
    BeirOpt, DeviceOpt, JsonOpt, PatlinkError, TextsOpt, console, err_console, print_json,
)


def summarise_command(
    dataset: Annotated[Optional[str], typer.Argument(
        help="Bundled dataset whose patents to summarise (pap2pat, honeywell-vpm with --texts ...). Omit with "
             "--beir.")] = None,
    beir: BeirOpt = None,
    texts: TextsOpt = None,
    db: Annotated[Optional[Path], typer.Option(
        "--db", metavar="STORE",
        help="Hydration store (DuckDB) the summaries are written into, created if missing; default: the --texts "
             "store. Read them back with --texts STORE.")] = None,
    llm_base_url: Annotated[Optional[str], typer.Option(
        "--llm-base-url", help="OpenAI-compatible endpoint up to /v1, e.g. http://localhost:8000/v1 (vLLM), "
                               "http://localhost:11434/v1 (Ollama).")] = None,
    llm_model: Annotated[Optional[str], typer.Option("--llm-model", help="Model name the endpoint expects.")] = None,
    llm_key_env: Annotated[str, typer.Option(
        "--llm-api-key-env", help="Environment variable holding the API key, if the endpoint needs one (never "
                                  "stored or printed).")] = "PATLINK_LLM_API_KEY",
    extractive: Annotated[bool, typer.Option(
        "--extractive", help="Offline extractive summaries (LexRank over the bundled minilm sentence embeddings) "
                             "instead of an LLM, in the same map-reduce shape.")] = False,
    extractive_model: Annotated[str, typer.Option(
        "--extractive-model", help="Sentence similarity of --extractive: minilm (bundled; any sentence-transformers "
                                   "name or path) or tfidf (TF-IDF cosine, the original LexRank: no neural model, "
                                   "~100x faster on a CPU).")] = "minilm",
    fields: Annotated[Optional[str], typer.Option(
        "--fields", help="Patent fields to summarise, in order (default: title,abstract,claims,description; a "
                         "BEIR corpus: title,text).")] = None,
    max_words: Annotated[int, typer.Option("--max-words", help="Words of a summary at most.")] = 180,
    chunk_tokens: Annotated[int, typer.Option(
        "--chunk-tokens", help="Text one call reads (whitespace tokens, ~1.3 model tokens each): chunk size and "
                               "merge budget. 1500 fits a 4k-token context; raise it for long-context models.")]
    = 1500,
    chunk_overlap: Annotated[Optional[int], typer.Option(
        "--chunk-overlap", help="Tokens shared by consecutive chunks of the LLM method (default: a tenth of "
                                "--chunk-tokens, at most 100; the extractive method cuts between sentences).")]
    = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Summarise at most N patents (try a few first).")]
    = None,
    device: DeviceOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Summarise each patent's full text (title, abstract, claims, description) by map-reduce into STORE.

    Every chunk of a long patent is summarised, then the notes are merged (in rounds when they do not fit one
    call), so nothing past a length cut-off is lost. Each step is cached in the store: an interrupted run resumes,
    a rerun with the same settings makes no call, a new model or prompt recomputes. Use the result with
    `--texts STORE --patent-view summary`.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from patlink.cli.common import load_input
    from patlink.hydrate.store import HydrationStore
    from patlink.pipeline.config import LLMConfig, SummaryConfig
    from patlink.pipeline.llm import ChatClient, ExtractiveSummarizer, LLMError
    from patlink.pipeline.summarise import PatentSummariser, fields_for, summarise_patents

    # every usage check before any work
    if (dataset is None) == (beir is None):
        raise PatlinkError("give exactly one of a dataset name (pap2pat, honeywell-vpm) or --beir FOLDER")
    if (llm_base_url is None) != (llm_model is None):
        raise PatlinkError("give both --llm-base-url and --llm-model")
    if extractive and llm_base_url:
        raise PatlinkError("give either --llm-base-url/--llm-model or --extractive, not both")
    if not extractive and not llm_base_url:
        raise PatlinkError("no summariser chosen: give --llm-base-url URL --llm-model M for LLM summaries, or "
                           "--extractive for the offline extractive method")
    if extractive_model != "minilm" and not extractive:
        raise PatlinkError("--extractive-model needs --extractive")
    store_path = db if db is not None else texts
    if store_path is None:
        raise PatlinkError("give --db STORE (the hydration store to write the summaries into), or --texts STORE")
    if limit is not None and limit < 1:
        raise PatlinkError(f"--limit must be at least 1, got {limit}")
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    if fields is not None and not wanted:
        raise PatlinkError("--fields is empty; give e.g. title,abstract,claims,description")
    if chunk_overlap is None:
        chunk_overlap = max(0, min(100, chunk_tokens // 10))
    cfg = SummaryConfig(patent_max_words=max_words, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap,
                        note_max_words=max(1, min(SummaryConfig.note_max_words, chunk_tokens // 2)))
    llm_cfg = LLMConfig(base_url=llm_base_url, model=llm_model, api_key_env=llm_key_env)
    try:
        backend = ChatClient(llm_cfg) if llm_base_url else ExtractiveSummarizer(extractive_model, device=device)
        summariser = PatentSummariser(backend, cfg)
    except ValueError as e:
        raise PatlinkError(str(e)) from None

    ds = load_input(dataset, beir, texts=texts)
    try:
        use = fields_for(ds.patent_fields, wanted, cfg.patent_fields)
    except ValueError as e:
        raise PatlinkError(f"--fields: {e}") from None
    try:
        with HydrationStore(store_path) as store, Progress(
                TextColumn("summarising"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err_console, disable=as_json or not err_console.is_terminal, transient=False) as bar:
            task = bar.add_task("summarise", total=None)
            report = summarise_patents(ds, summariser, store, fields=use, limit=limit,
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
            n_stored = store.summaries.count()
    except LLMError as e:   # fatal (401/403): finished patents and cached steps stay in the store
        raise PatlinkError(str(e)) from None
    finally:
        if llm_base_url:
            backend.close()

    if as_json:
        print_json({**report.as_dict(), "summaries_in_store": n_stored})
        return
    from rich.table import Table

    table = Table(title=f"summarise · {report.method} ({report.model})",
                  caption=f"store: {report.db_path} ({n_stored} summaries; use it with --texts {report.db_path} "
                          "--patent-view summary)")
    table.add_column("")
    table.add_column("value", justify="right")
    for name, value in (("patents considered", report.requested), ("summarised now", len(report.summarised)),
                        ("already current", len(report.cached)), ("failed", len(report.failed)),
                        ("without text (skipped)", len(report.skipped_no_text)), ("LLM calls", report.llm_calls),
                        ("chunks", report.chunks),
                        ("map/reduce steps computed / cached", f"{report.steps_computed} / {report.steps_cached}"),
                        ("words in -> out", f"{report.words_in:,} -> {report.words_out:,}"),
                        ("seconds", f"{report.seconds:.1f}")):
        table.add_row(name, str(value))
    console.print(table)
    if report.failed:
        ft = Table(title="failures (first 10)")
        ft.add_column("patent")
        ft.add_column("error")
        for k, e in list(report.failed.items())[:10]:
            ft.add_row(escape(k), escape(e))   # the text of an error, not rich markup
        console.print(ft)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("summarise")(summarise_command)
