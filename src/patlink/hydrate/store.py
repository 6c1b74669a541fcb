"""DuckDB store of hydrated patents: resumable cache of every source, and the reader the datasets use.

Tables (one DuckDB file, default ``patlink.config.cache_dir() / "hydrate.duckdb"``):

* ``patents`` — one row per canonical publication number (:class:`~patlink.hydrate.records.PatentRecord` columns;
  ``cpc`` and ``citations`` as ``VARCHAR[]``, ``fetched_at`` timestamp). Re-fetching replaces the row.
* ``failures`` — numbers a source could not deliver: ``number, source, error, attempts, failed_at``. A later
  success deletes the failure row.

Each batch is written in one transaction, so an interrupted run loses at most the batch in flight and the next
run skips what is already stored (:meth:`HydrationStore.missing`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path

from patlink.hydrate.records import STRING_FIELDS, PatentRecord

__all__ = ["HydrationStore", "default_db_path", "hydrated_texts"]

log = logging.getLogger(__name__)

_LIST_COLS = {"cpc", "citations"}
_COLS = [f.name for f in fields(PatentRecord)]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS patents (
    number VARCHAR PRIMARY KEY,
    title VARCHAR, abstract VARCHAR, claims VARCHAR, description VARCHAR,
    cpc VARCHAR[],
    publication_date VARCHAR, filing_date VARCHAR, priority_date VARCHAR, grant_date VARCHAR,
    family_id VARCHAR, kind VARCHAR, publication_number VARCHAR,
    citations VARCHAR[],
    source VARCHAR,
    fetched_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS failures (
    number VARCHAR PRIMARY KEY,
    source VARCHAR,
    error VARCHAR,
    attempts INTEGER,
    failed_at TIMESTAMP DEFAULT current_timestamp
);
"""


def default_db_path() -> Path:
    """``patlink.config.cache_dir() / "hydrate.duckdb"`` (resolved at call time, so ``$PATLINK_CACHE`` applies)."""
    from patlink.hydrate.config import default_db_path as _d

    return _d()


class HydrationStore:
    """Read/write access to one hydration DuckDB file. Use as a context manager (closes the connection).

    Args:
        db_path: the DuckDB file; created (with parent folders) on first use. ``None``: :func:`default_db_path`.
        read_only: open without write access (fails if the file does not exist).

    Raises:
        duckdb.IOException: if another process holds the file open for writing (DuckDB's single-writer lock).
    """

    def __init__(self, db_path: str | Path | None = None, read_only: bool = False) -> None:
        import duckdb

        self.path = Path(db_path) if db_path is not None else default_db_path()
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            self.con.execute(_SCHEMA)

    # -------------------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> HydrationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------- queries
    def _numbers_in(self, table: str, numbers: Sequence[str]) -> set[str]:
        if not numbers:
            return set()
        rows = self.con.execute(
            f"SELECT number FROM {table} WHERE number IN (SELECT unnest(?::VARCHAR[]))", [list(numbers)]
        ).fetchall()
        return {r[0] for r in rows}

    def fetched(self, numbers: Sequence[str]) -> set[str]:
        """The subset of canonical ``numbers`` already stored in ``patents``."""
        return self._numbers_in("patents", numbers)

    def failed(self, numbers: Sequence[str] | None = None) -> dict[str, str]:
        """Recorded failures: number → error message (all of them when ``numbers`` is ``None``)."""
        if numbers is None:
            rows = self.con.execute("SELECT number, error FROM failures ORDER BY number").fetchall()
        else:
            rows = self.con.execute(
                "SELECT number, error FROM failures WHERE number IN (SELECT unnest(?::VARCHAR[])) ORDER BY number",
                [list(numbers)],
            ).fetchall()
        return {n: e for n, e in rows}

    def missing(self, numbers: Sequence[str], retry_failed: bool = True) -> list[str]:
        """``numbers`` (order kept, duplicates dropped) not yet stored; failed ones dropped unless ``retry_failed``."""
        have = self.fetched(numbers)
        if not retry_failed:
            have |= set(self.failed(numbers))
        seen: set[str] = set()
        out = []
        for n in numbers:
            if n not in have and n not in seen:
                seen.add(n)
                out.append(n)
        return out

    def get(self, numbers: Iterable[str]) -> dict[str, PatentRecord]:
        """Stored records of ``numbers`` (absent ones are left out)."""
        nums = list(numbers)
        if not nums:
            return {}
        cur = self.con.execute(
            f"SELECT {', '.join(_COLS)} FROM patents WHERE number IN (SELECT unnest(?::VARCHAR[]))", [nums]
        )
        out = {}
        for row in cur.fetchall():
            rec = dict(zip(_COLS, row))
            for k, v in rec.items():
                if v is None:
                    rec[k] = [] if k in _LIST_COLS else ""
            out[rec["number"]] = PatentRecord(**rec)
        return out

    def count(self) -> tuple[int, int]:
        """``(n_patents, n_failures)`` stored."""
        p = self.con.execute("SELECT count(*) FROM patents").fetchone()[0]
        f = self.con.execute("SELECT count(*) FROM failures").fetchone()[0]
        return int(p), int(f)

    # ----------------------------------------------------------------------------------------------- writes
    def write_batch(self, records: Sequence[PatentRecord], failures: dict[str, str] | None = None,
                    source: str = "") -> None:
        """Store ``records`` and ``failures`` (number → error) in ONE transaction (all or nothing).

        A stored record clears that number's failure; a failure increments ``attempts``.
        """
        import pyarrow as pa

        failures = failures or {}
        self.con.execute("BEGIN TRANSACTION")
        try:
            if records:
                batch = pa.table({c: [getattr(r, c) for r in records] for c in _COLS},
                                 schema=pa.schema([(c, pa.list_(pa.string()) if c in _LIST_COLS else pa.string())
                                                   for c in _COLS]))
                self.con.register("_patlink_batch", batch)
                try:
                    self.con.execute(f"INSERT OR REPLACE INTO patents ({', '.join(_COLS)}) "
                                     f"SELECT {', '.join(_COLS)} FROM _patlink_batch")
                finally:
                    self.con.unregister("_patlink_batch")
                self.con.execute("DELETE FROM failures WHERE number IN (SELECT unnest(?::VARCHAR[]))",
                                 [[r.number for r in records]])
            if failures:
                nums = list(failures)
                self.con.execute(
                    "INSERT OR REPLACE INTO failures (number, source, error, attempts, failed_at) "
                    "SELECT f.number, ?, f.error, coalesce(old.attempts, 0) + 1, current_timestamp "
                    "FROM (SELECT unnest(?::VARCHAR[]) AS number, unnest(?::VARCHAR[]) AS error) AS f "
                    "LEFT JOIN failures AS old ON old.number = f.number",
                    [source, nums, [str(failures[n])[:2000] for n in nums]])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise


def hydrated_texts(numbers: list[str], db_path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """Texts of the hydrated patents among ``numbers`` (the contract used by ``load_dataset("honeywell-vpm")``).

    Args:
        numbers: publication numbers in any spelling (``US7852519``, ``7,852,519`` ...); unparseable ones ignored.
        db_path: the store (``None``: :func:`default_db_path`, i.e. ``$PATLINK_CACHE/hydrate.duckdb``).

    Returns:
        canonical number → {field: text} for the numbers present in the store, with the non-empty fields among
        ``title, abstract, claims, description`` and the metadata ``cpc`` (``"; "``-joined), ``publication_date``,
        ``filing_date``, ``priority_date``, ``grant_date``, ``family_id``, ``kind``, ``publication_number``,
        ``citations`` (``"; "``-joined), ``source``. Keys are the canonical form of the numbers as given.
        ``{}`` when the store does not exist, cannot be opened (e.g. locked by a writer) or is unreadable: this
        function never raises.
    """
    try:
        from patlink.data.numbers import normalize_publication_number

        path = Path(db_path) if db_path is not None else default_db_path()
        if not path.is_file():
            return {}
        canon: list[str] = []
        for n in numbers:
            try:
                canon.append(normalize_publication_number(str(n)))
            except ValueError:
                continue
        if not canon:
            return {}
        with HydrationStore(path, read_only=True) as store:
            records = store.get(sorted(set(canon)))
        out: dict[str, dict[str, str]] = {}
        for number, rec in records.items():
            fields_: dict[str, str] = {}
            for name in STRING_FIELDS:
                value = getattr(rec, name)
                text = "; ".join(value) if isinstance(value, list) else (value or "")
                if text.strip():
                    fields_[name] = text
            out[number] = fields_
        return out
    except Exception as e:  # noqa: BLE001 - documented: never raises
        log.warning("hydration store not readable (%s): patents stay text-less", type(e).__name__)
        return {}
