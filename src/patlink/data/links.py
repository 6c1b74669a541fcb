"""Known links from a file: ``(item id, patent id)`` pairs a user already has (a VPM page's, an export of reviewed
decisions, a BEIR qrels file).

:func:`read_links` reads CSV, TSV (BEIR ``qrels/*.tsv`` included), JSONL and Parquet. The item column is the first
of :data:`ITEM_COLUMNS` present, the patent column the first of :data:`PATENT_COLUMNS`; a ``score`` or ``label``
column, when present, keeps only rows with a value > 0 (qrels relevance; an empty value is not a link), and a
``decision`` column (a decisions export of ``patlink review``) only ``accept`` rows. Ids stay strings as written.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

__all__ = ["ITEM_COLUMNS", "PATENT_COLUMNS", "read_links"]

#: Item id columns looked for, in this order.
ITEM_COLUMNS = ("item_id", "product_id", "query_id", "query-id", "qid", "item", "product")
#: Patent id columns looked for, in this order.
PATENT_COLUMNS = ("patent_id", "corpus_id", "corpus-id", "docid", "doc_id", "publication_number", "number", "patent")


_SCORE_COLUMNS = ("label", "relevance", "score")


def _lines(path: Path):
    """The lines of a UTF-8 file (a leading byte-order mark skipped), decoded one by one so that a bad byte names
    its line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{n}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as "
                                 "UTF-8") from None


def _cell(value) -> str | None:
    """A JSON value as an id/score cell: strings and numbers as text, null as empty; ``None`` for a list, an
    object or a boolean (not an id)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value)


def _rows(path: Path):
    """``(line or row number, {column: text})``; the header's columns are checked by the caller from the first
    row, or from ``None`` for a file without rows (``(0, {column: ""})`` is yielded for a header-only CSV)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a file that is not Parquet
            raise ValueError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0][:160]})") from None
        if table.num_rows == 0:
            yield 0, dict.fromkeys(table.column_names, "")
        for n, row in enumerate(table.to_pylist(), 1):
            yield n, {k: "" if v is None else str(v) for k, v in row.items()}
        return
    if suffix in (".jsonl", ".ndjson"):
        for n, line in enumerate(_lines(path), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: malformed JSON ({e.msg})") from None
            except (ValueError, RecursionError) as e:   # an integer of > 4300 digits, arrays nested too deep
                why = str(e).splitlines()[0].split(': ')[0][:120]
                raise ValueError(f"{path}:{n}: unreadable JSON ({why})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object per line")  # noqa: TRY004
            yield n, {k: _cell(v) for k, v in rec.items()}
        return
    if suffix not in (".csv", ".tsv"):
        raise ValueError(f"{path}: links are read from .csv, .tsv, .jsonl or .parquet, not {suffix or 'no suffix'!r}")
    reader = csv.reader(_lines(path), delimiter="\t" if suffix == ".tsv" else ",")
    header = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise ValueError(f"{path}:{start}: unreadable row ({e}); check the quotes on this line (a field that "
                             "opens a quote runs until the next one)") from None
        if not row:
            continue
        if header is None:
            header = row
            continue
        if len(row) > len(header):
            if any(v.strip() for v in row[len(header):]):   # trailing empty fields ("a,b,") are harmless
                raise ValueError(f"{path}:{start}: {len(row)} fields, the header has {len(header)}; quote a "
                                 "value that holds the delimiter")
            row = row[:len(header)]
        yield start, dict(zip(header, row + [""] * (len(header) - len(row))))
    if header is not None:
        yield 0, dict.fromkeys(header, "")   # the header alone: its columns are checked all the same


def read_links(path: str | os.PathLike) -> list[tuple[str, str]]:
    """The ``(item id, patent id)`` pairs of a links file, unique, in file order.

    The item and patent columns are found in the header (the first record of a JSONL file); a ``label``,
    ``relevance`` or ``score`` column keeps only rows with a value > 0, a ``decision`` column only ``accept``
    rows. In a JSONL file each record's own keys decide whether it has a score or decision. A UTF-8 byte-order
    mark is skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: one line naming the file (and the line): an unknown suffix; no item or patent column (the
            message lists the columns there are, also for a file with a header and no rows); bytes that are not
            UTF-8; an unreadable CSV row (an unclosed quote) or one with more non-empty fields than the header; malformed
            JSON or a line that is not an object; an empty id, or (JSONL) an id that is a list, object or boolean;
            a score that is not a number (``nan`` included); a Parquet file that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such links file")
    out: dict[tuple[str, str], None] = {}
    cols = None
    for n, row in _rows(path):
        if cols is None:
            names = list(row)
            item = next((c for c in ITEM_COLUMNS if c in names), None)
            patent = next((c for c in PATENT_COLUMNS if c in names), None)
            if item is None or patent is None:
                raise ValueError(f"{path}: no {'item' if item is None else 'patent'} id column; expected one of "
                                 f"{', '.join(ITEM_COLUMNS if item is None else PATENT_COLUMNS)}, found "
                                 f"{', '.join(map(repr, names)) or 'none'}")
            cols = (item, patent)
        if n == 0:   # the header of a file without rows
            continue
        item, patent = cols
        score = next((c for c in _SCORE_COLUMNS if c in row), None)
        if "decision" in row:
            if (row["decision"] or "").strip() != "accept":
                continue
            score = None
        i, p = row.get(item, ""), row.get(patent, "")
        for col, v in ((item, i), (patent, p)):
            if v is None:
                raise ValueError(f"{path}:{n}: {col} must be a string or a number")
        i, p = i.strip(), p.strip()
        if not i or not p:
            raise ValueError(f"{path}:{n}: empty {item if not i else patent}")
        if score is not None:
            value = row[score]
            if value is None:
                raise ValueError(f"{path}:{n}: {score} must be a number")
            if value.strip() == "":
                continue
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isnan(number):
                raise ValueError(f"{path}:{n}: {score} {value!r} is not a number")
            if number <= 0:
                continue
        out[(i, p)] = None
    return list(out)
