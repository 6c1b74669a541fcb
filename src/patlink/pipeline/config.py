"""Typed configuration of the data pipeline (El Bouari & de Rassenfosse, *Product-Patent linkage prediction*, §2).
Every tunable of every stage lives here.

The defaults reproduce the paper's choices where it states them (four query templates and the top-ranked
result per query, §2.2.1; duplicate removal, a domain block list and the product-name-in-URL rule, §2.2.2) and
are otherwise conservative (polite fetching, 20 s timeouts, 10 MiB size limit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SearchConfig", "FilterConfig", "FetchConfig", "ChunkConfig", "LLMConfig", "SummaryConfig", "PipelineConfig",
    "DEFAULT_QUERY_TEMPLATES",
]

#: Query templates of §2.2.1 ("Honeywell product", "+ datasheet", "+ technical specifications", "+ user manual").
DEFAULT_QUERY_TEMPLATES: tuple[str, ...] = (
    "{company} {product}",
    "{company} {product} datasheet",
    "{company} {product} technical specifications",
    "{company} {product} user manual",
)


@dataclass
class SearchConfig:
    """Web gathering (stage ``search``).

    Attributes:
        provider: ``"google"`` (Google Programmable Search, the Custom Search JSON API), ``"brave"`` (Brave Search
            API), ``"serpapi"`` (SerpAPI's Google results, the closest to the paper's Google searches),
            ``"searxng"`` (a SearXNG JSON API at ``searxng_url``), ``"urls"`` (a user-supplied product → URL list in
            ``urls_file``) or ``"none"`` (skip web gathering).
        searxng_url: base URL of a SearXNG instance whose settings enable the ``json`` output format.
        urls_file: CSV/TSV (``product``, ``url`` columns) or JSONL (``{"product", "url"}``) for ``provider="urls"``.
        templates: query templates; ``{company}`` and ``{product}`` are substituted (``{product}`` is required).
        top_k: results kept per query (the paper keeps the top-ranked one); providers page through results when
            it exceeds one answer (Google 10 a call, up to 100; Brave 20 a call, up to 200; SerpAPI one Google
            page a call, up to 100).
        timeout_s: deadline of one attempt at the search engine, seconds (connecting plus reading the answer).
        retries: extra attempts after a transient failure (timeout, connection error, HTTP 429/5xx).
        backoff_s: first back-off delay, seconds; doubles at every retry (a ``Retry-After`` header wins).
        min_interval_s: least time between the starts of two search requests, seconds (0 = no limit; Brave's
            free plan allows one request a second).
        api_key_env: name of the environment variable holding the API key of ``google``/``brave``/``serpapi``;
            ``None`` = the provider's own: ``GOOGLE_CSE_API_KEY``, ``BRAVE_SEARCH_API_KEY``, ``SERPAPI_API_KEY``.
            The key itself is read when the provider is made and is never stored, logged, put in a cache key or
            in an error message.
        google_cx: the Programmable Search Engine ID (``cx``); ``None`` = the ``GOOGLE_CSE_ID`` variable.
        api_base_url: endpoint of the commercial API instead of the official one (a proxy, a test server), e.g.
            ``http://localhost:9000`` (the API's path is appended); ``None`` = the official endpoint.
        extra_params: extra query parameters sent to the engine (e.g. ``{"language": "en"}`` for SearXNG,
            ``{"gl": "us", "hl": "en"}`` for Google/SerpAPI, ``{"country": "US"}`` for Brave); they never replace
            the query, count, paging or key parameters.
    """

    provider: str = "none"
    searxng_url: str | None = None
    urls_file: Path | None = None
    templates: tuple[str, ...] = DEFAULT_QUERY_TEMPLATES
    top_k: int = 1
    timeout_s: float = 20.0
    retries: int = 2
    backoff_s: float = 1.0
    min_interval_s: float = 0.0
    api_key_env: str | None = None
    google_cx: str | None = None
    api_base_url: str | None = None
    extra_params: dict[str, str] = field(default_factory=dict)


@dataclass
class FilterConfig:
    """Candidate URL filtering (stage ``filter``, §2.2.2).

    Attributes:
        blocked_domains: domains (and their sub-domains) never fetched, e.g. the VPM page's own host.
        require_name_in_url: keep a URL only if the product name (or a close variant: case, separators and
            punctuation ignored) appears in its host or path. Precision over recall, as in the paper.
        min_name_chars: names whose normalised form is shorter than this are not required in the URL (too
            ambiguous to match, e.g. "X1").
        llm_judge: additionally ask the LLM whether the URL is about the product (needs an LLM endpoint).
        max_urls_per_product: cap after filtering.
    """

    blocked_domains: tuple[str, ...] = ()
    require_name_in_url: bool = True
    min_name_chars: int = 3
    llm_judge: bool = False
    max_urls_per_product: int = 8


@dataclass
class FetchConfig:
    """HTTP fetching (stage ``fetch``, §2.2.3).

    Attributes:
        timeout_s: deadline of one attempt at a page, seconds: connecting plus reading the whole body (redirects
            included), however slowly the server sends it; also the longest wait for the next bytes.
        connect_timeout_s: connect timeout, seconds.
        retries: extra attempts after a transient failure (timeout, exceeded deadline, connection error, HTTP
            429/5xx); a page takes at most ``(retries + 1) * timeout_s`` plus the back-off delays.
        backoff_s: first back-off delay; doubles at every retry.
        max_bytes: bodies larger than this are refused (``Content-Length``) or cut off while streaming: failure.
        max_redirects: more redirects than this is a failure (catches redirect loops).
        user_agent: ``User-Agent`` header, also the agent name matched in robots.txt.
        respect_robots: check ``/robots.txt`` of each host before fetching (unreachable robots.txt → allowed).
        allowed_schemes: only these URL schemes are fetched.
    """

    timeout_s: float = 20.0
    connect_timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 1.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "patlink-pipeline/0.1 (+https://pypi.org/project/patlink/)"
    respect_robots: bool = True
    allowed_schemes: tuple[str, ...] = ("http", "https")


@dataclass
class ChunkConfig:
    """Token-based chunking of extracted text (§2.2.3).

    Attributes:
        max_tokens: tokens per chunk.
        overlap: tokens shared by consecutive chunks (``0 <= overlap < max_tokens``).
        tokenizer: ``"whitespace"`` (a token is a run of non-space characters) or the name/path of a
            Hugging Face tokenizer loaded offline, e.g. ``"minilm"`` (model tokens).
        max_chunks_per_page: chunks beyond this per page are dropped (huge pages), reported in the output.
    """

    max_tokens: int = 512
    overlap: int = 64
    tokenizer: str = "whitespace"
    max_chunks_per_page: int = 40


@dataclass
class LLMConfig:
    """An OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp server, hosted APIs).

    Attributes:
        base_url: e.g. ``http://localhost:8000/v1``; ``None`` selects the offline extractive summariser.
        model: model name sent in each request (required with ``base_url``).
        api_key_env: name of the environment variable holding the API key (the key itself is never stored,
            logged or put in error messages). Unset variable → no ``Authorization`` header.
        temperature: sampling temperature (0 = greedy, reproducible).
        max_tokens: completion token limit per call.
        timeout_s: per-request timeout, seconds.
        retries: extra attempts after a transient failure (timeout, connection error, HTTP 429/5xx).
        backoff_s: first back-off delay, doubling.
    """

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "PATLINK_LLM_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float = 120.0
    retries: int = 2
    backoff_s: float = 2.0

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None


@dataclass
class SummaryConfig:
    """Condensation (§2.2.3–2.2.4, §2.1).

    Attributes:
        embed_model: sentence model of the offline extractive summariser (bundled ``minilm``).
        bullets_per_chunk: sentences kept per chunk by the extractive summariser (the LLM decides itself).
        product_max_words: length budget of a product paragraph, words.
        patent_max_words: length budget of a patent summary, words; the default keeps it inside a 256-token
            encoder window (about 1.3 model tokens per English word).
        dedup_threshold: bullets whose embedding cosine similarity exceeds this are near-duplicates (offline).
        patent_fields: patent fields concatenated into the full text, in order.
        chunk_tokens: the text one model call may read, tokens of ``tokenizer``: a patent's full text is cut into
            chunks of this size (map), and notes are merged in groups of at most this size (reduce, in rounds),
            so nothing of a long patent is dropped. With the default whitespace tokens (about 1.3 model tokens a
            word) 1,500 fits a 4,096-token context with the prompt and a 512-token answer; raise it for
            long-context servers (fewer calls).
        chunk_overlap: tokens shared by consecutive chunks (``0 <= chunk_overlap < chunk_tokens``).
        tokenizer: how ``chunk_tokens`` are counted: ``"whitespace"`` or a Hugging Face tokenizer name loaded
            offline (see :func:`patlink.data.chunking.token_spans`).
        note_max_words: length budget of a chunk's notes (map) and of an intermediate merge (reduce round),
            words; at most half of ``chunk_tokens`` so that any two notes fit one merge call.
    """

    embed_model: str = "minilm"
    bullets_per_chunk: int = 5
    product_max_words: int = 150
    patent_max_words: int = 180
    dedup_threshold: float = 0.92
    patent_fields: tuple[str, ...] = ("title", "abstract", "claims", "description")
    chunk_tokens: int = 1500
    chunk_overlap: int = 100
    tokenizer: str = "whitespace"
    note_max_words: int = 150


@dataclass
class PipelineConfig:
    """Everything one ``patlink pipeline run`` needs.

    Attributes:
        company: company name substituted into the query templates (e.g. ``"Honeywell"``).
        db_path: the DuckDB cache holding every stage's output.
        show_progress: progress bars on stderr.
    """

    company: str = ""
    db_path: Path = Path("patlink_pipeline.duckdb")
    search: SearchConfig = field(default_factory=SearchConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    show_progress: bool = True
