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
import os
from pathlib import Path

__all__ = ["ITEM_COLUMNS", "PATENT_COLUMNS", "read_links"]

#: Item id columns looked for, in this order.
ITEM_COLUMNS = ("item_id", "product_id", "query_id", "query-id", "qid", "item", "product")
#: Patent id columns looked for, in this order.
PATENT_COLUMNS = ("patent_id", "corpus_id", "corpus-id", "docid", "doc_id", "publication_number", "number", "patent")


def _rows(path: Path):
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for n, row in enumerate(pq.read_table(path).to_pylist(), 1):
            yield n, {k: "" if v is None else str(v) for k, v in row.items()}
        return
    with open(path, encoding="utf-8", newline="") as f:
        if suffix in (".jsonl", ".ndjson"):
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{path}:{n}: malformed JSON ({e.msg})") from None
                    if not isinstance(rec, dict):
                        raise ValueError(f"{path}:{n}: expected a JSON object per line")
                    yield n, {k: "" if v is None else str(v) for k, v in rec.items()}
            return
        if suffix not in (".csv", ".tsv"):
            raise ValueError(f"{path}: links are read from .csv, .tsv, .jsonl or .parquet, not {suffix or 'no suffix'!r}")
        for n, row in enumerate(csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ","), 2):
            yield n, {k: (v or "") for k, v in row.items() if k is not None}


def read_links(path: str | os.PathLike) -> list[tuple[str, str]]:
    """The ``(item id, patent id)`` pairs of a links file, unique, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown suffix, no item or patent column (the message lists the columns there are), an
            empty id or a non-numeric score (file and line named).
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
                                 f"{', '.join(names) or 'none'}")
            score = next((c for c in ("label", "relevance", "score") if c in names), None)
            cols = (item, patent, score, "decision" if "decision" in names else None)
        item, patent, score, decision = cols
        if decision is not None:
            if row.get(decision, "").strip() != "accept":
                continue
            score = None
        i, p = row.get(item, "").strip(), row.get(patent, "").strip()
        if not i or not p:
            raise ValueError(f"{path}:{n}: empty {item if not i else patent}")
        if score is not None:
            if row.get(score, "").strip() == "":
                continue
            try:
                if float(row[score]) <= 0:
                    continue
            except ValueError:
                raise ValueError(f"{path}:{n}: {score} {row[score]!r} is not a number") from None
        out[(i, p)] = None
    return list(out)
