"""Decisions out: a table for people (CSV, TSV, JSONL, Parquet) and a BEIR folder that ``patlink train`` and
``patlink eval`` read.

The BEIR folder closes the review loop (serve → review → export → train → serve the new model):

- ``qrels/reviewed.tsv``: ``query-id  corpus-id  score`` with score 1 for each accepted pair (and, when given,
  each known link a reviewer did not reject) and score 0 for each rejected pair. BEIR/TREC read score 0 as
  *judged not relevant*; :func:`patlink.data.beir.load_beir` keeps those rows as the dataset's
  ``negative_links`` (known negatives, usable as hard negatives by ``patlink train --negatives known``).
  ``unsure`` decisions are left out.
- ``queries.jsonl``: every item of those pairs with its text (the text reviewed in the page, else the known item's).
- ``corpus.jsonl``: every patent of those pairs with its title and text.
- ``export.json``: provenance (database, time, counts).

The qrels file is not named ``train``/``dev``/``test``, so training and evaluation split the reviewed graph
themselves (graph-aware, as for any dataset without its own split).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from patlink.io import atomic_path, atomic_write_json, atomic_write_lines, atomic_writer, spreadsheet_safe
from patlink.review.decisions import Decision, DecisionStore

__all__ = ["DECISION_FORMATS", "decisions_format", "export_decisions", "export_training"]

#: Formats of a decisions table, by name.
DECISION_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: Columns of a decisions table, in order.
COLUMNS = ("item_id", "patent_id", "decision", "label", "note", "reviewer", "decided_at", "method", "score", "rank",
           "id")


def decisions_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The table format named by ``fmt`` or the suffix of ``path``; ``beir`` for a path without a suffix.

    Raises:
        ValueError: an unknown format or suffix (the message lists the formats).
    """
    if fmt is None:
        suffix = Path(path).suffix.lower()
        fmt = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
               "": "beir"}.get(suffix)
        if fmt is None:
            raise ValueError(f"{path}: cannot tell the format from the suffix {suffix!r}; use .csv, .tsv, .jsonl, "
                             ".parquet, or a folder name without a suffix for a BEIR folder")
    if fmt not in (*DECISION_FORMATS, "beir"):
        raise ValueError(f"unknown decisions format {fmt!r}; use one of {', '.join(DECISION_FORMATS)}, beir")
    return fmt


def _row(d: Decision) -> dict:
    return {"item_id": d.item_id, "patent_id": d.patent_id, "decision": d.decision, "label": d.label,
            "note": d.note, "reviewer": d.reviewer, "decided_at": d.decided_at, "method": d.method,
            "score": d.score, "rank": d.rank, "id": d.id}


def export_decisions(decisions: Iterable[Decision], path: str | os.PathLike, fmt: str | None = None) -> int:
    """Write decisions as a table, atomically.

    Columns: :data:`COLUMNS` — ``label`` is 1 (accept), 0 (reject) or empty (unsure). In CSV/TSV every text cell a
    spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` …) gets a leading ``'``
    (:func:`patlink.io.spreadsheet_safe`); JSONL and Parquet keep the values as they are.

    Args:
        decisions: e.g. ``store.decisions()`` (current decisions) or ``store.decisions(latest=False)`` (history).
        path: the file. fmt: one of :data:`DECISION_FORMATS`; ``None``: from the suffix.

    Returns:
        The number of rows written. Raises ``ValueError`` on an unknown format.
    """
    fmt = decisions_format(path, fmt)
    if fmt == "beir":
        raise ValueError(f"{path}: a BEIR folder is written by export_training (give a file name with a suffix "
                         "for a table)")
    rows = [_row(d) for d in decisions]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(c, pa.float64() if c == "score" else pa.int64() if c in ("rank", "id", "label")
                             else pa.string()) for c in COLUMNS])
        with atomic_path(path) as tmp:
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp, compression="zstd")
        return len(rows)
    with atomic_writer(path, "w") as f:
        if fmt == "jsonl":
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            w = csv.DictWriter(f, fieldnames=COLUMNS, delimiter="\t" if fmt == "tsv" else ",")
            w.writeheader()
            for r in rows:
                w.writerow({k: spreadsheet_safe("" if v is None else v) for k, v in r.items()})
    return len(rows)


def export_training(store: DecisionStore, folder: str | os.PathLike, *, patents: Mapping[str, Mapping[str, str]],
                    items: Mapping[str, str] | None = None, known_links: Iterable[tuple[str, str]] = ()) -> dict:
    """Write the current decisions (and known links) as a BEIR folder ``patlink train --beir`` and
    ``patlink eval --beir`` read; every file is written atomically.

    Args:
        store: the decisions. folder: the BEIR folder (created).
        patents: patent id → ``{"title", "text"}`` (e.g. the index's documents); a patent missing here is written
            with an empty text (patents represented by their products, ``--patent-repr item_set``).
        items: item id → text of the known items; the text recorded with a decision wins.
        known_links: links known before the review (e.g. a dataset's); written as positives unless the current
            decision of the pair is ``reject`` (then it is a known negative).

    Returns:
        The counts written: ``{"positives", "negatives", "queries", "corpus", "unsure_left_out",
        "missing_item_text"}``.

    Raises:
        ValueError: nothing to export (no accepted or rejected pair and no known link).
    """
    folder = Path(folder)
    current = store.decisions()
    label = {(d.item_id, d.patent_id): d.label for d in current}
    pos = {p for p, lab in label.items() if lab == 1}
    neg = {p for p, lab in label.items() if lab == 0}
    pos |= {tuple(p) for p in known_links if tuple(p) not in neg}
    if not pos and not neg:
        raise ValueError(f"{store.path}: no accepted or rejected decision to export")
    texts = dict(items or {})
    texts.update(store.item_texts())
    item_ids = sorted({i for i, _ in pos | neg})
    patent_ids = sorted({p for _, p in pos | neg})
    missing = [i for i in item_ids if not (texts.get(i) or "").strip()]

    def corpus_lines():
        for pid in patent_ids:
            doc = patents.get(pid) or {}
            yield json.dumps({"_id": pid, "title": str(doc.get("title") or ""), "text": str(doc.get("text") or "")},
                             ensure_ascii=False) + "\n"

    atomic_write_lines(folder / "corpus.jsonl", corpus_lines())
    atomic_write_lines(folder / "queries.jsonl", (json.dumps({"_id": i, "text": texts.get(i, "")},
                                                             ensure_ascii=False) + "\n" for i in item_ids))
    rows = sorted([(i, p, 1) for i, p in pos] + [(i, p, 0) for i, p in neg])
    atomic_write_lines(folder / "qrels" / "reviewed.tsv",
                       ["query-id\tcorpus-id\tscore\n", *(f"{i}\t{p}\t{s}\n" for i, p, s in rows)])
    counts = {"positives": len(pos), "negatives": len(neg), "queries": len(item_ids), "corpus": len(patent_ids),
              "unsure_left_out": sum(1 for d in current if d.label is None), "missing_item_text": len(missing)}
    atomic_write_json(folder / "export.json", {
        "source": str(store.path), "exported_at": datetime.now(timezone.utc).isoformat(), **counts,
        "qrels": "qrels/reviewed.tsv: 1 = accepted (or known and not rejected), 0 = rejected"})
    return counts
