"""PatentsView granted-patent bulk tables (TSV), read with DuckDB: the one reader behind local hydration
(:mod:`patlink.hydrate.bulk`) and CPC classification data (:func:`patlink.classify.data.load_patentsview`).

PatentsView (https://patentsview.org/download/data-download-tables) ships one tab-separated file per table, with
a header row and ``"``-quoted fields (a quote inside a field is doubled; fields may span lines):

==============================  ======================================================================
``g_patent.tsv``                ``patent_id, patent_type, patent_date, patent_title, wipo_kind, num_claims, …``
``g_patent_abstract.tsv``       ``patent_id, patent_abstract``
``g_cpc_current.tsv``           ``patent_id, cpc_sequence, cpc_section, cpc_class, cpc_subclass, cpc_group, cpc_type``
``g_us_patent_citation.tsv``    ``patent_id, citation_sequence, citation_patent_id, citation_date, …``
``g_application.tsv``           ``application_id, patent_id, patent_application_type, filing_date, …``
``g_claims_YYYY.tsv``           ``patent_id, claim_sequence, claim_text, dependent, claim_number, exemplary``
``g_detail_desc_text_YYYY.tsv`` ``patent_id, description_text, description_length``
==============================  ======================================================================

Plain ``.tsv`` or gzip ``.tsv.gz``; PatentsView's ``.tsv.zip`` must be unzipped first (DuckDB cannot read zip).
A table may be several files (one per year for claims and descriptions): they are read as one, columns matched by
name. Every value is read as text.

Memory: a row (a whole description, quoted line breaks included) may be up to :data:`MAX_LINE_BYTES` (64 MiB) long,
three times the longest US patent text known (US 5,146,591, over 20 million characters); a longer row is a
:class:`RowTooLongError`, never a silent cut. DuckDB reads a file through buffers of that size, about three at a
time (a single file read needs a DuckDB memory limit of some 250 MB), and :meth:`PatentsViewTables.select` reads a
table of several files (one ``g_claims_YYYY`` per grant year since 1976) a few files at a time (``parallel_files``,
by default up to 4), so its memory does not grow with the number of files. (Left to itself, DuckDB gives every
file of a multi-file ``read_csv`` its buffers at once, and a buffer is 16 x ``max_line_size`` unless set: with a
200 MB line limit, 2.9 GiB per gzip file.)

A file cut short (a download or unzip that stopped: a last row with fewer columns, a quoted value never closed,
a gzip stream without its end, a plain file whose last row has no line break) or otherwise malformed is never read
in part: the query raises :class:`MalformedTableError` naming the file and the line of the first bad row.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import logging
import os
import queue
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["MAX_LINE_BYTES", "PATENT_ID_SQL", "TABLES", "MalformedTableError", "PatentsViewTables", "RowTooLongError",
           "find_patentsview_tables", "locate_malformed_row", "zipped_only"]

log = logging.getLogger(__name__)

#: Table key → file-name stem (a glob for the per-year tables).
TABLES: dict[str, str] = {
    "g_patent": "g_patent",
    "g_patent_abstract": "g_patent_abstract",
    "g_cpc_current": "g_cpc_current",
    "g_us_patent_citation": "g_us_patent_citation",
    "g_application": "g_application",
    "g_claims": "g_claims_*",
    "g_detail_desc_text": "g_detail_desc_text_*",
}

#: The longest row (in bytes, quoted line breaks included) the reader accepts by default: 64 MiB, three times the
#: longest US patent text known (US 5,146,591, over 20 million characters; PIUG, "Global Record Breaking Patents").
#: DuckDB's read buffer is this size too; a file being read holds about three of them.
MAX_LINE_BYTES = 64 * 2**20

#: DuckDB ``read_csv`` options of every table (:func:`_csv_options` adds the line and buffer sizes). ``skip=0``: the
#: header is the first line (otherwise DuckDB's dialect sniffer may take a malformed last row of a small file for the
#: header and return no rows at all).
_CSV = "delim='\t', header=true, quote='\"', escape='\"', skip=0"
_TOO_LONG = re.compile(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+) bytes")
_ERROR_FILE = re.compile(r"^\s*file = (.+?)\s*$", re.MULTILINE)


def _csv_options(max_line_bytes: int) -> str:
    """``read_csv`` options with ``max_line_size`` and an explicit ``buffer_size`` of ``max_line_bytes`` (DuckDB's
    default buffer is 16 x ``max_line_size``, allocated whole for each gzip file)."""
    return f"{_CSV}, max_line_size={int(max_line_bytes)}, buffer_size={int(max_line_bytes)}"

#: SQL of a row's patent number as an office id: letter prefix kept, leading zeros of the digits dropped
#: (``09999999`` → ``9999999``, ``D0912345`` → ``D912345``), as :func:`patlink.data.numbers` writes them.
PATENT_ID_SQL = "regexp_replace(patent_id, '^([A-Za-z]*)0*', '\\1')"


class MalformedTableError(ValueError):
    """A PatentsView file that is cut short or malformed: ``"<file> line <n>: <what is wrong>; ..."``.

    Attributes:
        path: the file. line: 1-based line (in the file, quoted line breaks counted) where the first bad row
            starts, or ``None`` when it could not be located. reason: what is wrong with that row.
    """

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = Path(path), line, reason
        where = f"{self.path} line {line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}; the file is cut short or malformed (download or unzip it again)")


class RowTooLongError(MalformedTableError):
    """A row of a PatentsView file longer than the reader's limit (``PatentsViewTables(max_line_bytes=…)``,
    default :data:`MAX_LINE_BYTES`): ``"<file> line <n>: a row of <size> bytes is longer than the reader's limit of
    <limit> bytes; …"``. Attributes as :class:`MalformedTableError`, plus ``size`` (bytes, as the row stands in the
    file: fields, separators, quotes) and ``limit`` (bytes)."""

    def __init__(self, path: str | Path, line: int | None, size: int, limit: int) -> None:
        self.path, self.line, self.size, self.limit = Path(path), line, size, limit
        self.reason = f"a row of {size:,} bytes is longer than the reader's limit of {limit:,} bytes"
        where = f"{self.path} line {line}" if line is not None else str(self.path)
        ValueError.__init__(self, f"{where}: {self.reason}; read it with a larger "
                                  "PatentsViewTables(max_line_bytes=...)")


def locate_malformed_row(path: str | Path) -> tuple[int, str] | None:
    """The first row of a PatentsView TSV (plain or ``.gz``) that is not a complete row, with the reader's dialect
    (tab-separated, ``"``-quoted, quotes doubled): ``(line where the row starts, what is wrong)``, or ``None``
    when every row has the header's number of columns. Reads the file up to that row (all of it if none)."""
    found = _scan_rows(Path(path), None)
    return None if found is None or isinstance(found[1], int) else found  # type: ignore[return-value]


def _scan_rows(p: Path, max_row_bytes: int | None) -> tuple[int, str | int] | None:
    """The first bad row of ``p``: ``(line, what is wrong)`` for a malformed one, ``(line, size in bytes)`` for one
    longer than ``max_row_bytes`` (``None``: no limit), ``None`` when every row is fine."""
    opener = gzip.open if p.name.lower().endswith(".gz") else open
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # descriptions are longer than csv's default field limit; restored below
    start = 1
    try:
        with opener(p, "rt", encoding="utf-8", errors="replace", newline="") as f:
            reader = csv.reader(f, delimiter="\t", quotechar='"', doublequote=True, strict=True)
            try:
                header = next(reader, None)
                if header is None:
                    return None
                start = reader.line_num + 1
                for row in reader:
                    if row and len(row) != len(header):
                        return start, f"the row has {len(row)} of the header's {len(header)} columns"
                    if max_row_bytes is not None and sum(len(v) for v in row) * 4 > max_row_bytes:
                        # as written: every field quoted, inner quotes doubled, separators and the line break
                        size = sum(len(v.encode("utf-8")) + 2 + v.count('"') for v in row) + len(row)
                        if size > max_row_bytes:
                            return start, size
                    start = reader.line_num + 1
            except csv.Error as e:
                if "unexpected end of data" in str(e):
                    return start, "a quoted value is not closed before the end of the file"
                return start, f"malformed quoting ({e})"
            except EOFError:
                return start, "the gzip stream ends before its end marker"
    except (OSError, gzip.BadGzipFile) as e:
        return start, f"unreadable ({type(e).__name__}: {e})"
    finally:
        csv.field_size_limit(old_limit)
    return None


def _check_ends_with_newline(path: Path) -> None:
    """A plain TSV whose last byte is not a line break was cut inside its last row (PatentsView writes a line
    break after every row); raises :class:`MalformedTableError` with that row's line. ``.gz`` files are checked by
    their own end marker when read."""
    if path.name.lower().endswith(".gz"):
        return
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            if f.tell() == 0:
                return
            f.seek(-1, 2)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
    except OSError:
        return  # DuckDB reports an unreadable file itself
    raise MalformedTableError(path, lines + 1, "the file ends inside its last row (no line break after it)")


def find_patentsview_tables(folder: str | Path) -> dict[str, list[Path]]:
    """The PatentsView tables present in ``folder``: ``{table key: sorted .tsv/.tsv.gz files}`` (found ones only).

    A table present only as ``.tsv.zip`` is left out with a logged warning (unzip it).

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    out: dict[str, list[Path]] = {}
    for key, stem in TABLES.items():
        files = sorted({p for ext in (".tsv", ".tsv.gz") for p in root.glob(stem + ext)})
        if files:
            out[key] = files
        elif zipped_only(root, key):
            log.warning("%s found only as .tsv.zip: unzip it so DuckDB can read it", stem)
    return out


def zipped_only(folder: str | Path, key: str) -> bool:
    """True when table ``key`` is in ``folder`` only as ``.tsv.zip`` (for error messages)."""
    root, stem = Path(folder), TABLES.get(key, key)
    return any(root.glob(stem + ".tsv.zip")) and not any(root.glob(stem + ".tsv")) \
        and not any(root.glob(stem + ".tsv.gz"))


class PatentsViewTables:
    """Some PatentsView tables (each one or more TSV files) and a DuckDB connection to query them.

    Args:
        files: table key (``g_patent``, ``g_cpc_current``, … or any name) → its files, e.g. from
            :func:`find_patentsview_tables`.
        max_line_bytes: the longest row accepted (bytes), also DuckDB's read buffer size; default
            :data:`MAX_LINE_BYTES` (64 MiB). A longer row raises :class:`RowTooLongError`.
        parallel_files: how many files of one table :meth:`select` reads at once (each on its own DuckDB cursor,
            about ``3 * max_line_bytes`` of memory each); default ``min(4, CPU count)``.

    Use as a context manager, or call :meth:`close`. Raises ``ValueError`` for a table with no file, or a
    ``max_line_bytes``/``parallel_files`` below 1.
    """

    def __init__(self, files: Mapping[str, Sequence[str | Path]], max_line_bytes: int = MAX_LINE_BYTES,
                 parallel_files: int | None = None):
        self.files: dict[str, list[Path]] = {k: [Path(f) for f in v] for k, v in files.items()}
        empty = [k for k, v in self.files.items() if not v]
        if empty:
            raise ValueError(f"no file given for PatentsView table(s) {empty}")
        if parallel_files is None:
            parallel_files = min(4, os.cpu_count() or 1)
        if int(max_line_bytes) < 1 or int(parallel_files) < 1:
            raise ValueError(f"max_line_bytes and parallel_files must be at least 1, not {max_line_bytes}, "
                             f"{parallel_files}")
        self.max_line_bytes = int(max_line_bytes)
        self.parallel_files = int(parallel_files)
        self._options = _csv_options(self.max_line_bytes)
        self._con = None
        self._complete: set[Path] = set()
        self._file_columns: dict[Path, list[str]] = {}
        self._scratch = itertools.count()

    @classmethod
    def from_folder(cls, folder: str | Path, **options) -> PatentsViewTables:
        """The tables found in ``folder`` (:func:`find_patentsview_tables`); ``options`` as for the class.
        Raises ``FileNotFoundError``."""
        return cls(find_patentsview_tables(folder), **options)

    def __contains__(self, key: str) -> bool:
        return key in self.files

    def __enter__(self) -> PatentsViewTables:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the DuckDB connection (reopened on the next query)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self):
        """The DuckDB connection (in memory, opened on first use)."""
        if self._con is None:
            import duckdb

            self._con = duckdb.connect()
        return self._con

    def _read(self, paths: Sequence[Path]) -> str:
        """``read_csv`` of ``paths``: one file with its header's columns given (no dialect sniffing, which reads up to
        20,480 rows first: twice as fast, and long rows cannot mislead it); several files sniffed and matched by
        name."""
        quoted = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        header = _header(paths[0]) if len(paths) == 1 else None
        if not header or len(set(header)) != len(header):
            return f"read_csv([{quoted}], {self._options}, all_varchar=true, union_by_name=true)"
        # (union_by_name, even on one file with its columns given, makes DuckDB sniff it: 4x slower on long rows)
        columns = ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in header)
        return f"read_csv([{quoted}], {self._options}, auto_detect=false, columns={{{columns}}})"

    def source(self, key: str) -> str:
        """SQL table expression reading table ``key`` (``read_csv([...], …)``), for use in a ``FROM`` clause.

        Every file of the table is read at once, each with its own buffers: for a table of many large files prefer
        :meth:`select`, which reads them a few at a time.

        Raises:
            KeyError: the table is not among :attr:`files`.
        """
        if key not in self.files:
            raise KeyError(f"PatentsView table {key!r} not given; have: {', '.join(self.files) or 'none'}")
        return self._read(self.files[key])

    def _where(self, key: str) -> str:
        return ", ".join(str(p) for p in self.files[key])

    def _columns_of(self, path: Path) -> list[str]:
        if path not in self._file_columns:
            header = _header(path)
            if header is None:  # empty or unreadable: what DuckDB makes of it
                header = [r[0] for r in self._run(self.con, f"DESCRIBE SELECT * FROM {self._read([path])}", [],
                                                  [path])]
            self._file_columns[path] = list(dict.fromkeys(header))
        return self._file_columns[path]

    def columns(self, key: str) -> list[str]:
        """Column names of table ``key``: the union over its files, in first-seen order (each file read alone).

        Raises:
            KeyError: unknown table. MalformedTableError: a file cannot be read as a table.
        """
        if key not in self.files:
            raise KeyError(f"PatentsView table {key!r} not given; have: {', '.join(self.files) or 'none'}")
        return list(dict.fromkeys(c for p in self.files[key] for c in self._columns_of(p)))

    def require(self, key: str, columns: Sequence[str]) -> None:
        """Check that table ``key`` has ``columns``.

        Raises:
            ValueError: ``<file>: missing column(s) [...]; columns: a, b, …``.
        """
        cols = self.columns(key)
        missing = [c for c in columns if c not in cols]
        if missing:
            raise ValueError(f"{self._where(key)}: missing column(s) {missing}; columns: {', '.join(cols)}")

    def _check_complete(self, paths: Sequence[Path]) -> None:
        for path in paths:
            if path not in self._complete:
                _check_ends_with_newline(path)
                self._complete.add(path)

    def _run(self, con, sql: str, params: Sequence, paths: Sequence[Path]) -> list[tuple]:
        """``con.execute(sql, params).fetchall()``, a read error of ``paths`` turned into :class:`MalformedTableError`
        / :class:`RowTooLongError`."""
        import duckdb

        self._check_complete(paths)
        try:
            return con.execute(sql, list(params)).fetchall()
        except (duckdb.InvalidInputException, duckdb.IOException) as e:
            raise self._read_error(paths, e) from None

    def _read_error(self, paths: Sequence[Path], e: Exception) -> Exception:
        """The error to raise for DuckDB's read error ``e`` on ``paths``: the first malformed row or row over the line
        limit found by re-reading the files (file and line; DuckDB reports a quoted row longer than its buffer as an
        unterminated quote), else a row over the limit as DuckDB measured it, else a :class:`MalformedTableError`
        with DuckDB's first line for a CSV/gzip error, else ``e`` itself."""
        for path in paths:
            found = _scan_rows(path, self.max_line_bytes)
            if found is not None:
                line, what = found
                if isinstance(what, int):
                    return RowTooLongError(path, line, what, self.max_line_bytes)
                return MalformedTableError(path, line, what)
        msg = str(e)  # may quote the whole offending row: only searched, never passed on
        too_long = _TOO_LONG.search(msg)
        if too_long:
            file = _ERROR_FILE.search(msg[too_long.end():])
            where = file.group(1) if file else ", ".join(str(p) for p in paths)
            return RowTooLongError(where, None, int(too_long.group(2)), int(too_long.group(1)))
        if "CSV Error" in msg or "sniffing" in msg or "GZIP" in msg:
            return MalformedTableError(", ".join(str(p) for p in paths), None, msg.splitlines()[0][:300])
        return e

    def query(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        """Rows of ``sql`` (tables referenced through :meth:`source`), with ``?`` parameters ``params``.

        Raises:
            MalformedTableError: a file of a table the query reads is cut short or malformed (file and line);
                :class:`RowTooLongError` for a row over the limit.
        """
        paths = [p for key in self.files if self.source(key) in sql for p in self.files[key]]
        return self._run(self.con, sql, params or [], paths)

    def select(self, key: str, columns: str, ids: Sequence[str], order: str = "") -> list[tuple]:
        """Rows ``(pid, *columns)`` of table ``key`` whose patent, as an office id (:data:`PATENT_ID_SQL`), is in
        ``ids``; ``pid`` is that office id. ``columns`` and ``order`` (an ``ORDER BY`` clause, may use ``pid``)
        are SQL.

        A table of one file is one query. A table of several files is read ``parallel_files`` files at a time, each
        file alone (so memory does not grow with the number of files): the wanted rows of every file are gathered
        in an in-memory table (columns matched by name), which ``columns`` and ``order`` are then applied to.

        Raises:
            MalformedTableError: a file of the table is cut short or malformed (the message names file and line);
                :class:`RowTooLongError` for a row over the limit.
            duckdb.Error: an unknown column.
        """
        import duckdb

        files = self.files.get(key)
        if files is None:
            raise KeyError(f"PatentsView table {key!r} not given; have: {', '.join(self.files) or 'none'}")
        ids = list(ids)
        where = f"WHERE {PATENT_ID_SQL} IN (SELECT unnest(?::VARCHAR[]))"
        if len(files) == 1:
            return self._run(self.con, f"SELECT {PATENT_ID_SQL} AS pid, {columns} FROM {self._read(files)} "
                                       f"{where} {order}", [ids], files)
        cols = self.columns(key)
        scratch = f"_patlink_rows_{next(self._scratch)}"
        self.con.execute(f'CREATE TABLE {scratch} ({", ".join(_ident(c) + " VARCHAR" for c in cols)})')
        workers = min(self.parallel_files, len(files))
        self._check_complete(files)
        cursors: queue.SimpleQueue = queue.SimpleQueue()
        try:
            for _ in range(workers):  # made here, not in the workers: a connection is not shared across threads
                cursors.put(self.con.cursor())

            def gather(path: Path) -> None:
                cur = cursors.get()
                try:
                    cur.execute(f"INSERT INTO {scratch} BY NAME SELECT * FROM {self._read([path])} {where}", [ids])
                finally:
                    cursors.put(cur)

            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [(p, pool.submit(gather, p)) for p in files]
                try:
                    for path, future in futures:  # in file order: the first failing file's error is raised
                        try:
                            future.result()
                        except (duckdb.InvalidInputException, duckdb.IOException) as e:
                            raise self._read_error([path], e) from None  # located here, in this thread
                except BaseException:
                    pool.shutdown(cancel_futures=True)
                    raise
            return self.con.execute(f"SELECT {PATENT_ID_SQL} AS pid, {columns} FROM {scratch} {order}").fetchall()
        finally:
            while not cursors.empty():
                cursors.get().close()
            self.con.execute(f"DROP TABLE IF EXISTS {scratch}")


def _header(path: Path) -> list[str] | None:
    """The column names of a PatentsView file's header row (the reader's dialect, a UTF-8 BOM dropped), or
    ``None`` when the file is empty or its first line cannot be read as a header."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            row = next(csv.reader(f, delimiter="\t", quotechar='"', doublequote=True, strict=True), None)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile):
        return None
    return row if row and all(c.strip() for c in row) else None


def _literal(value: str) -> str:
    """``value`` as a quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
