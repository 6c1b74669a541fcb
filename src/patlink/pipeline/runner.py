"""Run the pipeline's stages in order against one :class:`~patlink.pipeline.store.PipelineStore`.

Order: ``vpm`` (sources → products, links) → ``search`` (per product and query) → ``filter`` (per product) →
``judge`` (optional, per product and URL) → ``fetch`` (per URL) → ``extract`` (per fetched body: text and
chunks) → ``bullets`` (per product and chunk) → ``condense`` (per product) → ``patent_summary`` (per patent;
its map/reduce steps are cached one by one as ``patent_step``).
Every unit goes through :meth:`PipelineStore.run_cached`: done work is skipped, failures are recorded and the
run goes on, and an interrupted run (Ctrl-C, crash) resumes from the last finished unit. A failure's message is
passed through :func:`patlink.http.redact` (with the LLM key) before it is stored, whichever stage raised it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from patlink.data.numbers import normalize_publication_number
from patlink.data.vpm import normalize_product_name
from patlink.http import redact
from patlink.pipeline.config import PipelineConfig
from patlink.pipeline.store import PipelineStore, input_hash

__all__ = ["run_pipeline", "read_products_file", "read_patents_file", "ingest_vpm", "RUN_STAGES", "PipelineRun"]

RUN_STAGES = ("vpm", "search", "filter", "fetch", "extract", "condense", "patents")


def _redacting(fn, secrets: tuple[str, ...] = ()):
    """``fn`` whose exceptions carry no secret: a message :func:`redact` changes is re-raised as an exception of
    the same class name (what the store records) with the redacted message."""
    def run():
        try:
            return fn()
        except Exception as e:
            text = str(e)
            clean = redact(text, secrets)
            if clean == text:
                raise
            raise type(type(e).__name__, (Exception,), {"__module__": __name__})(clean) from None

    return run


class _FatalSearch(BaseException):
    """Carries a fatal :class:`~patlink.pipeline.search.SearchError` (key rejected, quota exhausted) past
    :meth:`PipelineStore.run_cached`, which then records nothing for the query (internal)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _search_unit(provider, query: str | None, product: str, top_k: int) -> list[dict]:
    """One search unit: the provider's results as dicts; a fatal search error becomes :class:`_FatalSearch`."""
    from patlink.pipeline.search import SearchError

    try:
        return [r.to_dict() for r in provider.search(query, product, top_k)]
    except SearchError as e:
        if e.fatal:
            raise _FatalSearch(e) from None
        raise


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def read_products_file(path: str | Path) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Products (and links, if the file has patent numbers) from a user file.

    Formats: ``.txt`` one product per line (``#`` comments); ``.csv``/``.tsv`` with a ``product``/``name``
    column (a ``patent`` column makes it a raw VPM table, read by ``parse_vpm_table``); ``.jsonl`` objects with
    ``product`` or ``name`` (and optional ``patents``: list); ``.html``/``.htm``/``.pdf``: a saved VPM page.

    Returns:
        ``(products, links)`` with links as ``(product, canonical patent, evidence)``.

    Raises:
        FileNotFoundError, ValueError (malformed line, with its number; no product column; empty file).
    """
    from patlink.pipeline.vpm_page import parse_vpm_bytes

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"products file not found: {path}")
    suffix = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 else path.suffix
    suffix = suffix.lower()
    if suffix in (".html", ".htm", ".pdf"):
        page = parse_vpm_bytes(path.read_bytes(), name=path.name)
        return page.products, page.links
    text = _read_text(path)
    products: list[str] = []
    links: list[tuple[str, str, str]] = []
    if suffix in (".jsonl", ".json"):
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                name = normalize_product_name(obj.get("product") or obj["name"])
                pats = obj.get("patents") or []
                for p in pats:
                    links.append((name, normalize_publication_number(str(p)), f"{path.name}:{i}"))
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ValueError(f"{path}:{i}: expected {{\"product\": ..., \"patents\": [...]}}: {e}") from None
            if name:
                products.append(name)
    elif suffix in (".csv", ".tsv"):
        first = text.split("\n", 1)[0].lower()
        delim = "\t" if suffix == ".tsv" or "\t" in first else ","
        if "patent" in first:
            page = parse_vpm_bytes(text.encode(), name=path.name if delim == "\t" else path.stem + ".csv")
            return page.products, page.links
        reader = csv.reader(io.StringIO(text), delimiter=delim)
        header = [h.strip().lower() for h in next(reader, [])]
        col = next((i for i, h in enumerate(header) if h in ("product", "name", "product name", "product_name")),
                   None)
        if col is None:
            raise ValueError(f"{path}: no 'product' or 'name' column in header {header}")
        for row in reader:
            if len(row) <= col:
                raise ValueError(f"{path}:{reader.line_num}: expected {len(header)} columns, got {len(row)}")
            name = normalize_product_name(row[col])
            if name:
                products.append(name)
    else:
        for line in text.splitlines():
            name = normalize_product_name(line.split("#", 1)[0])
            if name:
                products.append(name)
    products = list(dict.fromkeys(products + [p for p, _, _ in links]))
    if not products:
        raise ValueError(f"{path}: no products found")
    return products, links


def read_patents_file(path: str | Path, fields: Iterable[str] = ("title", "abstract", "claims", "description"),
                      ) -> dict[str, str]:
    """Patent full texts from JSONL (``id``/``_id``/``patent`` + text fields, or ``text``), e.g. a BEIR corpus.

    Ids are normalised with :func:`normalize_publication_number` when they parse as publication numbers.

    Returns:
        ``{patent id: full text}`` (fields joined by blank lines, in ``fields`` order).

    Raises:
        FileNotFoundError; ValueError for a malformed line (with its number).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"patents file not found: {path}")
    out: dict[str, str] = {}
    for i, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            pid = str(obj.get("id") or obj.get("_id") or obj["patent"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}:{i}: expected a JSON object with an 'id' and text fields: {e}") from None
        try:
            pid = normalize_publication_number(pid)
        except ValueError:
            pass
        parts = [str(obj[f]) for f in fields if obj.get(f)]
        if not parts and obj.get("text"):
            parts = [str(obj["text"])]
        out[pid] = "\n\n".join(parts)
    return out


def ingest_vpm(store: PipelineStore, source: str, fetcher=None, *, refresh: bool = False) -> tuple[str, Any]:
    """Stage ``vpm`` for one source (URL or file): parse it, add its products and links to the store.

    Returns:
        ``(status, output)`` of :meth:`PipelineStore.run_cached`; output is
        ``{"products": n, "links": n, "patents": n, "anomalies": [[where, kind, detail], ...]}``.
    """
    from patlink.pipeline.vpm_page import load_vpm_source, parse_vpm_bytes

    def work():
        body, ctype = load_vpm_source(source, fetcher)
        page = parse_vpm_bytes(body, content_type=ctype, name=source)
        if not page.links:
            raise ValueError(f"no (product, patent) pairs found in {source}")
        store.add_products(page.products, source)
        store.add_links(page.links, source)
        return {"products": len(page.products), "links": len(page.links), "patents": len(page.patents),
                "anomalies": [list(a) for a in page.anomalies]}

    ihash = input_hash("vpm", source, Path(source).stat().st_mtime if Path(source).is_file() else None)
    return store.run_cached("vpm", source, ihash, _redacting(work), retry_failed=refresh)


class _StageCache:
    """The :class:`~patlink.pipeline.summarise.SummaryCache` of the patent summaries' map/reduce steps in the
    pipeline database (stage ``patent_step`` of ``stage_cache``, one row per step, committed at once)."""

    stage = "patent_step"

    def __init__(self, store: PipelineStore) -> None:
        self.store = store

    def get(self, key: str) -> str | None:
        row = self.store.get(self.stage, key)
        return row.output if row is not None and row.status == "done" else None

    def put(self, key: str, output: str, *, kind: str, number: str) -> None:
        self.store.put(self.stage, key, key, "done", output=output)


class PipelineRun:
    """One run over a store. Use :func:`run_pipeline`; the object keeps per-stage counters in ``report``."""

    def __init__(self, cfg: PipelineConfig, store: PipelineStore, *, retry_failed: bool = False, sleep=None):
        import time

        from patlink.pipeline.condense import Condenser
        from patlink.pipeline.fetch import Fetcher
        from patlink.pipeline.llm import ChatClient

        self.cfg = cfg
        self.store = store
        self.retry_failed = retry_failed
        self.report: dict[str, Counter] = {}
        sleep = sleep or time.sleep
        self._sleep = sleep
        self.fetcher = Fetcher(cfg.fetch, sleep=sleep)
        self.llm = ChatClient(cfg.llm, sleep=sleep) if cfg.llm.enabled else None
        self.condenser = Condenser(self.llm, cfg.summary, cache=_StageCache(store))
        #: URL -> chunks of its page beyond ``ChunkConfig.max_chunks_per_page`` (not condensed; reported)
        self.dropped_chunks: dict[str, int] = {}
        self._secrets = tuple(k for k in (cfg.llm.api_key(),) if k)

    def close(self) -> None:
        self.fetcher.close()
        if self.llm:
            self.llm.close()

    def _do(self, stage: str, key: str, ihash: str, fn) -> tuple[str, Any]:
        status, out = self.store.run_cached(stage, key, ihash, _redacting(fn, self._secrets),
                                            retry_failed=self.retry_failed)
        self.report.setdefault(stage, Counter())[status] += 1
        return status, out

    def _bar(self, items, desc: str):
        from tqdm.auto import tqdm

        items = list(items)
        return tqdm(items, desc=desc, unit="item", disable=not self.cfg.show_progress or not items, leave=False)

    # -- stages ----------------------------------------------------------------------------------------------
    def search(self, products: list[str]) -> dict[str, list[str]]:
        """Candidate URLs per product (query order, rank order).

        Raises:
            SearchError: a fatal one (key rejected, quota exhausted): the stage stops, nothing is recorded for
                that query, and a re-run resumes from it.
        """
        from patlink.pipeline.search import build_queries, make_provider

        provider = make_provider(self.cfg.search, sleep=self._sleep)
        cands: dict[str, list[str]] = {p: [] for p in products}
        if provider is None:
            return cands
        sc = self.cfg.search
        jobs = []
        for prod in products:
            if provider.uses_queries:
                jobs += [(prod, q) for q in build_queries(self.cfg.company, prod, sc.templates)]
            else:
                jobs.append((prod, None))
        # what the results depend on besides the query (endpoint, engine ID; never a key)
        source = getattr(provider, "cache_id", getattr(provider, "base_url", None))
        try:
            for prod, q in self._bar(jobs, "search"):
                if provider.uses_queries:
                    key = f"{provider.name}|{q}|top{sc.top_k}"
                    ihash = input_hash(provider.name, source, q, sc.top_k, sc.extra_params)
                else:
                    key = f"{provider.name}|{prod}"
                    ihash = input_hash(provider.name, provider.search(None, prod, 10**6))
                status, out = self._do("search", key, ihash, lambda: _search_unit(provider, q, prod, sc.top_k))
                for r in out or []:
                    cands[prod].append(r["url"])
        except _FatalSearch as stop:
            raise stop.error from None
        finally:
            close = getattr(provider, "close", None)
            if callable(close):
                close()
        return cands

    def filter(self, cands: dict[str, list[str]]) -> dict[str, list[str]]:
        from patlink.pipeline.filtering import filter_urls

        kept: dict[str, list[str]] = {}
        for prod, urls in self._bar(cands.items(), "filter"):
            ihash = input_hash(urls, asdict(self.cfg.filter), self.cfg.company)
            _, out = self._do("filter", prod, ihash,
                              lambda: filter_urls(prod, urls, self.cfg.filter, self.cfg.company).to_dict())
            kept[prod] = list((out or {}).get("kept", []))
        if self.cfg.filter.llm_judge:
            fp = self.condenser.fingerprint("judge")
            jobs = [(p, u) for p, us in kept.items() for u in us]
            verdict: dict[tuple[str, str], bool] = {}
            for prod, url in self._bar(jobs, "judge"):
                _, out = self._do("judge", f"{prod}\x1f{url}", input_hash(prod, url, fp),
                                  lambda: self.condenser.judge_url(prod, url))
                verdict[(prod, url)] = bool(out)  # failed judge → not kept (precision first)
            kept = {p: [u for u in us if verdict[(p, u)]] for p, us in kept.items()}
        return kept

    def fetch_and_extract(self, urls: list[str]) -> dict[str, list[str]]:
        """Chunks per URL (URLs that failed are absent)."""
        from patlink.pipeline.extract import chunk_text, extract_text

        fc, cc = self.cfg.fetch, self.cfg.chunk
        fhash = input_hash("fetch", fc.max_bytes, fc.respect_robots, fc.allowed_schemes)

        def fetch(url):
            res = self.fetcher.fetch(url, extractable_only=True)
            sha = self.store.put_page(url, res.final_url, res.status_code, res.content_type, res.body)
            return {"final_url": res.final_url, "status_code": res.status_code, "content_type": res.content_type,
                    "n_bytes": len(res.body), "sha1": sha}

        fetched = {}
        for url in self._bar(urls, "fetch"):
            _, out = self._do("fetch", url, fhash, lambda: fetch(url))
            if out:
                fetched[url] = out

        chunks: dict[str, list[str]] = {}
        for url, meta in self._bar(fetched.items(), "extract"):
            def extract():
                page = self.store.get_page(url)
                if page is None:
                    raise ValueError("fetched body missing from the pages table (re-fetch with --retry-failed)")
                text = extract_text(page["body"], page["content_type"] or "", page["final_url"] or url)
                if not text.strip():
                    raise ValueError("no text extracted")
                ch = chunk_text(text, cc.max_tokens, cc.overlap, cc.tokenizer)
                return {"n_chars": len(text), "n_chunks_total": len(ch), "chunks": ch[: cc.max_chunks_per_page]}

            _, out = self._do("extract", url, input_hash(meta["sha1"], asdict(cc)), extract)
            if out:
                chunks[url] = out["chunks"]
                dropped = int(out.get("n_chunks_total", len(out["chunks"]))) - len(out["chunks"])
                if dropped > 0:
                    self.dropped_chunks[url] = dropped
                    self.report.setdefault("extract", Counter())["dropped_chunks"] += dropped
        return chunks

    def condense(self, kept: dict[str, list[str]], chunks: dict[str, list[str]]) -> None:
        bfp = self.condenser.fingerprint("bullets")
        jobs = [(p, u, i, c) for p, us in kept.items() for u in us for i, c in enumerate(chunks.get(u, []))]
        per_product: dict[str, list[str]] = {p: [] for p in kept}
        for prod, url, i, chunk in self._bar(jobs, "bullets"):
            h = input_hash(prod, chunk, bfp)
            _, out = self._do("bullets", f"{prod}\x1f{h}", h, lambda: self.condenser.bullets(prod, chunk))
            per_product[prod] += out or []
        pfp = self.condenser.fingerprint("paragraph")
        for prod, bullets in self._bar(per_product.items(), "condense"):
            def write():
                uniq = self.condenser.dedupe(bullets)
                text, rounds = self.condenser.paragraph_rounds(prod, uniq)
                urls = [u for u in kept[prod] if u in chunks]
                return {"description": text, "method": self.condenser.method, "n_bullets": len(uniq),
                        "bullets": uniq, "urls": urls, "merge_rounds": rounds,
                        "dropped_chunks": {u: self.dropped_chunks[u] for u in urls if u in self.dropped_chunks}}

            self._do("condense", prod, input_hash(prod, bullets, pfp), write)

    def patents(self) -> None:
        fp = self.condenser.fingerprint("patent")
        for pid, text in self._bar(self.store.patent_texts().items(), "patent summaries"):
            self._do("patent_summary", pid, input_hash(pid, text, fp),
                     lambda: {"summary": self.condenser.patent_summary(pid, text), "method": self.condenser.method})


def run_pipeline(cfg: PipelineConfig, store: PipelineStore, *, products_file: str | Path | None = None,
                 vpm_sources: Iterable[str] = (), patents_file: str | Path | None = None,
                 until: str = "patents", retry_failed: bool = False, sleep=None) -> dict[str, dict]:
    """Run the selected stages (all by default) and return per-stage counters.

    Args:
        cfg: pipeline settings.
        store: the DuckDB cache (products/links accumulate across runs).
        products_file: products (and optionally links) to add, see :func:`read_products_file`.
        vpm_sources: VPM pages (URLs or files) to parse first.
        patents_file: patent full texts to summarise, see :func:`read_patents_file`.
        until: last stage to run, one of :data:`RUN_STAGES` (``vpm``, ``search``, ``filter``, ``fetch`` (with
            extraction), ``condense`` (bullets + paragraph), ``patents``); earlier stages are served from the cache.
        retry_failed: retry units that failed ``store.max_attempts`` times.
        sleep: back-off delay function (tests).

    Returns:
        ``{stage: {"done": n, "cached": n, "failed": n, "gave_up": n}}`` for this run; ``extract`` also has
        ``dropped_chunks`` (chunks beyond ``ChunkConfig.max_chunks_per_page``, not condensed) when there were any.

    Raises:
        ValueError: unknown stage, bad input files, no products, a search provider that cannot be made (unset key
            variable, named).
        SearchError: a fatal search failure (key rejected, quota exhausted), see :meth:`PipelineRun.search`.
    """
    if until not in RUN_STAGES:
        raise ValueError(f"unknown stage {until!r}; choose from {', '.join(RUN_STAGES)}")
    stages = RUN_STAGES[: RUN_STAGES.index(until) + 1]
    if products_file is not None:
        prods, links = read_products_file(products_file)
        store.add_products(prods, str(products_file))
        store.add_links(links, str(products_file))
    if patents_file is not None:
        store.add_patent_texts(read_patents_file(patents_file, cfg.summary.patent_fields))
    run = PipelineRun(cfg, store, retry_failed=retry_failed, sleep=sleep)
    try:
        if "vpm" in stages:
            for src in vpm_sources:
                status, _ = ingest_vpm(store, src, run.fetcher, refresh=retry_failed)
                run.report.setdefault("vpm", Counter())[status] += 1
        products = store.products()
        if not products and not (("patents" in stages) and store.patent_texts()):
            raise ValueError("nothing to do: no products (give --products FILE or --vpm PAGE) and no patent texts")
        kept: dict[str, list[str]] = {p: [] for p in products}
        if "search" in stages:
            cands = run.search(products)
            if "filter" in stages:
                kept = run.filter(cands)
        chunks: dict[str, list[str]] = {}
        if "fetch" in stages:
            urls = list(dict.fromkeys(u for us in kept.values() for u in us))
            chunks = run.fetch_and_extract(urls)
        if "condense" in stages:
            run.condense(kept, chunks)
        if "patents" in stages:
            run.patents()
    finally:
        run.close()
    base = ("done", "cached", "failed", "gave_up")
    return {s: {**{k: int(c.get(k, 0)) for k in base}, **{k: int(v) for k, v in c.items() if k not in base}}
            for s, c in run.report.items()}
