"""Typed configuration of patent hydration (``patlink hydrate``): sources, HTTP behaviour, store location.

Every tunable of :mod:`patlink.hydrate` lives here; modules never hold scattered constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from patlink.config import resolve_cache_dir
from patlink.http import HttpConfig  # the HTTP client is shared with the data pipeline

__all__ = [
    "SOURCES",
    "BigQueryConfig",
    "BulkConfig",
    "GooglePatentsConfig",
    "HttpConfig",
    "HydrateConfig",
    "PatentsViewConfig",
    "default_db_path",
]

#: Names accepted by ``--source``.
SOURCES = ("bigquery", "patentsview", "google-html", "bulk")


def default_db_path(cache_dir: str | Path | None = None) -> Path:
    """Where ``patlink hydrate`` writes when given no ``--db``: ``cache_dir / "hydrate.duckdb"``.

    Args:
        cache_dir: patlink cache root (``None``: :func:`patlink.config.default_cache_dir`, i.e. ``$PATLINK_CACHE``
            or ``~/.cache/patlink``).

    Nothing reads this path implicitly: datasets get patent texts only from a store passed to them
    (``load_dataset(name, texts=...)``, ``--texts PATH``).
    """
    return resolve_cache_dir(cache_dir) / "hydrate.duckdb"


@dataclass
class BigQueryConfig:
    """Google BigQuery public patent data: title, abstract, claims, description (the source of El Bouari &
    de Rassenfosse, "Product-Patent linkage prediction", §2.1) of each number's granted publication (see
    :mod:`patlink.hydrate.bigquery`).

    Attributes:
        table: fully-qualified table; the public one is ``patents-public-data.patents.publications``.
        project: billing project of the query job (``None``: the client's default from the environment).
        language: language of the ``*_localized`` text fields kept.
        location: BigQuery job location (``None``: client default).
        maximum_bytes_billed: refuse queries that would bill more (``None``: no cap). The publications table is
            large (several TB); a full-text query scans the text columns of every US row.
    """

    table: str = "patents-public-data.patents.publications"
    project: str | None = None
    language: str = "en"
    location: str | None = None
    maximum_bytes_billed: int | None = None


@dataclass
class PatentsViewConfig:
    """PatentsView PatentSearch API (https://search.patentsview.org, API key in header ``X-Api-Key``).

    Attributes:
        base_url: API root; tests point it at a local server.
        api_key_env: environment variable holding the API key (never logged).
        page_size: records per page (``o.size``, the API allows up to 1000).
        claims: also fetch claims (``/api/v1/g_claim/``, one extra paged query per batch).
        description: also fetch the detailed description (``/api/v1/g_detail_desc_text/``).
        min_interval_s: rate limit; the API allows 45 requests/minute per key.
    """

    base_url: str = "https://search.patentsview.org"
    api_key_env: str = "PATENTSVIEW_API_KEY"
    page_size: int = 1000
    claims: bool = True
    description: bool = True
    min_interval_s: float = 60.0 / 45.0


@dataclass
class GooglePatentsConfig:
    """Google Patents HTML pages, saved (``html_dir``) or fetched (``base_url``/patent/{number}/en).

    Attributes:
        html_dir: folder of saved pages named after the publication (``US7852519B2.html``, ``US7852519.htm`` ...);
            when set, nothing is fetched.
        base_url: site root for fetching; tests point it at a local server.
        min_interval_s: rate limit between page fetches, seconds (be polite).
    """

    html_dir: Path | None = None
    base_url: str = "https://patents.google.com"
    min_interval_s: float = 2.0


@dataclass
class BulkConfig:
    """Local bulk files.

    Attributes:
        bulk_dir: folder holding any of: PatentsView ``g_patent.tsv``, ``g_patent_abstract.tsv``,
            ``g_cpc_current.tsv``, ``g_us_patent_citation.tsv``, ``g_claims_*.tsv``, ``g_detail_desc_text_*.tsv``
            (plain or ``.gz``; unzip PatentsView's ``.zip`` first), and/or USPTO grant full-text XML
            (``ipg*.xml`` or the ``ipg*.zip`` USPTO ships).
    """

    bulk_dir: Path | None = None


@dataclass
class HydrateConfig:
    """One hydration run.

    Attributes:
        source: one of :data:`SOURCES`.
        db_path: DuckDB store written (``None``: :func:`default_db_path` of the default cache root).
        batch_size: numbers per source request / per store checkpoint (``None``: the source's default, see
            :data:`patlink.hydrate.runner.DEFAULT_BATCH`: one BigQuery query scans the whole text columns, so
            BigQuery uses 5,000; PatentsView 100; Google pages 10; bulk 10,000).
        retry_failed: re-try numbers recorded as failed by an earlier run (complete stored ones are always skipped).
        refetch_incomplete: fetch again the stored records that are incomplete
            (:func:`patlink.hydrate.runner.incomplete_reason`: no text at all, a utility grant without claims ...);
            ``False``: keep them and only report them.
        limit: hydrate only the first ``limit`` numbers still missing or incomplete (``None``: all).
    """

    source: str = "bulk"
    db_path: Path | None = None
    batch_size: int | None = None
    retry_failed: bool = True
    refetch_incomplete: bool = True
    limit: int | None = None
    http: HttpConfig = field(default_factory=HttpConfig)
    bigquery: BigQueryConfig = field(default_factory=BigQueryConfig)
    patentsview: PatentsViewConfig = field(default_factory=PatentsViewConfig)
    google: GooglePatentsConfig = field(default_factory=GooglePatentsConfig)
    bulk: BulkConfig = field(default_factory=BulkConfig)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown hydration source {self.source!r}; choose one of: {', '.join(SOURCES)}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
