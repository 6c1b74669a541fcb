"""Patent summaries inside a hydration store: the ``summaries`` table and the cache of map/reduce outputs.

Two tables of the store's DuckDB file (:class:`patlink.hydrate.store.HydrationStore`), created on the first write
(a store hydrated before they existed opens as it is and reads as having no summaries):

* ``summaries`` — one current summary per patent: ``number`` (primary key: the canonical publication number, or
  the document id as given when it is not a publication number, e.g. a BEIR corpus id), ``summary``, ``method``
  (``llm`` or ``extractive``), ``model`` (the LLM's name, or ``lexrank:<sentence model>``), ``prompt_hash`` (of
  the prompt templates, or of the extractive settings), ``n_chunks`` (chunks the full text was cut into),
  ``words_in`` (words of the full text), ``words_out`` (words of the summary), ``created_at`` (UTC). Rewriting a
  number replaces its row.
* ``summary_cache`` — every map and reduce output: ``key`` (primary key, the SHA-1 of everything the output
  depends on: job, patent, model fingerprint, prompt hash, budgets and input text), ``kind`` (``map``, ``reduce``,
  ``direct``), ``number``, ``output``, ``created_at``. Each output is written as soon as it is computed (one
  statement, atomic), so an interrupted run loses at most the call in flight.

:meth:`patlink.hydrate.store.HydrationStore.texts_for` returns a patent's summary as its ``summary`` field.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from patlink.hydrate.store import HydrationStore

__all__ = ["SUMMARY_TABLES", "SummaryRow", "StoreSummaries", "SummaryCacheTable"]

#: The tables this module owns (a store holding them is still a hydration store).
SUMMARY_TABLES = ("summaries", "summary_cache")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS summaries (
    number VARCHAR PRIMARY KEY,
    summary VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    model VARCHAR,
    prompt_hash VARCHAR,
    n_chunks INTEGER,
    words_in INTEGER,
    words_out INTEGER,
    created_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS summary_cache (
    key VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    number VARCHAR,
    output VARCHAR NOT NULL,
    created_at TIMESTAMP
);
"""

_COLS = ("number", "summary", "method", "model", "prompt_hash", "n_chunks", "words_in", "words_out", "created_at")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class SummaryRow:
    """One row of ``summaries`` (see the module docstring for the columns)."""

    number: str
    summary: str
    method: str
    model: str
    prompt_hash: str
    n_chunks: int
    words_in: int
    words_out: int
    created_at: datetime | None = None


def _storage_errors(method):
    """DuckDB failures of an open store become the store's one-line ``ValueError`` naming the file."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        import duckdb

        try:
            return method(self, *args, **kwargs)
        except duckdb.Error as e:
            from patlink.hydrate.store import _storage_error

            raise _storage_error(self.store.path, e) from None

    return wrapper


class StoreSummaries:
    """The ``summaries`` table of one open :class:`~patlink.hydrate.store.HydrationStore` (``store.summaries``).

    Raises:
        ValueError: writing to a store opened ``read_only``; a damaged file (the store's message).
    """

    def __init__(self, store: HydrationStore) -> None:
        self.store = store
        self.cache = SummaryCacheTable(self)

    # ------------------------------------------------------------------------------------------------ tables
    def exists(self) -> bool:
        """Whether the store has the summary tables (old stores do not until the first write)."""
        rows = self.store.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_name IN "
            "('summaries', 'summary_cache')").fetchall()
        return len(rows) == len(SUMMARY_TABLES)

    def ensure(self) -> None:
        """Create the tables if missing (writable stores only)."""
        if self.store.read_only:
            raise ValueError(f"hydration store {self.store.path} is open read-only: open it writable to store "
                             "summaries")
        self.store.con.execute(_SCHEMA)

    # ---------------------------------------------------------------------------------------------- reading
    @_storage_errors
    def get(self, number: str) -> SummaryRow | None:
        """The stored row of ``number`` (as stored: canonical number or raw id), or ``None``."""
        if not self.exists():
            return None
        row = self.store.con.execute(f"SELECT {', '.join(_COLS)} FROM summaries WHERE number = ?",
                                     [number]).fetchone()
        return SummaryRow(*row) if row else None

    @_storage_errors
    def texts(self, numbers: Iterable[str]) -> dict[str, str]:
        """``{number: summary}`` for the ``numbers`` (as stored) that have one."""
        nums = sorted(set(numbers))
        if not nums or not self.exists():
            return {}
        rows = self.store.con.execute(
            "SELECT number, summary FROM summaries WHERE number IN (SELECT unnest(?::VARCHAR[]))", [nums]).fetchall()
        return {n: s for n, s in rows}

    @_storage_errors
    def count(self) -> int:
        """Number of stored summaries (0 for a store without the table)."""
        if not self.exists():
            return 0
        return int(self.store.con.execute("SELECT count(*) FROM summaries").fetchone()[0])

    # ---------------------------------------------------------------------------------------------- writing
    @_storage_errors
    def put(self, row: SummaryRow) -> None:
        """Insert or replace the summary of ``row.number`` (one statement: all or nothing)."""
        self.ensure()
        self.store.con.execute(
            f"INSERT OR REPLACE INTO summaries ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})",
            [row.number, row.summary, row.method, row.model, row.prompt_hash, int(row.n_chunks), int(row.words_in),
             int(row.words_out), row.created_at or _now()])


class SummaryCacheTable:
    """The ``summary_cache`` table: the :class:`patlink.pipeline.summarise.SummaryCache` contract
    (``get(key)``, ``put(key, output, kind=..., number=...)``) over one store."""

    def __init__(self, owner: StoreSummaries) -> None:
        self.owner = owner
        self.store = owner.store
        self._ready = False

    @_storage_errors
    def get(self, key: str) -> str | None:
        """The cached output of ``key``, or ``None``."""
        if not self._ready and not self.owner.exists():
            return None
        self._ready = True
        row = self.store.con.execute("SELECT output FROM summary_cache WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    @_storage_errors
    def put(self, key: str, output: str, *, kind: str, number: str) -> None:
        """Store one output (one statement, committed at once)."""
        if not self._ready:
            self.owner.ensure()
            self._ready = True
        self.store.con.execute("INSERT OR REPLACE INTO summary_cache VALUES (?, ?, ?, ?, ?)",
                               [key, kind, number, output, _now()])

    @_storage_errors
    def count(self) -> int:
        """Number of cached outputs (0 for a store without the table)."""
        if not self.owner.exists():
            return 0
        return int(self.store.con.execute("SELECT count(*) FROM summary_cache").fetchone()[0])
