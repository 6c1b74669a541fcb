"""CLI ``patlink pipeline``: build product–patent data for a company (El Bouari & de Rassenfosse, *Product-Patent
linkage prediction*, §2), resumable and cached.

    patlink pipeline run --company Honeywell --products products.txt --search searxng --searxng-url URL
    patlink pipeline run --company Honeywell --products products.txt --search brave    # key in $BRAVE_SEARCH_API_KEY
    patlink pipeline vpm PAGE_URL_OR_FILE
    patlink pipeline status
    patlink pipeline export-review --out review.csv ; patlink pipeline import-review review.csv --reviewer NAME
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from patlink.cli.common import JsonOpt, PatlinkError, console, print_json

app = typer.Typer(
    help="Data pipeline: VPM pages → product-patent pairs; product web pages → descriptions; patent summaries. "
         "Every stage is cached in one DuckDB file: re-runs skip finished work, interrupted runs resume.",
    no_args_is_help=True,
)

DbOpt = Annotated[Path, typer.Option("--db", help="Pipeline database (DuckDB file).")]
_DEFAULT_DB = Path("patlink_pipeline.duckdb")


def _store(db: Path, must_exist: bool = False):
    from patlink.pipeline.store import PipelineStore

    if must_exist and not db.exists():
        raise PatlinkError(f"no pipeline database at {db} (run `patlink pipeline run ...` first or pass --db)")
    return PipelineStore(db)


@app.command("run")
def run_cmd(
    company: Annotated[str, typer.Option("--company", help="Company name used in the search queries.")] = "",
    products: Annotated[Optional[Path], typer.Option(
        "--products", help="Products: .txt (one per line), .csv/.tsv (product column; a patent column = VPM "
                           "table), .jsonl, or a saved VPM page (.html/.pdf).")] = None,
    vpm: Annotated[Optional[list[str]], typer.Option("--vpm", help="VPM page URL or file (repeatable).")] = None,
    patents: Annotated[Optional[Path], typer.Option(
        "--patents", help="Patent full texts to summarise: JSONL with id + title/abstract/claims/description.")]
    = None,
    db: DbOpt = _DEFAULT_DB,
    search: Annotated[str, typer.Option(
        "--search", help="Search provider: google (Programmable Search JSON API), brave (Brave Search API), serpapi "
                         "(SerpAPI's Google results), searxng, urls or none.")] = "",
    searxng_url: Annotated[Optional[str], typer.Option("--searxng-url", help="SearXNG instance root URL.")] = None,
    urls: Annotated[Optional[Path], typer.Option(
        "--urls", help="Your own product → URL list (CSV/TSV product,url or JSONL); implies --search urls.")]
    = None,
    top_k: Annotated[int, typer.Option(
        "--top-k", "--search-top-k", help="Results kept per query (the paper keeps 1).")] = 1,
    query_template: Annotated[Optional[list[str]], typer.Option(
        "--query-template", help="Query template with {company} and {product} (repeatable; replaces the paper's "
                                 "four: '{company} {product}', + datasheet, + technical specifications, "
                                 "+ user manual).")] = None,
    search_key_env: Annotated[Optional[str], typer.Option(
        "--search-key-env", help="Environment variable holding the search API key (default GOOGLE_CSE_API_KEY, "
                                 "BRAVE_SEARCH_API_KEY or SERPAPI_API_KEY; never stored or printed).")] = None,
    google_cx: Annotated[Optional[str], typer.Option(
        "--google-cx", help="Programmable Search Engine ID for --search google (default: $GOOGLE_CSE_ID).")] = None,
    search_base_url: Annotated[Optional[str], typer.Option(
        "--search-base-url", help="Endpoint of the google/brave/serpapi API instead of the official one (a proxy, "
                                  "a test server).")] = None,
    block_domain: Annotated[Optional[list[str]], typer.Option(
        "--block-domain", help="Never fetch this domain or its sub-domains (repeatable).")] = None,
    no_name_filter: Annotated[bool, typer.Option(
        "--no-name-filter", help="Keep URLs that do not contain the product name.")] = False,
    llm_judge: Annotated[bool, typer.Option("--llm-judge", help="Also ask the LLM whether each URL is relevant.")]
    = False,
    llm_base_url: Annotated[Optional[str], typer.Option(
        "--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (none: offline "
                               "extractive summariser).")] = None,
    llm_model: Annotated[Optional[str], typer.Option("--llm-model", help="Model name for the endpoint.")] = None,
    llm_key_env: Annotated[str, typer.Option(
        "--llm-api-key-env", help="Environment variable holding the API key (never stored or printed).")]
    = "PATLINK_LLM_API_KEY",
    chunk_tokens: Annotated[int, typer.Option("--chunk-tokens", help="Tokens per chunk.")] = 512,
    chunk_overlap: Annotated[int, typer.Option("--chunk-overlap", help="Tokens shared by neighbouring chunks.")]
    = 64,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Deadline of one attempt at a page, seconds: connecting plus reading the whole body "
                          "(however slowly the server sends it).")]
    = 20.0,
    search_timeout: Annotated[float, typer.Option(
        "--search-timeout", help="Deadline of one attempt at the search engine, seconds (connecting plus reading "
                                 "its answer); separate from --timeout, which is for pages.")] = 20.0,
    retries: Annotated[int, typer.Option(
        "--retries", help="Retries after transient HTTP failures (timeouts, exceeded deadlines, 429, 5xx) of pages "
                          "and searches; a page takes at most (retries + 1) x --timeout plus back-off.")] = 2,
    max_bytes: Annotated[int, typer.Option("--max-bytes", help="Largest page fetched, bytes.")] = 10 * 1024 * 1024,
    ignore_robots: Annotated[bool, typer.Option("--ignore-robots", help="Do not check robots.txt.")] = False,
    until: Annotated[str, typer.Option(
        "--until", help="Last stage: vpm, search, filter, fetch, condense, patents.")] = "patents",
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Retry units that already failed the maximum number of times.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bars.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run every stage (resumable): products → search → filter → fetch/extract → condense; patent summaries."""
    from patlink.pipeline.config import (
        ChunkConfig, FetchConfig, FilterConfig, LLMConfig, PipelineConfig, SearchConfig,
    )
    from patlink.pipeline.config import DEFAULT_QUERY_TEMPLATES
    from patlink.pipeline.runner import run_pipeline
    from patlink.pipeline.search import SearchError, make_provider

    provider = search or ("urls" if urls else ("searxng" if searxng_url else "none"))
    if (llm_base_url is None) != (llm_model is None):
        raise PatlinkError("give both --llm-base-url and --llm-model (or neither for the offline summariser)")
    if llm_judge and not llm_base_url:
        raise PatlinkError("--llm-judge needs --llm-base-url and --llm-model")
    cfg = PipelineConfig(
        company=company, db_path=db, show_progress=not no_progress,
        search=SearchConfig(provider=provider, searxng_url=searxng_url, urls_file=urls, top_k=top_k,
                            timeout_s=search_timeout, retries=retries, api_key_env=search_key_env, google_cx=google_cx,
                            api_base_url=search_base_url,
                            templates=tuple(query_template) if query_template else DEFAULT_QUERY_TEMPLATES),
        filter=FilterConfig(blocked_domains=tuple(block_domain or ()), require_name_in_url=not no_name_filter,
                            llm_judge=llm_judge),
        fetch=FetchConfig(timeout_s=timeout, connect_timeout_s=min(timeout, 10.0), retries=retries,
                          max_bytes=max_bytes, respect_robots=not ignore_robots),
        chunk=ChunkConfig(max_tokens=chunk_tokens, overlap=chunk_overlap),
        llm=LLMConfig(base_url=llm_base_url, model=llm_model, api_key_env=llm_key_env),
    )
    try:  # the provider's settings (key variable, engine ID, templates) are checked before anything runs
        checked = make_provider(cfg.search)
    except ValueError as e:
        raise PatlinkError(str(e)) from None
    close = getattr(checked, "close", None)
    if callable(close):
        close()
    if (checked is not None and checked.uses_queries and not company
            and any("{company}" in t for t in cfg.search.templates)):
        raise PatlinkError("--company is required with a search engine (it is part of every query)")
    with _store(db) as store:
        try:
            report = run_pipeline(cfg, store, products_file=products, vpm_sources=vpm or (), patents_file=patents,
                                  until=until, retry_failed=retry_failed)
        except SearchError as e:  # fatal: key rejected, quota exhausted (finished queries stay cached)
            raise PatlinkError(str(e)) from None
        counts = store.counts()
    if json_out:
        print_json({"run": report, "totals": counts, "db": str(db)})
        return
    from rich.table import Table

    t = Table(title=f"pipeline run ({db})")
    for c in ("stage", "done now", "from cache", "failed now", "given up"):
        t.add_column(c, justify="left" if c == "stage" else "right")
    for s, r in report.items():
        t.add_row(s, str(r["done"]), str(r["cached"]), str(r["failed"]), str(r["gave_up"]))
    console.print(t)
    dropped = report.get("extract", {}).get("dropped_chunks", 0)
    if dropped:
        console.print(f"{dropped} chunk(s) of long pages beyond {cfg.chunk.max_chunks_per_page} per page were not "
                      "condensed (per URL: dropped_chunks in the condense outputs).")
    console.print("See failures with `patlink pipeline status --failures`; review with "
                  "`patlink pipeline export-review --out review.csv`.")


@app.command("vpm")
def vpm_cmd(
    source: Annotated[str, typer.Argument(help="VPM page: http(s) URL or a saved .html/.pdf/.tsv/.txt file.")],
    db: Annotated[Optional[Path], typer.Option("--db", help="Also store products and links in this database.")]
    = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the pairs as TSV (product, patent).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Parse a VPM page into (product, patent) pairs (tables, lists, 'Product: US 7,123,456; ...' lines)."""
    from patlink.io import atomic_write_text as _atomic_write
    from patlink.pipeline.runner import ingest_vpm
    from patlink.pipeline.vpm_page import load_vpm_source, parse_vpm_bytes

    if db is not None:
        with _store(db) as store:
            status, _ = ingest_vpm(store, source, refresh=True)
            if status == "failed":
                raise PatlinkError(store.get("vpm", source).error)
    body, ctype = load_vpm_source(source)
    page = parse_vpm_bytes(body, content_type=ctype, name=source)
    if out is not None:
        _atomic_write(out, "product\tpatent\n" + "".join(f"{p}\t{n}\n" for p, n, _ in page.links))
    if json_out:
        print_json({"products": page.products, "links": [[p, n] for p, n, _ in page.links],
                    "anomalies": [list(a) for a in page.anomalies]})
        return
    console.print(f"{len(page.products)} products, {len(page.links)} links, {len(page.patents)} patents, "
                  f"{len(page.anomalies)} anomalies")
    for p, n, _ in page.links[:20]:
        console.print(f"  {p}\t{n}", highlight=False)
    if len(page.links) > 20:
        console.print(f"  ... {len(page.links) - 20} more (use --out FILE or --json)")
    for where, kind, detail in page.anomalies[:20]:
        console.print(f"  [yellow]{kind}[/yellow] {where}: {detail}", highlight=False)


@app.command("fetch")
def fetch_cmd(
    url: Annotated[str, typer.Argument(help="An http(s) URL to fetch and extract (nothing is stored).")],
    chunk_tokens: Annotated[int, typer.Option("--chunk-tokens")] = 512,
    chunk_overlap: Annotated[int, typer.Option("--chunk-overlap")] = 64,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Deadline of one attempt at the page, seconds: connecting plus reading the whole body.")]
    = 20.0,
    retries: Annotated[int, typer.Option(
        "--retries", help="Retries after transient HTTP failures (timeouts, exceeded deadlines, 429, 5xx).")] = 2,
    json_out: JsonOpt = False,
) -> None:
    """Fetch one page (robots.txt, limits) and show its extracted text and chunking — for debugging a source."""
    from patlink.pipeline.config import FetchConfig
    from patlink.pipeline.extract import chunk_text, extract_text
    from patlink.pipeline.fetch import FetchError, Fetcher

    with Fetcher(FetchConfig(timeout_s=timeout, connect_timeout_s=min(timeout, 10.0), retries=retries)) as f:
        try:
            res = f.fetch(url, extractable_only=True)
            text = extract_text(res.body, res.content_type, res.final_url)
        except (FetchError, ValueError) as e:
            raise PatlinkError(str(e)) from None
    chunks = chunk_text(text, chunk_tokens, chunk_overlap)
    if json_out:
        print_json({"url": url, "final_url": res.final_url, "content_type": res.content_type,
                    "n_bytes": len(res.body), "text": text, "chunks": chunks})
        return
    console.print(f"{res.final_url} ({res.content_type}, {len(res.body)} bytes): {len(text.split())} words, "
                  f"{len(chunks)} chunks", highlight=False, markup=False)
    console.print(text[:2000], highlight=False, markup=False)


@app.command("status")
def status_cmd(
    db: DbOpt = _DEFAULT_DB,
    failures: Annotated[bool, typer.Option("--failures", help="List the failed units with their errors.")] = False,
    stage: Annotated[Optional[str], typer.Option("--stage", help="Only this stage's failures.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Failures listed at most.")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Per-stage counts of finished and failed units, products, links, reviewed edits."""
    from rich.markup import escape

    from patlink.http import redact

    with _store(db, must_exist=True) as store:
        counts = store.counts()
        fails = store.failures(stage, limit) if (failures or json_out) else []
        info = {"products": len(store.products()), "links": len(store.links()),
                "patents_with_text": len(store.patent_texts()), "edits": len(store.edits())}
    for f in fails:  # rows written before errors were redacted at the source may still hold credentials
        f["error"] = redact(f["error"] or "")
    if json_out:
        print_json({"db": str(db), "stages": counts, **info, "failures": fails})
        return
    from rich.table import Table

    t = Table(title=f"pipeline status ({db})")
    t.add_column("stage")
    t.add_column("done", justify="right")
    t.add_column("failed", justify="right")
    for s, c in counts.items():
        t.add_row(s, str(c["done"]), f"[red]{c['failed']}[/red]" if c["failed"] else "0")
    console.print(t)
    console.print(", ".join(f"{k}: {v}" for k, v in info.items()))
    for f in fails:  # errors and keys are text, not rich markup
        console.print(f"[red]{f['stage']}[/red] {escape(repr(f['key']))} (x{f['attempts']}): {escape(f['error'])}",
                      highlight=False)


@app.command("export-review")
def export_review_cmd(
    out: Annotated[Path, typer.Option("--out", help="Review file: .csv, .tsv or .jsonl.")],
    db: DbOpt = _DEFAULT_DB,
    only: Annotated[str, typer.Option("--only", help="all, needs_review or unreviewed.")] = "all",
) -> None:
    """Write product descriptions for manual review (edit description, notes, exclude; then import-review)."""
    from patlink.pipeline.review import export_review

    if only not in ("all", "needs_review", "unreviewed"):
        raise PatlinkError("--only must be all, needs_review or unreviewed")
    with _store(db, must_exist=True) as store:
        n = export_review(store, out, only=only)
    console.print(f"wrote {n} rows to {out}; edit 'description', 'notes' or 'exclude', then run "
                  f"`patlink pipeline import-review {out} --reviewer YOUR_NAME`", highlight=False)


@app.command("import-review")
def import_review_cmd(
    file: Annotated[Path, typer.Argument(help="The edited review file (.csv, .tsv or .jsonl).")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who made the edits (recorded with each one).")],
    db: DbOpt = _DEFAULT_DB,
    json_out: JsonOpt = False,
) -> None:
    """Import a reviewed file; every changed field is recorded (who, when, what field, old and new value)."""
    from patlink.pipeline.review import import_review

    with _store(db, must_exist=True) as store:
        res = import_review(store, file, reviewer)
    if json_out:
        print_json(res)
        return
    console.print(f"{res['rows']} rows read; {res['fields_changed']} field(s) changed on "
                  f"{res['products_changed']} product(s), recorded as edits by {reviewer}", highlight=False)


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    db: DbOpt = _DEFAULT_DB,
) -> None:
    """Write the final data: products.jsonl (with edit flags), links.tsv, patent_summaries.jsonl, edits.jsonl."""
    from patlink.pipeline.review import export_dataset

    with _store(db, must_exist=True) as store:
        n = export_dataset(store, out)
    console.print(", ".join(f"{k}: {v}" for k, v in n.items()) + f" → {out}", highlight=False)
