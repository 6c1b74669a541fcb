"""Corpora and queries from plain files: a user's own products and patents as documents with ids and texts.

:func:`read_corpus` reads one side of a linkage task — the *patents* (documents to rank) or the *items* (products,
papers, queries to link) — from whatever the user has:

* a file: JSON lines (``.jsonl``, ``.ndjson``), a JSON list of objects (``.json``), CSV or TSV (``.csv``,
  ``.tsv``; all four also ``.gz``), Parquet (``.parquet``, read in record batches, only the needed columns);
* a BEIR folder: ``corpus.jsonl`` for the patents, ``queries.jsonl`` for the items (no qrels needed);
* a bundled dataset name (``pap2pat``, ``honeywell-vpm``, ``api-patents``, ``cpc-claims``; see
  :mod:`patlink.data.registry`), optionally with patent texts from a hydration store (``texts=``);
* a hydration store (the ``.duckdb`` file ``patlink hydrate`` writes): its ``patents`` table, opened read-only.

The result is a :class:`Corpus`: ids (strings, never re-spelled), the text a method reads (the chosen fields
joined by newlines), titles for output files, and the rows whose text was empty — excluded from the corpus but
counted and listed with their line, never silently dropped.

Every problem with the input is a :class:`CorpusError` whose message is one line, ``<file>:<line>: <what is
wrong>; <how to fix>`` (``<file>:row <n>:`` for Parquet files, stores and datasets, which have rows, not lines).

The hydration store is read here directly with DuckDB, following the schema that :mod:`patlink.hydrate.store`
writes (table ``patents``, key column ``number``, text columns ``title``, ``abstract``, ``claims``,
``description``, list columns ``cpc`` and ``citations``; table ``summaries`` written by ``patlink summarise``, read
as the column ``summary``): the data layer imports no higher subpackage.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from patlink.data.dataset import PatentTextSource, parse_view
from patlink.data.numbers import normalize_publication_number

__all__ = ["Corpus", "CorpusError", "read_corpus", "FORMATS", "ID_FIELDS", "TEXT_FIELDS", "TITLE_FIELDS"]

#: Values of ``read_corpus(format=...)``.
FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "beir", "dataset", "store")
#: Id columns looked for, in this order, when ``id_field`` is not given.
ID_FIELDS = ("id", "_id", "publication_number", "number", "patent_id", "doc_id", "item_id", "product_id")
#: Text columns used, in this order (the present ones), when ``text_fields`` is not given.
TEXT_FIELDS = {
    "patents": ("title", "abstract", "claims", "text", "description", "summary", "name"),
    "items": ("name", "title", "description", "abstract", "text"),
}
#: Title columns looked for when ``title_field`` is not given.
TITLE_FIELDS = ("title", "name")

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
             ".parquet": "parquet", ".pq": "parquet", ".duckdb": "store"}
_GZ_OK = {"jsonl", "json", "csv", "tsv"}
_SIDES = ("patents", "items")
_BATCH = 4096


class CorpusError(ValueError):
    """Bad corpus input. The message is one line: ``<file>:<line>: <what is wrong>; <how to fix>``."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))


@dataclass
class Corpus:
    """Documents (patents or items) with ids and the text a method reads.

    Attributes:
        name: the file's stem (``products`` for ``products.csv.gz``), the BEIR folder's or store's name, or the
            dataset name.
        ids: document ids, unique, in file order; strings exactly as written (surrounding whitespace removed;
            ``"00123"`` keeps its zeros).
        texts: per id, the chosen text fields joined by ``"\\n"`` (each field stripped, empty fields skipped);
            never empty.
        titles: per id, the title field (stripped) when the input has one, else ``""``.
        source: the file read (``…/corpus.jsonl`` for a BEIR folder), the store's path, or
            ``dataset:<name>:<side>``.
        id_field: the id column used (``"id"`` for a bundled dataset).
        text_fields: the text columns used, in order.
        empty: ``(id, line or row number)`` of the rows whose text was empty: NOT in ``ids``/``texts``.
        lines: per id, its line (text files) or row (Parquet, store, dataset; 1-based) number.
        unit: ``"line"`` or ``"row"``: what the numbers in ``lines`` and ``empty`` count.
        format: the format read (one of :data:`FORMATS`).
        metadata: extra facts: ``filled`` (documents that got at least one field from ``texts=``),
            ``texts_from`` (that source), ``rows`` (rows read, empty ones included).
    """

    name: str
    ids: list[str]
    texts: list[str]
    titles: list[str]
    source: str
    id_field: str
    text_fields: tuple[str, ...]
    empty: list[tuple[str, int]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    unit: str = "line"
    format: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.texts) != n or len(self.titles) != n or (self.lines and len(self.lines) != n):
            raise ValueError(f"corpus {self.name}: {n} ids, {len(self.texts)} texts, {len(self.titles)} titles, "
                             f"{len(self.lines)} line numbers: they must have one entry per id")

    def __len__(self) -> int:
        """Number of documents with a text (the empty ones are not counted)."""
        return len(self.ids)

    def as_dict(self) -> dict[str, str]:
        """Id → text, in corpus order: what :meth:`patlink.methods.Method.index` and ``search`` take."""
        return dict(zip(self.ids, self.texts))

    def title_of(self) -> dict[str, str]:
        """Id → title (``""`` when the input has no title column)."""
        return dict(zip(self.ids, self.titles))

    def select(self, ids: Iterable[str]) -> Corpus:
        """The sub-corpus of ``ids``, in the order given (repeats dropped).

        Ids listed in :attr:`empty` are accepted and stay in the result's ``empty``.

        Raises:
            KeyError: if some ids are in neither :attr:`ids` nor :attr:`empty` (the message shows up to 5).
        """
        pos = {i: k for k, i in enumerate(self.ids)}
        empty_ids = {i for i, _ in self.empty}
        chosen: list[int] = []
        wanted_empty: set[str] = set()
        unknown: list[str] = []
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                continue
            seen.add(i)
            if i in pos:
                chosen.append(pos[i])
            elif i in empty_ids:
                wanted_empty.add(i)
            else:
                unknown.append(i)
        if unknown:
            raise KeyError(f"{len(unknown)} id(s) not in corpus {self.name!r}: {unknown[:5]}")
        return Corpus(
            name=self.name, ids=[self.ids[k] for k in chosen], texts=[self.texts[k] for k in chosen],
            titles=[self.titles[k] for k in chosen], source=self.source, id_field=self.id_field,
            text_fields=self.text_fields, empty=[e for e in self.empty if e[0] in wanted_empty],
            lines=[self.lines[k] for k in chosen] if self.lines else [], unit=self.unit, format=self.format,
            metadata=dict(self.metadata),
        )


# ------------------------------------------------------------------------------------------------ values
def _as_text(value: Any) -> str:
    """A cell as text: strings as they are, numbers without a spurious ``.0``, lists one element per line,
    objects as JSON, ``None``/NaN as ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, (list, tuple)):
        return "\n".join(t for t in (_as_text(v).strip() for v in value) if t)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _join(fields: Iterable[Any]) -> str:
    return "\n".join(t for t in (_as_text(v).strip() for v in fields) if t)


# ----------------------------------------------------------------------------------------------- tables
@dataclass
class _Table:
    """Rows read from one file: ``(line or row number, {column: value})``, only the columns asked for."""

    path: str
    unit: str                                  # "line" | "row"
    columns: list[str]                         # every column of the file (for messages and default fields)
    rows: list[tuple[int, dict[str, Any]]]
    first: int | None = None                   # where a missing-column error points (header / first record)

    def at(self, loc: int | None) -> str:
        if loc is None:
            return self.path
        return f"{self.path}:{loc}" if self.unit == "line" else f"{self.path}:row {loc}"

    def column_list(self) -> str:
        return ", ".join(repr(c) for c in self.columns) if self.columns else "(none)"


def _keep(names: Iterable[str] | None) -> set[str] | None:
    return None if names is None else {n.lower() for n in names}


def _kept(keys: Iterable[str], keep: set[str] | None) -> list[str]:
    return [k for k in keys if keep is None or k.lower() in keep]


@contextmanager
def _open_text(path: Path) -> Iterator[IO[str]]:
    """Open a text file (gzip when it ends in ``.gz``) as UTF-8; a byte-order mark is skipped."""
    if path.suffix.lower() == ".gz":
        f = gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    else:
        f = open(path, encoding="utf-8-sig", newline="")
    with f:
        yield f


def _decode_error(path: Path, exc: Exception) -> CorpusError:
    """The error for a file that is not UTF-8 (or not gzip): the first line that fails to decode."""
    if isinstance(exc, (gzip.BadGzipFile, EOFError)):
        return CorpusError(f"{path}: not a valid gzip file ({exc}); give the uncompressed file or re-compress it")
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    line_no = 1
    try:
        with opener(path, "rb") as f:
            for line_no, raw in enumerate(f, 1):
                raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    except (OSError, EOFError):  # pragma: no cover - a truncated gzip after the decode error
        pass
    return CorpusError(f"{path}:{line_no}: not UTF-8 text; save the file as UTF-8 (e.g. from a spreadsheet: "
                       "'CSV UTF-8')")


def _json_problem(exc: BaseException) -> str:
    """What the json module could not read, besides malformed text: an integer too long to convert, or values
    nested deeper than the interpreter's recursion limit."""
    if isinstance(exc, RecursionError):
        return "values nested too deeply"
    return str(exc).splitlines()[0].split(": ")[0][:120]


def _read_jsonl(path: Path, keep: set[str] | None) -> _Table:
    columns: dict[str, None] = {}
    rows: list[tuple[int, dict]] = []
    try:
        with _open_text(path) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise CorpusError(f"{path}:{line_no}: malformed JSON ({e.msg} at column {e.colno}); each line "
                                      "must be one JSON object, e.g. {\"id\": \"A1\", \"text\": \"...\"}") from None
                except (ValueError, RecursionError) as e:   # an integer of > 4300 digits, nesting too deep
                    raise CorpusError(f"{path}:{line_no}: unreadable JSON ({_json_problem(e)}); each line must be "
                                      "one JSON object, e.g. {\"id\": \"A1\", \"text\": \"...\"}") from None
                if not isinstance(rec, dict):
                    raise CorpusError(f"{path}:{line_no}: a JSON {type(rec).__name__}, not an object; each line "
                                      "must be one JSON object, e.g. {\"id\": \"A1\", \"text\": \"...\"}")
                columns.update(dict.fromkeys(rec))
                rows.append((line_no, {k: rec[k] for k in _kept(rec, keep)}))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise _decode_error(path, e) from None
    return _Table(str(path), "line", list(columns), rows, rows[0][0] if rows else None)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _read_json(path: Path, keep: set[str] | None) -> _Table:
    """A JSON list of objects, each record with the line it starts on."""
    try:
        with _open_text(path) as f:
            text = f.read()
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise _decode_error(path, e) from None
    decoder = json.JSONDecoder()
    columns: dict[str, None] = {}
    rows: list[tuple[int, dict]] = []
    i = _skip_ws(text, 0)
    if i == len(text):
        return _Table(str(path), "line", [], [])
    line, pos = 1, 0

    def line_of(k: int) -> int:
        nonlocal line, pos
        line += text.count("\n", pos, k)
        pos = k
        return line

    if text[i] != "[":
        raise CorpusError(f"{path}:{line_of(i)}: a .json file must hold a list of objects ([{{...}}, {{...}}]); "
                          "for one object per line name the file .jsonl")
    i = _skip_ws(text, i + 1)
    while i < len(text) and text[i] != "]":
        try:
            rec, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{e.lineno}: malformed JSON ({e.msg} at column {e.colno}); fix the file "
                              "(a list of objects: [{\"id\": \"A1\", \"text\": \"...\"}, ...])") from None
        except (ValueError, RecursionError) as e:   # an integer of > 4300 digits, nesting too deep
            raise CorpusError(f"{path}:{line_of(i)}: unreadable JSON ({_json_problem(e)}); fix the file (a list "
                              "of objects: [{\"id\": \"A1\", \"text\": \"...\"}, ...])") from None
        start = line_of(i)
        if not isinstance(rec, dict):
            raise CorpusError(f"{path}:{start}: a JSON {type(rec).__name__} in the list, not an object; every "
                              "element must be an object such as {\"id\": \"A1\", \"text\": \"...\"}")
        columns.update(dict.fromkeys(rec))
        rows.append((start, {k: rec[k] for k in _kept(rec, keep)}))
        i = _skip_ws(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
        elif i < len(text) and text[i] != "]":
            raise CorpusError(f"{path}:{line_of(i)}: malformed JSON (expected ',' or ']' between list elements); "
                              "fix the file")
    if i >= len(text):
        raise CorpusError(f"{path}:{line_of(len(text))}: malformed JSON (the list is not closed with ']'); fix the "
                          "file")
    return _Table(str(path), "line", list(columns), rows, rows[0][0] if rows else None)


@contextmanager
def _csv_field_limit() -> Iterator[None]:
    """Allow fields longer than the csv module's 131,072-character default (patent descriptions are), for the
    duration of one read; the previous limit is restored afterwards."""
    old = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _read_delimited(path: Path, keep: set[str] | None, delimiter: str) -> _Table:
    """CSV/TSV with a header row; every value is read as a string (ids keep their leading zeros)."""
    kind = "TSV" if delimiter == "\t" else "CSV"
    rows: list[tuple[int, dict]] = []
    try:
        with _open_text(path) as f, _csv_field_limit():
            reader = csv.reader(f, delimiter=delimiter)
            try:
                header = next(reader)
            except StopIteration:
                return _Table(str(path), "line", [], [])
            except csv.Error as e:
                raise CorpusError(f"{path}:1: unreadable {kind} header ({e}); the first line must name the "
                                  "columns") from None
            header = [h.strip() for h in header]
            first_at: dict[str, int] = {}
            for j, h in enumerate(header):
                if h in first_at:
                    raise CorpusError(f"{path}:1: column {h!r} appears twice in the header (columns "
                                      f"{first_at[h] + 1} and {j + 1}); rename one")
                first_at[h] = j
            wanted = [(j, h) for j, h in enumerate(header) if keep is None or h.lower() in keep]
            prev = reader.line_num
            while True:
                start = prev + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    raise CorpusError(f"{path}:{start}: unreadable {kind} row ({e}); check the quoting of this "
                                      "row") from None
                prev = reader.line_num
                if not row:
                    continue  # a blank line
                if len(row) != len(header):
                    sep = "tabs" if delimiter == "\t" else "commas"
                    raise CorpusError(
                        f"{path}:{start}: {len(row)} fields, but the header (line 1) has {len(header)}; quote "
                        f"fields that contain {sep} or line breaks (\"a{delimiter}b\"), double quotes inside a "
                        "quoted field (\"\"), and check for an unclosed quote")
                rows.append((start, {h: row[j] for j, h in wanted}))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise _decode_error(path, e) from None
    return _Table(str(path), "line", header, rows, 1)


def _read_parquet(path: Path, keep: set[str] | None) -> _Table:
    """Parquet in record batches of 4,096 rows, only the columns asked for."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise CorpusError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]}); give a .parquet file "
                          "(e.g. written by pandas.DataFrame.to_parquet) or pass format=") from None
    names = list(pf.schema_arrow.names)
    cols = _kept(names, keep)
    rows: list[tuple[int, dict]] = []
    if not cols:
        rows = [(r, {}) for r in range(1, pf.metadata.num_rows + 1)]
    else:
        row = 0
        try:
            for batch in pf.iter_batches(batch_size=_BATCH, columns=cols):
                data = {c: batch.column(k).to_pylist() for k, c in enumerate(batch.schema.names)}
                for j in range(batch.num_rows):
                    row += 1
                    rows.append((row, {c: v[j] for c, v in data.items()}))
        except (pa.ArrowException, OSError) as e:
            raise CorpusError(f"{path}:row {row + 1}: unreadable Parquet data ({str(e).splitlines()[0]}); the "
                              "file is damaged: write it again") from None
    return _Table(str(path), "row", names, rows, None)


# ------------------------------------------------------------------------------------------ hydration store
def _connect_store(path: Path):
    """Open a hydration store read-only: ``(connection, columns of its patents table)``."""
    import duckdb

    if path.is_dir():
        raise CorpusError(f"{path}: a folder, not a hydration store; give the .duckdb file that `patlink hydrate "
                          "--db FILE` wrote")
    if not path.is_file():
        raise CorpusError(f"{path}: no such hydration store; create it with `patlink hydrate DATASET --source ... "
                          f"--db {path}`, or give the path of an existing store")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        msg = str(e)
        # DuckDB's lock message ("Could not set lock on file ... Conflicting lock is held"): matched on the message
        # without the path, so a store whose path contains "lock" is not reported as locked
        if "conflicting lock" in msg.replace(str(path), "").lower():
            raise CorpusError(f"{path}: the hydration store is locked by another process (a `patlink hydrate` run "
                              "still writing it?); wait until it finishes, or use a copy of the file") from None
        raise CorpusError(f"{path}: not a DuckDB hydration store ({msg.splitlines()[0]}); give the file written "
                          "by `patlink hydrate --db`") from None
    try:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
        if "patents" not in tables and "summaries" not in tables:
            raise duckdb.CatalogException("no patents table")
        columns = [r[0] for r in con.execute("DESCRIBE patents").fetchall()] if "patents" in tables else ["number"]
    except duckdb.Error:
        con.close()
        raise CorpusError(f"{path}: a DuckDB file but not a hydration store (no 'patents' table); give the file "
                          "written by `patlink hydrate --db`") from None
    if "summaries" in tables:   # written by `patlink summarise`: one summary per number, read as the column summary
        columns.append("summary")
    return con, columns


def _store_select(columns: Sequence[str], where: str = "") -> str:
    """SELECT of a store's patents (table ``patents``) with their summary (table ``summaries``) as one more column,
    also for numbers that have a summary and no ``patents`` row; ``columns`` as from :func:`_connect_store`."""
    own = [c for c in columns if c not in ("number", "summary")]
    if "summary" not in columns:
        return f"SELECT {', '.join(_quote(c) for c in ['number', *own])} FROM patents {where}"
    if not own:   # a store holding summaries only (texts bundled elsewhere, e.g. pap2pat)
        return f"SELECT number, summary FROM summaries {where}"
    sel = ", ".join(["coalesce(p.number, s.number) AS number", *[f"p.{_quote(c)}" for c in own], "s.summary"])
    return (f"SELECT * FROM (SELECT {sel} FROM patents AS p FULL OUTER JOIN summaries AS s ON p.number = s.number) "
            f"{where}")


def _store_value(value: Any) -> Any:
    # the store's list columns (cpc, citations) read as "; "-joined text, as HydrationStore.texts_for gives them
    return "; ".join(str(v) for v in value if v) if isinstance(value, list) else value


def _read_store(path: Path, keep: set[str] | None) -> _Table:
    """The ``patents`` table of a hydration store, ordered by number, fetched in batches."""
    import duckdb

    con, columns = _connect_store(path)
    try:
        cols = [c for c in columns if c == "number" or keep is None or c.lower() in keep]
        cur = con.execute(f"SELECT {', '.join(_quote(c) for c in cols)} FROM ({_store_select(columns)}) "
                          "ORDER BY number")
        rows: list[tuple[int, dict]] = []
        while batch := cur.fetchmany(_BATCH):
            for values in batch:
                rows.append((len(rows) + 1, {c: _store_value(v) for c, v in zip(cols, values)}))
    except duckdb.Error as e:
        raise CorpusError(f"{path}: cannot read the hydration store ({str(e).splitlines()[0]}); give a store "
                          "written by `patlink hydrate`") from None
    finally:
        con.close()
    return _Table(str(path), "row", columns, rows, None)


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


class _StoreTexts:
    """A hydration store opened read-only as a :class:`patlink.data.dataset.PatentTextSource`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con, self.columns = _connect_store(path)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> _StoreTexts:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def texts_for(self, numbers: Iterable[str]) -> dict[str, dict[str, str]]:
        """Number as given → its stored non-empty string fields (numbers looked up by their canonical form)."""
        canon: dict[str, str] = {}
        for n in numbers:
            try:
                canon[str(n)] = normalize_publication_number(str(n))
            except ValueError:
                continue
        cols = [c for c in self.columns if c not in ("fetched_at",)]
        found: dict[str, dict[str, str]] = {}
        if canon:
            cur = self.con.execute(f"SELECT {', '.join(_quote(c) for c in cols)} FROM "
                                   f"({_store_select(self.columns)}) WHERE number IN (SELECT unnest(?::VARCHAR[]))",
                                   [sorted(set(canon.values()))])
            for values in cur.fetchall():
                rec = dict(zip(cols, values))
                found[rec["number"]] = {c: t for c, v in rec.items() if c != "number"
                                        and (t := _as_text(_store_value(v))).strip()}
        return {given: found[num] for given, num in canon.items() if num in found}


@contextmanager
def _text_source(texts: Any) -> Iterator[PatentTextSource | Mapping | None]:
    """``texts=`` as a source: a path opens a store read-only (closed afterwards); sources/mappings pass through."""
    if texts is None or isinstance(texts, (Mapping, PatentTextSource)):
        yield texts
        return
    with _StoreTexts(Path(texts)) as store:
        yield store


# ---------------------------------------------------------------------------------------------- building
def _match(name: str, columns: Sequence[str]) -> str | None:
    """The column called ``name``: exact match first, else the one equal ignoring case."""
    if name in columns:
        return name
    low = [c for c in columns if c.lower() == name.lower()]
    return low[0] if low else None


def _field_list(spec: str | Sequence[str] | None) -> list[str] | None:
    if spec is None:
        return None
    parts = spec.replace("+", ",").split(",") if isinstance(spec, str) else list(spec)
    out = [p.strip() for p in parts if p and p.strip()]
    return out or None


def _build(tab: _Table, *, name: str, fmt: str, side: str, id_field: str | None, text_fields: list[str] | None,
           title_field: str | None, normalize_ids: bool, id_defaults: Sequence[str], texts: Any) -> Corpus:
    where = tab.at(tab.first)
    if not tab.rows and not tab.columns:
        raise CorpusError(f"{where}: no rows (the file is empty); give a file with rows (a header first for "
                          "CSV/TSV)")
    # -- ids
    if id_field is not None:
        idf = _match(id_field, tab.columns)
        if idf is None:
            raise CorpusError(f"{where}: no id column {id_field!r}; the columns are {tab.column_list()}: pass one "
                              "of them as the id field")
    else:
        idf = next((c for c in (_match(n, tab.columns) for n in id_defaults) if c), None)
        if idf is None:
            raise CorpusError(f"{where}: no id column (looked for {', '.join(id_defaults)}); the columns are "
                              f"{tab.column_list()}: name the id column (id_field= / --id-field)")
    if not tab.rows:
        raise CorpusError(f"{where}: no rows, only a header or an empty list; add rows to the file")
    ids: list[str] = []
    first_line: dict[str, int] = {}
    for loc, rec in tab.rows:
        raw = _as_text(rec.get(idf)).strip()
        if not raw:
            raise CorpusError(f"{tab.at(loc)}: empty id (column {idf!r}); give every row an id, or remove the row")
        did = raw
        if normalize_ids:
            try:
                did = normalize_publication_number(raw)
            except ValueError:
                raise CorpusError(f"{tab.at(loc)}: id {raw!r} is not a patent publication number; fix it, or read "
                                  "the ids as they are (normalize_ids=False)") from None
        if did in first_line:
            same = "" if did == raw else f" (as {did!r})"
            raise CorpusError(f"{tab.at(loc)}: duplicate id {raw!r}{same}, first at {tab.unit} "
                              f"{first_line[did]}; make the ids unique or remove the repeated row")
        first_line[did] = loc
        ids.append(did)
    # -- texts from a store / source (fill what the rows lack)
    columns = list(tab.columns)
    filled = None
    if texts is not None:
        with _text_source(texts) as source:
            found = (source.texts_for(ids) if isinstance(source, PatentTextSource)
                     else {i: source[i] for i in ids if i in source})
        filled = 0
        for did, (_, rec) in zip(ids, tab.rows):
            add = {k: v for k, v in (found.get(did) or {}).items()
                   if isinstance(v, str) and v.strip() and not _as_text(rec.get(_match(k, list(rec)) or k)).strip()}
            for k in add:
                if _match(k, columns) is None:
                    columns.append(k)
            if add:
                rec.update({(_match(k, list(rec)) or k): v for k, v in add.items()})
                filled += 1
    # -- text and title fields
    if text_fields is None:
        tfs = [c for c in (_match(n, columns) for n in TEXT_FIELDS[side]) if c]
        if not tfs:
            raise CorpusError(f"{where}: no text column (looked for {', '.join(TEXT_FIELDS[side])}); the columns "
                              f"are {', '.join(repr(c) for c in columns)}: name the text columns (text_fields= / "
                              "--text-fields a,b)")
    else:
        tfs = []
        for n in text_fields:
            c = _match(n, columns)
            if c is None:
                raise CorpusError(f"{where}: no text column {n!r}; the columns are "
                                  f"{', '.join(repr(c) for c in columns)}: choose the text columns among them")
            tfs.append(c)
    if title_field is not None:
        ttf = _match(title_field, columns)
        if ttf is None:
            raise CorpusError(f"{where}: no title column {title_field!r}; the columns are "
                              f"{', '.join(repr(c) for c in columns)}: choose one of them or leave the title out")
    else:
        ttf = next((c for c in (_match(n, columns) for n in TITLE_FIELDS) if c), None)
    out_ids, out_texts, out_titles, out_lines, empty = [], [], [], [], []
    for did, (loc, rec) in zip(ids, tab.rows):
        text = _join(rec.get(c) for c in tfs)
        if not text:
            empty.append((did, loc))
            continue
        out_ids.append(did)
        out_texts.append(text)
        out_titles.append(_as_text(rec.get(ttf)).strip() if ttf else "")
        out_lines.append(loc)
    if not out_ids:
        raise CorpusError(f"{tab.at(tab.rows[0][0])}: every row ({len(tab.rows)}) has an empty text in "
                          f"{', '.join(repr(c) for c in tfs)}; choose other text columns among "
                          f"{', '.join(repr(c) for c in columns)}")
    meta: dict[str, Any] = {"rows": len(tab.rows)}
    if filled is not None:
        meta.update(filled=filled, texts_from="mapping" if isinstance(texts, Mapping)
                    else str(getattr(texts, "path", None) or texts))
    return Corpus(name=name, ids=out_ids, texts=out_texts, titles=out_titles, source=tab.path, id_field=idf,
                  text_fields=tuple(tfs), empty=empty, lines=out_lines, unit=tab.unit, format=fmt, metadata=meta)


def _read_dataset(name: str, side: str, *, text_fields: str | Sequence[str] | None, title_field: str | None,
                  texts: Any) -> Corpus:
    from patlink.data.registry import load_dataset

    source = f"dataset:{name}:{side}"
    with _text_source(texts) as store:
        try:
            ds = load_dataset(name, texts=store)
        except (ValueError, TypeError) as e:
            raise CorpusError(f"{source}: {e}") from None
    docs, fields, view = ((ds.patents, ds.patent_fields, ds.patent_view) if side == "patents"
                          else (ds.items, ds.item_fields, ds.item_view))
    if not docs:
        other = "items" if side == "patents" else "patents"
        raise CorpusError(f"{source}: the dataset {ds.name} has no {side}; read side={other!r}, or another dataset")
    try:
        tv = parse_view(text_fields, fields, view)
    except ValueError as e:
        raise CorpusError(f"{source}: {e}; choose the text fields among them") from None
    all_texts = ds.patent_texts(view=tv) if side == "patents" else ds.item_texts(view=tv)
    if title_field is not None:
        tf: str | None = title_field
        if title_field not in fields and not any(title_field in d for d in docs.values()):
            raise CorpusError(f"{source}: no title field {title_field!r}; the fields are {', '.join(fields)}")
    else:
        tf = next((f for f in TITLE_FIELDS if f in fields), None)
    ids, out, titles, lines, empty = [], [], [], [], []
    for row, (did, text) in enumerate(all_texts.items(), 1):
        if not text:
            empty.append((did, row))
            continue
        ids.append(did)
        out.append(text)
        titles.append((docs[did].get(tf) or "").strip() if tf else "")
        lines.append(row)
    if not ids:
        raise CorpusError(f"{source}: every {side[:-1]} ({len(docs)}) has an empty text in {', '.join(tv)}"
                          + ("; honeywell-vpm patents have texts only from a hydration store (texts=STORE)"
                             if ds.name == "honeywell-vpm" and side == "patents" else "; choose other text fields"))
    meta: dict[str, Any] = {"rows": len(docs)}
    if texts is not None:
        meta.update(filled=ds.metadata.get("hydrated_patents", 0), texts_from=ds.metadata.get("patent_texts_from"))
    return Corpus(name=ds.name, ids=ids, texts=out, titles=titles, source=source, id_field="id",
                  text_fields=tuple(tv), empty=empty, lines=lines, unit="row", format="dataset", metadata=meta)


# ---------------------------------------------------------------------------------------------- the reader
def _dataset_key(text: str) -> str | None:
    from patlink.data.registry import DATASETS

    key = text.strip().lower().replace("_", "-")
    return key if key in DATASETS else None


def _file_format(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        fmt = _SUFFIXES.get(suffixes[-2]) if len(suffixes) > 1 else None
        return fmt if fmt in _GZ_OK else None
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in reversed(path.suffixes[-2:]):
        if suffix.lower() in (".gz", *_SUFFIXES) and name.lower().endswith(suffix.lower()):
            name = name[: -len(suffix)]
    return name or path.name


def read_corpus(source: str | Path, *, id_field: str | None = None,
                text_fields: str | Sequence[str] | None = None, title_field: str | None = None,
                format: str | None = None, side: str = "patents", texts: Path | Any | None = None,
                normalize_ids: bool = False) -> Corpus:
    """Read documents (patents or items) with ids and texts from a file, a BEIR folder, a dataset or a store.

    Args:
        source: a ``.jsonl``/``.ndjson``, ``.json`` (a list of objects), ``.csv``, ``.tsv`` file (each also
            ``.gz``), a ``.parquet`` file, a BEIR folder (``corpus.jsonl`` / ``queries.jsonl``; qrels not needed),
            a bundled dataset name (``pap2pat``, ``dataset:pap2pat``, ``dataset:pap2pat:items``), or a hydration
            store (``.duckdb``). An existing path is always read as a path.
        id_field: the id column. ``None``: the first present of :data:`ID_FIELDS` (``_id`` first for a BEIR
            folder, ``number`` for a store). Not used for a bundled dataset (its ids are the dataset's).
        text_fields: the columns whose texts are joined (``"title,abstract"`` or a list), in that order.
            ``None``: the present ones of :data:`TEXT_FIELDS` for ``side``; for a dataset its default view.
            Columns match exactly, else ignoring case.
        title_field: the column copied to :attr:`Corpus.titles`. ``None``: ``title``, else ``name``, if present.
        format: one of :data:`FORMATS`, to override detection by suffix (a folder is ``beir``).
        side: ``"patents"`` (documents; a BEIR ``corpus.jsonl``, a dataset's patents) or ``"items"`` (products,
            papers, queries; a BEIR ``queries.jsonl``, a dataset's items). It picks the default text fields.
        texts: patent texts that fill what the rows lack (side ``"patents"``): a hydration store path (opened
            read-only and closed again), a :class:`patlink.data.dataset.PatentTextSource` or a mapping id →
            {field: text}. For a bundled dataset as ``load_dataset(name, texts=...)``; for a file each row's
            empty or missing fields are filled from the patent of the same number (the file's own texts win),
            and the store's fields (``title``, ``abstract``, ``claims``, ``description`` ...) become columns.
        normalize_ids: rewrite ids as canonical publication numbers (:mod:`patlink.data.numbers`: ``US 7,852,519
            B2`` → ``US7852519``); an id that is not a publication number is an error. Default: ids as written.

    Returns:
        A :class:`Corpus`. Rows whose chosen text fields are all empty are not in it: they are listed in
        :attr:`Corpus.empty` with their line/row number.

    Raises:
        CorpusError: (one line, ``<file>:<line>: <what>; <fix>``) a missing file or folder; an unknown format or
            suffix (the message lists the supported ones); malformed JSON; a CSV/TSV row with the wrong number
            of fields; no id column or a missing text/title column (the message lists the columns); an empty
            id; a duplicate id (both lines named); a file without rows; every row with an empty text; a store
            that is missing, locked or not a store; an unknown dataset.

    The CSV/TSV reader allows fields of any length while it reads (the csv module's field-size limit is raised
    for the duration of the read and restored afterwards).
    """
    if side not in _SIDES:
        raise CorpusError(f"{source}: unknown side {side!r}; use 'patents' (documents) or 'items' (queries)")
    if format is not None:
        format = format.strip().lower()
        format = {"ndjson": "jsonl", "duckdb": "store"}.get(format, format)
        if format not in FORMATS:
            raise CorpusError(f"{source}: unknown format {format!r}; supported: {', '.join(FORMATS)}")
    if texts is not None and side != "patents":
        raise CorpusError(f"{source}: texts= fills patent texts; it applies to side='patents' only")
    fields = _field_list(text_fields)
    text = str(source)

    # -- bundled datasets: "pap2pat", "dataset:pap2pat", "dataset:pap2pat:items"
    path = Path(source)
    if format == "dataset" or text.startswith("dataset:") or (not path.exists() and _dataset_key(text)):
        parts = text.split(":")
        if parts[0] == "dataset":
            parts = parts[1:]
        if len(parts) == 2 and parts[1] in _SIDES:
            side = parts[1]
        elif len(parts) != 1:
            raise CorpusError(f"{source}: a dataset is named NAME, dataset:NAME or dataset:NAME:patents|items")
        key = _dataset_key(parts[0])
        if key is None:
            from patlink.data.registry import DATASETS

            raise CorpusError(f"{source}: unknown dataset {parts[0]!r}; bundled datasets: {', '.join(DATASETS)}")
        if id_field is not None:
            raise CorpusError(f"{source}: id_field does not apply to a bundled dataset (its ids are its own); "
                              "leave it out")
        return _read_dataset(key, side, text_fields=fields, title_field=title_field, texts=texts)

    if not path.exists():
        from patlink.data.registry import DATASETS

        if (format or _file_format(path)) == "store":
            _connect_store(path)  # raises: no such hydration store, with how to create one

        raise CorpusError(f"{path}: no such file or folder; give a file ({', '.join(sorted(_SUFFIXES))}, also "
                          f".gz), a BEIR folder, a hydration store or a bundled dataset ({', '.join(DATASETS)})")
    fmt = format or ("beir" if path.is_dir() else _file_format(path))
    if fmt is None:
        raise CorpusError(f"{path}: unknown file type {''.join(path.suffixes[-2:]) or '(no suffix)'!r}; supported: "
                          ".jsonl, .ndjson, .json, .csv, .tsv (each also .gz), .parquet, .duckdb (a hydration "
                          f"store), a BEIR folder; or pass format= ({', '.join(FORMATS)})")
    if fmt == "beir":
        if not path.is_dir():
            raise CorpusError(f"{path}: format 'beir' needs a folder holding corpus.jsonl / queries.jsonl")
        file = path / ("corpus.jsonl" if side == "patents" else "queries.jsonl")
        if not file.is_file():
            raise CorpusError(f"{path}: not a BEIR folder for side={side!r} (no {file.name}); give a folder with "
                              f"{file.name}, or read the other side")
        name, read_path, id_defaults = path.name, file, ("_id", *ID_FIELDS)
    else:
        if path.is_dir():
            raise CorpusError(f"{path}: a folder; format {fmt!r} needs a file (a folder is read as BEIR)")
        name, read_path = _stem(path), path
        id_defaults = ("number",) if fmt == "store" else ID_FIELDS
    if fmt == "store" and texts is not None:
        raise CorpusError(f"{path}: texts= fills a dataset's or file's patents; a store already has its texts")

    # read only the columns that can be used: the id, text and title columns asked for (or their defaults)
    wanted = _keep([*([id_field] if id_field is not None else id_defaults),
                    *(fields if fields is not None else TEXT_FIELDS[side]),
                    *([title_field] if title_field is not None else TITLE_FIELDS)])
    readers = {
        "jsonl": lambda p: _read_jsonl(p, wanted), "beir": lambda p: _read_jsonl(p, wanted),
        "json": lambda p: _read_json(p, wanted),
        "csv": lambda p: _read_delimited(p, wanted, ","), "tsv": lambda p: _read_delimited(p, wanted, "\t"),
        "parquet": lambda p: _read_parquet(p, wanted), "store": lambda p: _read_store(p, wanted),
    }
    table = readers[fmt](read_path)
    return _build(table, name=name, fmt=fmt, side=side, id_field=id_field, text_fields=fields,
                  title_field=title_field, normalize_ids=normalize_ids, id_defaults=id_defaults, texts=texts)
