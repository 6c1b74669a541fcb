"""Google BigQuery public patent data (``patents-public-data.patents.publications``), as upstream did.

El Bouari & de Rassenfosse, "Product-Patent linkage prediction", §2.1: title, abstract, claims and description of
each patent from Google's public patent data on BigQuery, "the most recent version of each patent entry". We match
rows by the canonical number derived in SQL from ``publication_number`` (``US-7852519-B2`` → ``US7852519``). One
number can have several US publications: the grant and, later, reexamination certificates (``C1``..``C9``, or
``B1``..``B9`` before 2001-01-02) that carry little text. Per number we keep the *granted* publication
(:data:`patlink.hydrate.base.US_GRANT_KINDS`), a published application only where no grant has that number, and a
certificate or other kind never over either (:func:`kind_rank_sql`, the SQL of
:func:`patlink.hydrate.base.us_kind_rank`); ties go to the one with the most text, then the latest. The kind kept is
the record's ``kind`` and ``publication_number``.

The numbers reach BigQuery only as a query parameter (``ArrayQueryParameter("numbers", "STRING", [...])``), never
inside the SQL text. ``google-cloud-bigquery`` is an optional extra (``pip install "patlink[bigquery]"``) imported
lazily; credentials come from the standard environment (``GOOGLE_APPLICATION_CREDENTIALS`` or
``gcloud auth application-default login``), the billing project from ``--bq-project`` / ``GOOGLE_CLOUD_PROJECT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from patlink.hydrate.base import (
    NOT_FOUND,
    US_APPLICATION_KINDS,
    US_B_REEXAM_BEFORE_2001,
    US_GRANT_KINDS,
    US_KIND_CODES_FROM,
    BatchResult,
    iso_date,
    us_kind_rank,
)
from patlink.hydrate.config import BigQueryConfig
from patlink.hydrate.records import PatentRecord, clean_text

__all__ = ["BigQuerySource", "build_query", "kind_rank_sql", "require_client_library", "row_to_record"]

#: What to install when the client library is missing (shown verbatim in the error).
INSTALL_HINT = 'pip install "patlink[bigquery]"'


def require_client_library():
    """The ``google.cloud.bigquery`` module; check it once before a run, not per batch.

    Raises:
        RuntimeError: ``the bigquery source needs google-cloud-bigquery: pip install "patlink[bigquery]"`` when
            the optional library is not installed.
    """
    try:
        from google.cloud import bigquery
    except ImportError as e:
        raise RuntimeError(f"the bigquery source needs google-cloud-bigquery: {INSTALL_HINT}") from e
    return bigquery

_TABLE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

# Canonical key computed from publication_number: US-<prefix><digits>-<kind> -> US<prefix><digits w/o leading 0>.
# Applications written with a 6-digit serial (US-2013210636-A1) are padded to year + 7 digits (US20130210636).
_DIGITS = "REGEXP_EXTRACT(publication_number, r'^US-[A-Z]*([0-9]+)')"
_CANON = ("CONCAT('US', REGEXP_EXTRACT(publication_number, r'^US-([A-Z]*)'), "
          f"CASE WHEN REGEXP_CONTAINS(publication_number, r'^US-(19|20)[0-9]{{8,9}}-') "
          f"THEN CONCAT(SUBSTR({_DIGITS}, 1, 4), LPAD(SUBSTR({_DIGITS}, 5), 7, '0')) "
          f"ELSE LTRIM({_DIGITS}, '0') END)")

def kind_rank_sql(kind: str = "kind_code", date: str = "publication_date") -> str:
    """SQL of :func:`patlink.hydrate.base.us_kind_rank` on columns ``kind`` and ``date`` (``YYYYMMDD`` integers, as
    in the publications table): ``0`` grant, ``1`` application, ``2`` certificate or other. Plain SQL (``CASE``,
    ``IN``, ``BETWEEN``), the same in BigQuery and DuckDB."""
    def codes(kinds: tuple[str, ...]) -> str:
        return ", ".join(f"'{k}'" for k in kinds)

    return (f"CASE WHEN {kind} IN ({codes(US_B_REEXAM_BEFORE_2001)}) AND {date} BETWEEN 1 AND {US_KIND_CODES_FROM - 1}"
            f" THEN 2 WHEN {kind} IN ({codes(US_GRANT_KINDS)}) THEN 0"
            f" WHEN {kind} IN ({codes(US_APPLICATION_KINDS)}) THEN 1 ELSE 2 END")


#: Text length of a candidate row (the tie-break after the kind).
_TEXT_LENGTH = ("LENGTH(IFNULL(title, '')) + LENGTH(IFNULL(abstract, '')) + LENGTH(IFNULL(claims, '')) "
                "+ LENGTH(IFNULL(description, ''))")

_SQL = """
WITH hits AS (
  SELECT
    {canon} AS number,
    publication_number, kind_code, family_id,
    publication_date, filing_date, grant_date, priority_date,
    (SELECT t.text FROM UNNEST(title_localized) AS t WHERE t.language = @language LIMIT 1) AS title,
    (SELECT t.text FROM UNNEST(abstract_localized) AS t WHERE t.language = @language LIMIT 1) AS abstract,
    (SELECT t.text FROM UNNEST(claims_localized) AS t WHERE t.language = @language LIMIT 1) AS claims,
    (SELECT t.text FROM UNNEST(description_localized) AS t WHERE t.language = @language LIMIT 1) AS description,
    ARRAY(SELECT c.code FROM UNNEST(cpc) AS c ORDER BY c.first DESC, c.code) AS cpc
  FROM `{table}`
  WHERE country_code = 'US'
    AND {canon} IN UNNEST(@numbers)
)
SELECT * EXCEPT (rn) FROM (
  SELECT hits.*, ROW_NUMBER() OVER (
    PARTITION BY number
    ORDER BY {rank} ASC,
             {length} DESC,
             publication_date DESC
  ) AS rn
  FROM hits
)
WHERE rn = 1
"""


def build_query(numbers: Sequence[str], config: BigQueryConfig | None = None) -> tuple[str, list[tuple[str, str, Any]]]:
    """SQL text and its parameters for one batch.

    Args:
        numbers: canonical US numbers (``US7852519``).
        config: table and language.

    Per canonical number the query keeps one publication: the grant over an application over a certificate
    (:func:`kind_rank_sql`), then the most text, then the latest ``publication_date``.

    Returns:
        ``(sql, params)`` with ``params = [("numbers", "STRING", [...]) , ("language", "STRING", "en")]``: the
        first is an array parameter, the second a scalar. The SQL references them as ``@numbers``/``@language``.

    Raises:
        ValueError: if the configured table name has characters other than letters, digits, ``-``, ``_``, ``.``
            (the table is the only identifier placed in the SQL text; it comes from configuration, not input).
    """
    config = config or BigQueryConfig()
    if not config.table or set(config.table) - _TABLE_CHARS:
        raise ValueError(f"invalid BigQuery table name {config.table!r}")
    sql = _SQL.format(table=config.table, canon=_CANON, rank=kind_rank_sql(), length=_TEXT_LENGTH)
    return sql, [("numbers", "STRING", list(numbers)), ("language", "STRING", config.language)]


def _get(row: Any, key: str) -> Any:
    if isinstance(row, dict):
        return row.get(key)
    try:
        return row[key]
    except (KeyError, IndexError, TypeError):
        return getattr(row, key, None)


def row_to_record(row: Any) -> PatentRecord:
    """One result row (a ``google.cloud.bigquery.Row`` or a dict) → :class:`PatentRecord`."""
    pub = str(_get(row, "publication_number") or "")
    return PatentRecord(
        number=str(_get(row, "number")),
        title=clean_text(_get(row, "title")),
        abstract=clean_text(_get(row, "abstract")),
        claims=clean_text(_get(row, "claims")),
        description=clean_text(_get(row, "description")),
        cpc=[str(c) for c in (_get(row, "cpc") or []) if c],
        publication_date=iso_date(_get(row, "publication_date")),
        filing_date=iso_date(_get(row, "filing_date")),
        priority_date=iso_date(_get(row, "priority_date")),
        grant_date=iso_date(_get(row, "grant_date")),
        family_id=str(_get(row, "family_id") or ""),
        kind=str(_get(row, "kind_code") or (pub.rsplit("-", 1)[-1] if pub.count("-") == 2 else "")),
        publication_number=pub,
        source="bigquery",
    )


def _preference(rec: PatentRecord) -> tuple:
    """The query's order for one record (smaller is preferred): kind rank, longer text, later publication."""
    length = sum(len(getattr(rec, f)) for f in ("title", "abstract", "claims", "description"))
    date = rec.publication_date.replace("-", "")
    return us_kind_rank(rec.kind, rec.publication_date), -length, -(int(date) if date.isdigit() else 0)


def _better(a: PatentRecord, b: PatentRecord) -> bool:
    return _preference(a) < _preference(b)


class BigQuerySource:
    """Hydrate from ``patents-public-data.patents.publications``.

    Args:
        config: table, language, billing project, byte cap.
        client: a ``google.cloud.bigquery.Client`` (or any object with ``query(sql, job_config=...)`` returning a
            job whose ``result()`` iterates rows). ``None``: one is created from the environment.

    Raises:
        RuntimeError: (on first fetch) when ``google-cloud-bigquery`` is not installed; call
            :func:`require_client_library` to check before a run (:func:`patlink.hydrate.runner.make_source` does).
    """

    name = "bigquery"

    def __init__(self, config: BigQueryConfig | None = None, client: Any = None) -> None:
        self.config = config or BigQueryConfig()
        self._client = client

    @staticmethod
    def _bq():
        return require_client_library()

    @property
    def client(self):
        if self._client is None:
            self._client = self._bq().Client(project=self.config.project, location=self.config.location)
        return self._client

    def job_config(self, params: list[tuple[str, str, Any]]):
        """A ``QueryJobConfig`` with the batch's query parameters (array ones as ``ArrayQueryParameter``)."""
        bq = self._bq()
        qp = [bq.ArrayQueryParameter(n, t, v) if isinstance(v, list) else bq.ScalarQueryParameter(n, t, v)
              for n, t, v in params]
        kwargs: dict[str, Any] = {"query_parameters": qp}
        if self.config.maximum_bytes_billed is not None:
            kwargs["maximum_bytes_billed"] = int(self.config.maximum_bytes_billed)
        return bq.QueryJobConfig(**kwargs)

    def fetch(self, numbers: Sequence[str]) -> BatchResult:
        sql, params = build_query(numbers, self.config)
        job = self.client.query(sql, job_config=self.job_config(params))
        wanted = set(numbers)
        records: dict[str, PatentRecord] = {}
        for row in job.result():
            rec = row_to_record(row)
            if rec.number in wanted and (rec.number not in records or _better(rec, records[rec.number])):
                records[rec.number] = rec  # the query gives one row a number; a second one must not win by order
        errors = {n: NOT_FOUND for n in numbers if n not in records}
        return records, errors

    def close(self) -> None:
        if self._client is not None and hasattr(self._client, "close"):
            self._client.close()
