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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PATENT_ID_SQL", "TABLES", "PatentsViewTables", "find_patentsview_tables", "zipped_only"]

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

#: DuckDB ``read_csv`` options of every table.
_CSV = ("delim='\t', header=true, quote='\"', escape='\"', all_varchar=true, max_line_size=200000000, "
        "union_by_name=true")

#: SQL of a row's patent number as an office id: letter prefix kept, leading zeros of the digits dropped
#: (``09999999`` → ``9999999``, ``D0912345`` → ``D912345``), as :func:`patlink.data.numbers` writes them.
PATENT_ID_SQL = "regexp_replace(patent_id, '^([A-Za-z]*)0*', '\\1')"


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
        """Rows of ``sql`` (tables referenced through :meth:`source`), with ``?`` parameters ``params``."""
        return self.con.execute(sql, list(params or [])).fetchall()

    def select(self, key: str, columns: str, ids: Sequence[str], order: str = "") -> list[tuple]:
        """Rows ``(pid, *columns)`` of table ``key`` whose patent, as an office id (:data:`PATENT_ID_SQL`), is in
        ``ids``; ``pid`` is that office id. ``columns`` and ``order`` (an ``ORDER BY`` clause, may use ``pid``)
        are SQL.

        Raises:
            duckdb.Error: a malformed file (the message names the file and line) or an unknown column.
        """
        sql = (f"SELECT {PATENT_ID_SQL} AS pid, {columns} FROM {self.source(key)} "
               f"WHERE {PATENT_ID_SQL} IN (SELECT unnest(?::VARCHAR[])) {order}")
        return self.query(sql, [list(ids)])
