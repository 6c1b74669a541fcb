"""DuckDB store of hydrated patents: resumable cache of every source, and the reader that gives datasets their texts.

Tables (one DuckDB file; ``patlink hydrate`` writes ``CACHE/hydrate.duckdb`` unless given ``--db``, see
:func:`patlink.hydrate.config.default_db_path`):

* ``patents`` — one row per canonical publication number (:class:`~patlink.hydrate.records.PatentRecord` columns;
  ``cpc`` and ``citations`` as ``VARCHAR[]``, ``fetched_at`` timestamp). Re-fetching replaces the row.
* ``failures`` — numbers a source could not deliver: ``number, source, error, attempts, failed_at``. A later
  success deletes the failure row.
* ``summaries`` and ``summary_cache`` — patent summaries (``patlink summarise``) and the cache of their map/reduce
  outputs, created on the first summary written (:mod:`patlink.hydrate.summaries`; :attr:`HydrationStore.summaries`).
  A summary may exist for a number without a ``patents`` row (a dataset with bundled texts).

Each batch is written in one transaction, so an interrupted run loses at most the batch in flight and the next
run skips what is already stored (:meth:`HydrationStore.missing`).

Datasets never look for a store by themselves: a store is passed explicitly, e.g.
``load_dataset("honeywell-vpm", texts=HydrationStore(path, read_only=True))`` or ``--texts PATH`` on the CLI
(:meth:`HydrationStore.texts_for` is the :class:`patlink.data.dataset.PatentTextSource` contract).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path

from patlink.data.numbers import normalize_publication_number
from patlink.hydrate.records import STRING_FIELDS, PatentRecord
from patlink.hydrate.summaries import SUMMARY_TABLES, StoreSummaries

__all__ = ["HydrationStore", "hydrated_texts", "open_texts"]

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


def _not_a_store(path: Path, why: str) -> ValueError:
    return ValueError(f"{path} is not a patlink hydration store ({why}): delete it and hydrate again, or give the "
                      "file that `patlink hydrate --db` wrote")


def _duckdb_problem(path: Path, exc: Exception) -> str:
    """DuckDB's message, first line, without the file's path (the caller's message names it)."""
    return str(exc).splitlines()[0].replace(f'"{path.resolve()}"', "the file").replace(f'"{path}"', "the file")


def _storage_error(path: Path, exc: Exception) -> ValueError:
    """The error for a DuckDB failure on an open store: its blocks cannot be read (cut short) or are damaged."""
    return _not_a_store(path, f"the file is truncated or corrupt: {_duckdb_problem(path, exc)[:160]}")


def _connect(path: Path, read_only: bool):
    """Open ``path`` with DuckDB; every failure becomes one ``ValueError`` naming the file and the fix."""
    import duckdb

    if path.is_dir():
        raise ValueError(f"hydration store {path} is a folder, not a DuckDB file: give the .duckdb file that "
                         "`patlink hydrate --db FILE` wrote")
    if read_only and not path.is_file():
        raise ValueError(f"hydration store {path} does not exist: create it with `patlink hydrate DATASET --source "
                         f"... --db {path}`, or give the path of an existing store")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as e:
        msg = _duckdb_problem(path, e)
        low = msg.lower()
        if "could not set lock" in low or "conflicting lock" in low:
            pid = re.search(r"\(PID (\d+)\)", msg)
            raise ValueError(f"{path} is locked by another process ({f'PID {pid.group(1)}; ' if pid else ''}a running "
                             "patlink hydrate?): wait for it or use another --db") from None
        if "not a valid duckdb" in low:
            raise _not_a_store(path, "not a DuckDB database file") from None
        if "could not read" in low or "corrupt" in low or "checksum" in low or "serializ" in low:
            raise _storage_error(path, e) from None
        raise ValueError(f"cannot open hydration store {path}: {msg}") from None


def _check_tables(con, path: Path) -> None:
    """Refuse a DuckDB file that holds another program's tables (nothing is added to it); an empty file or a
    store is accepted."""
    import duckdb

    try:
        tables = sorted(r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall())
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = 'patents'").fetchall()}
    except duckdb.Error as e:
        con.close()
        raise _storage_error(path, e) from None
    if "patents" not in tables and set(tables) - {"failures", *SUMMARY_TABLES}:
        con.close()
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        raise _not_a_store(path, f"a DuckDB file of another kind: no 'patents' table, it has {shown}; it was left "
                                 "as it was")
    if "patents" in tables and "number" not in columns:
        con.close()
        raise _not_a_store(path, "its 'patents' table has no 'number' column; it was left as it was")


def _storage_errors(method):
    """Turn a DuckDB failure while using an open store (a file cut short or damaged after its header) into one
    ``ValueError`` naming the file."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        import duckdb

        try:
            return method(self, *args, **kwargs)
        except duckdb.Error as e:
            raise _storage_error(self.path, e) from None

    return wrapper


class HydrationStore:
    """Read/write access to one hydration DuckDB file. Use as a context manager (closes the connection).

    Args:
        db_path: the DuckDB file. Writable stores are created (with parent folders) on first use; the default
            location of ``patlink hydrate`` is :func:`patlink.hydrate.config.default_db_path`.
        read_only: open without write access; the file must exist and hold a ``patents`` table. Several
            processes may read one store at once, but none while a writer holds it.

    Raises:
        ValueError: one line with the file's path and what to do, when the file does not exist (``read_only``),
            is a folder, is not a patlink hydration store (not a DuckDB database; a DuckDB file with another
            program's tables and no ``patents`` table, which is left as it was; or, read-only, an empty one), is
            locked by another process (DuckDB's single-writer lock, e.g. a ``patlink hydrate`` still running:
            ``... is locked by another process (PID n; a running patlink hydrate?): wait for it or use another
            --db``), or is truncated or corrupt — found when it is opened or when a method reads blocks that are
            cut off or damaged (every method raises this ``ValueError`` then, not DuckDB's exception).
    """

    def __init__(self, db_path: str | Path, read_only: bool = False) -> None:
        import duckdb

        self.path = Path(db_path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.path, read_only)
        _check_tables(self.con, self.path)
        try:
            if not read_only:
                self.con.execute(_SCHEMA)
                return
            try:
                self.con.execute("SELECT number FROM patents LIMIT 0")
            except duckdb.CatalogException:
                self.con.close()
                raise _not_a_store(self.path, "a DuckDB file without a 'patents' table") from None
        except duckdb.Error as e:
            self.con.close()
            raise _storage_error(self.path, e) from None

    def __repr__(self) -> str:
        return f"HydrationStore({str(self.path)!r}, read_only={self.read_only})"

    @functools.cached_property
    def summaries(self) -> StoreSummaries:
        """The store's patent summaries and their map/reduce cache (:mod:`patlink.hydrate.summaries`)."""
        return StoreSummaries(self)

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

    @_storage_errors
    def fetched(self, numbers: Sequence[str]) -> set[str]:
        """The subset of canonical ``numbers`` already stored in ``patents``."""
        return self._numbers_in("patents", numbers)

    @_storage_errors
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

    @_storage_errors
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

    @_storage_errors
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

    @_storage_errors
    def count(self) -> tuple[int, int]:
        """``(n_patents, n_failures)`` stored."""
        p = self.con.execute("SELECT count(*) FROM patents").fetchone()[0]
        f = self.con.execute("SELECT count(*) FROM failures").fetchone()[0]
        return int(p), int(f)

    # ----------------------------------------------------------------------------------------------- writes
    @_storage_errors
    def write_batch(self, records: Sequence[PatentRecord], failures: dict[str, str] | None = None,
                    source: str = "") -> None:
        """Store ``records`` and ``failures`` (number → error) in ONE transaction (all or nothing).

        A stored record clears that number's failure; a failure increments ``attempts``.
        """
        import duckdb
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
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:   # the transaction is already gone (e.g. the failed COMMIT ended it)
                pass
            raise


    @_storage_errors
    def texts_for(self, numbers: Iterable[str]) -> dict[str, dict[str, str]]:
        """Texts of the stored patents among ``numbers``: the :class:`patlink.data.dataset.PatentTextSource`
        contract that :meth:`patlink.data.Dataset.with_patent_texts` reads.

        Args:
            numbers: publication numbers in any spelling (``US7852519``, ``7,852,519`` ...), e.g. a dataset's
                patent ids; each is looked up by its canonical form. Unparseable ones are ignored (they cannot
                be stored either).

        Returns:
            number as given → {field: text} for the numbers present in the store, with the non-empty fields
            among ``title, abstract, claims, description`` and the metadata ``cpc`` (``"; "``-joined),
            ``publication_date``, ``filing_date``, ``priority_date``, ``grant_date``, ``family_id``, ``kind``,
            ``publication_number``, ``citations`` (``"; "``-joined), ``source``; and ``summary`` for the
            numbers that have one in ``summaries`` (:mod:`patlink.hydrate.summaries`), also numbers without a
            ``patents`` row and ids that are not publication numbers (a summary is stored under the id as
            given then). Numbers absent from the store are absent from the result.
        """
        canon: dict[str, str] = {}
        raw: list[str] = []
        for n in numbers:
            try:
                canon[str(n)] = normalize_publication_number(str(n))
            except ValueError:
                raw.append(str(n))
        records = self.get(sorted(set(canon.values())))
        summaries = self.summaries.texts([*canon.values(), *raw])
        out: dict[str, dict[str, str]] = {}
        for given, number in canon.items():
            rec = records.get(number)
            fields_: dict[str, str] = {}
            if rec is not None:
                for name in STRING_FIELDS:
                    value = getattr(rec, name)
                    text = "; ".join(value) if isinstance(value, list) else (value or "")
                    if text.strip():
                        fields_[name] = text
            if (summaries.get(number) or "").strip():
                fields_["summary"] = summaries[number]
            if rec is not None or fields_:
                out[given] = fields_
        for given in raw:
            if (summaries.get(given) or "").strip():
                out[given] = {"summary": summaries[given]}
        return out


def open_texts(db_path: str | Path) -> HydrationStore:
    """Open an existing store read-only, to pass as ``texts=`` (``with open_texts(path) as store: ...``).

    Raises:
        ValueError: if the file is missing, locked, corrupt or not a hydration store (see :class:`HydrationStore`).
    """
    return HydrationStore(db_path, read_only=True)


def hydrated_texts(numbers: Iterable[str], db_path: str | Path) -> dict[str, dict[str, str]]:
    """:meth:`HydrationStore.texts_for` of the store ``db_path``, opened read-only and closed again.

    Raises:
        ValueError: if the store is missing, locked, corrupt or not a hydration store (see
            :class:`HydrationStore`); never an empty answer in place of an error.
    """
    with open_texts(db_path) as store:
        return store.texts_for(numbers)
