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

A file cut short (a download or unzip that stopped: a last row with fewer columns, a quoted value never closed,
a gzip stream without its end, a plain file whose last row has no line break) or otherwise malformed is never read in part: the query raises
:class:`MalformedTableError` naming the file and the line of the first bad row.
"""

from __future__ import annotations

import csv
import gzip
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PATENT_ID_SQL", "TABLES", "MalformedTableError", "PatentsViewTables", "find_patentsview_tables",
           "locate_malformed_row", "zipped_only"]

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

#: DuckDB ``read_csv`` options of every table. ``skip=0``: the header is the first line (otherwise DuckDB's
#: dialect sniffer may take a malformed last row of a small file for the header and return no rows at all).
_CSV = ("delim='\t', header=true, quote='\"', escape='\"', all_varchar=true, max_line_size=200000000, "
        "skip=0, union_by_name=true")

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


def locate_malformed_row(path: str | Path) -> tuple[int, str] | None:
    """The first row of a PatentsView TSV (plain or ``.gz``) that is not a complete row, with the reader's dialect
    (tab-separated, ``"``-quoted, quotes doubled): ``(line where the row starts, what is wrong)``, or ``None``
    when every row has the header's number of columns. Reads the file up to that row (all of it if none)."""
    p = Path(path)
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

    Use as a context manager, or call :meth:`close`. Raises ``ValueError`` for a table with no file.
    """

    def __init__(self, files: Mapping[str, Sequence[str | Path]]):
        self.files: dict[str, list[Path]] = {k: [Path(f) for f in v] for k, v in files.items()}
        empty = [k for k, v in self.files.items() if not v]
        if empty:
            raise ValueError(f"no file given for PatentsView table(s) {empty}")
        self._con = None
        self._complete: set[Path] = set()

    @classmethod
    def from_folder(cls, folder: str | Path) -> "PatentsViewTables":
        """The tables found in ``folder`` (:func:`find_patentsview_tables`). Raises ``FileNotFoundError``."""
        return cls(find_patentsview_tables(folder))

    def __contains__(self, key: str) -> bool:
        return key in self.files

    def __enter__(self) -> "PatentsViewTables":
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

    def source(self, key: str) -> str:
        """SQL table expression reading table ``key`` (``read_csv([...], …)``), for use in a ``FROM`` clause.

        Raises:
            KeyError: the table is not among :attr:`files`.
        """
        if key not in self.files:
            raise KeyError(f"PatentsView table {key!r} not given; have: {', '.join(self.files) or 'none'}")
        paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in self.files[key])
        return f"read_csv([{paths}], {_CSV})"

    def _where(self, key: str) -> str:
        return ", ".join(str(p) for p in self.files[key])

    def columns(self, key: str) -> list[str]:
        """Column names of table ``key`` (the union over its files)."""
        return [r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {self.source(key)}").fetchall()]

    def require(self, key: str, columns: Sequence[str]) -> None:
        """Check that table ``key`` has ``columns``.

        Raises:
            ValueError: ``<file>: missing column(s) [...]; columns: a, b, …``.
        """
        cols = self.columns(key)
        missing = [c for c in columns if c not in cols]
        if missing:
            raise ValueError(f"{self._where(key)}: missing column(s) {missing}; columns: {', '.join(cols)}")

    def query(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        """Rows of ``sql`` (tables referenced through :meth:`source`), with ``?`` parameters ``params``.

        Raises:
            MalformedTableError: a file of a table the query reads is cut short or malformed (file and line).
        """
        import duckdb

        for key in self.files:
            if self.source(key) in sql:
                for path in self.files[key]:
                    if path not in self._complete:
                        _check_ends_with_newline(path)
                        self._complete.add(path)
        try:
            return self.con.execute(sql, list(params or [])).fetchall()
        except (duckdb.InvalidInputException, duckdb.IOException) as e:
            for key in self.files:
                if self.source(key) in sql:
                    for path in self.files[key]:
                        found = locate_malformed_row(path)
                        if found is not None:
                            raise MalformedTableError(path, *found) from None
            if "CSV Error" in str(e) or "sniffing" in str(e) or "GZIP" in str(e):
                first = str(e).splitlines()[0]
                raise MalformedTableError(", ".join(str(p) for k in self.files if self.source(k) in sql
                                                    for p in self.files[k]), None, first) from None
            raise

    def select(self, key: str, columns: str, ids: Sequence[str], order: str = "") -> list[tuple]:
        """Rows ``(pid, *columns)`` of table ``key`` whose patent, as an office id (:data:`PATENT_ID_SQL`), is in
        ``ids``; ``pid`` is that office id. ``columns`` and ``order`` (an ``ORDER BY`` clause, may use ``pid``)
        are SQL.

        Raises:
            MalformedTableError: a file of the table is cut short or malformed (the message names file and line).
            duckdb.Error: an unknown column.
        """
        sql = (f"SELECT {PATENT_ID_SQL} AS pid, {columns} FROM {self.source(key)} "
               f"WHERE {PATENT_ID_SQL} IN (SELECT unnest(?::VARCHAR[])) {order}")
        return self.query(sql, [list(ids)])
