"""BEIR folders in and out: the field's standard retrieval format.

A BEIR folder holds ``corpus.jsonl`` (``{"_id", "title", "text"}`` per line), ``queries.jsonl``
(``{"_id", "text"}``) and ``qrels/{train,dev,test}.tsv`` (``query-id<TAB>corpus-id<TAB>score`` with a header).
patlink maps queries to *items* and corpus documents to *patents*; qrels with score > 0 become links, and each
qrels file becomes a predefined link split (``dev`` is exposed as ``val``). Qrels with score <= 0 are, as in
TREC, *judged non-relevant* pairs (e.g. candidate links a reviewer rejected): they become the dataset's
:attr:`~patlink.data.dataset.Dataset.negative_links` (known negatives), which evaluation ignores and
``patlink train --negatives known`` draws extra negatives from.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from patlink.data.dataset import Dataset
from patlink.io import atomic_write_lines as _atomic_write_lines

__all__ = ["load_beir", "export_beir"]

_SPLIT_NAMES = {"train": "train", "dev": "val", "val": "val", "validation": "val", "test": "test"}


_JSON_KIND = {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object",
              type(None): "null"}


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a UTF-8 file, decoded line by line so that a bad byte names its line; a UTF-8
    byte-order mark at the start is skipped. Lines keep their ending."""
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield line_no, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not UTF-8 text (byte 0x{raw[e.start]:02x} at byte {e.start + 1} "
                                 "of the line); save the file as UTF-8") from None


def _read_jsonl(path: Path) -> Iterable[tuple[int, str, dict]]:
    """``(line number, id, record)`` of each non-blank line of a BEIR JSONL file.

    Raises:
        ValueError: ``file:line: ...`` for a line that is not UTF-8, not JSON, not a JSON object, without an
            ``_id``, with an ``_id`` that is not a non-blank string or an integer, or repeating an earlier ``_id``
            (both lines named).
    """
    first_line: dict[str, int] = {}
    for line_no, line in _lines(path):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{line_no}: malformed JSON ({e.msg} at column {e.colno})") from None
        except (ValueError, RecursionError) as e:   # e.g. an integer of > 4300 digits, arrays nested too deep
            why = str(e).splitlines()[0].split(': ')[0][:120]
            raise ValueError(f"{path}:{line_no}: unreadable JSON ({why})") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}:{line_no}: a JSON {_JSON_KIND.get(type(rec), type(rec).__name__)}, not an "  # noqa: TRY004
                             'object; each line must be one JSON object, e.g. {"_id": "d1", "text": "..."}')
        if "_id" not in rec:
            raise ValueError(f"{path}:{line_no}: record has no '_id'")
        rid = rec["_id"]
        if isinstance(rid, bool) or not isinstance(rid, (str, int)):
            raise ValueError(f"{path}:{line_no}: '_id' must be a string or an integer, got "  # noqa: TRY004
                             f"{_JSON_KIND.get(type(rid), type(rid).__name__)} {json.dumps(rid)[:60]}")
        rid = str(rid)
        if not rid.strip():
            raise ValueError(f"{path}:{line_no}: empty '_id' {rid!r}; give every record an id")
        first = first_line.setdefault(rid, line_no)
        if first != line_no:
            raise ValueError(f"{path}:{line_no}: duplicate _id {rid!r}, first at line {first}; keep one record per "
                             "id (a later record would replace the first)")
        yield line_no, rid, rec


def _qrels_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number where the row starts, fields)`` of a tab-separated qrels file (csv quoting rules, as BEIR's
    own loader reads it)."""
    lines = _lines(path)
    reader = csv.reader((line for _, line in lines), delimiter="\t")
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ValueError(f"{path}:{start}: unreadable qrels row ({e}); check the quotes on this line "
                             "(a field that opens a quote runs until the next one)") from None
        yield start, row


def load_beir(folder: str | os.PathLike) -> Dataset:
    """Load a BEIR folder as a :class:`Dataset` (queries → items, corpus → patents).

    Qrels rows with score > 0 become links (and the link split of their file); rows with score <= 0 become
    ``negative_links`` (known negatives, deduplicated and sorted, whatever file they are in).

    Raises:
        FileNotFoundError: if ``corpus.jsonl``, ``queries.jsonl`` or every ``qrels/*.tsv`` is missing.
        ValueError: one line, ``file:line: ...``, for a line that is not UTF-8 (a leading byte-order mark is
            skipped), not JSON or not a JSON object; a record without an ``_id`` or whose ``_id`` is not a
            non-blank string or an integer (``null`` is an error, never the id ``"None"``); an ``_id`` that an
            earlier record of the same file has (both lines named: nothing is overwritten); an unreadable qrels
            row (e.g. an unclosed quote), one with fewer than 3 fields or a score that is not a number (``nan``
            included); qrels naming unknown ids; or a pair that is judged relevant (score > 0) in one row and
            non-relevant (score <= 0) in another, in the same file or across files (the message names both
            rows; the folder must be fixed).
    """
    folder = Path(folder)
    for req in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / req).is_file():
            raise FileNotFoundError(f"{folder}: not a BEIR folder (missing {req})")
    patents: dict[str, dict[str, str]] = {}
    for _, rid, rec in _read_jsonl(folder / "corpus.jsonl"):
        doc = {"title": str(rec.get("title") or ""), "text": str(rec.get("text") or "")}
        for k, v in rec.items():  # keep extra string fields (abstract, claims ...) as fields too
            if k not in ("_id", "title", "text", "metadata") and isinstance(v, str):
                doc[k] = v
        patents[rid] = doc
    items = {rid: {"text": str(rec.get("text") or "")} for _, rid, rec in _read_jsonl(folder / "queries.jsonl")}
    qrels_files = sorted((folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
    if not qrels_files:
        raise FileNotFoundError(f"{folder}: no qrels/*.tsv")
    link_splits: dict[str, list[tuple[str, str]]] = {}
    seen: dict[tuple[str, str], tuple[bool, str]] = {}   # pair → (relevant, "file:line" of its first row)
    for qf in qrels_files:
        split = _SPLIT_NAMES.get(qf.stem, qf.stem)
        pairs: list[tuple[str, str]] = []
        for line_no, row in _qrels_rows(qf):
            if not row or (line_no == 1 and row[0].lower() in ("query-id", "query_id", "qid")):
                continue
            if len(row) < 3:
                raise ValueError(f"{qf}:{line_no}: expected query-id, corpus-id, score; got {row}")
            q, d, score = row[0], row[1], row[2]
            try:
                value = float(score)
            except ValueError:
                value = math.nan
            if math.isnan(value):
                raise ValueError(f"{qf}:{line_no}: score {score!r} is not a number")
            relevant = value > 0
            if q not in items or d not in patents:
                raise ValueError(f"{qf}:{line_no}: unknown {'query' if q not in items else 'corpus'} id "
                                 f"{q if q not in items else d!r}")
            first = seen.setdefault((q, d), (relevant, f"{qf}:{line_no}"))
            if first[0] != relevant:
                raise ValueError(f"{qf}:{line_no}: ({q!r}, {d!r}) has score {score.strip()} (judged "
                                 f"{'relevant' if relevant else 'not relevant'}) but {first[1]} judges it "
                                 f"{'relevant' if first[0] else 'not relevant'}; keep one judgement")
            if relevant:
                pairs.append((q, d))
        link_splits[split] = sorted(set(pairs))
    links = sorted({p for pairs in link_splits.values() for p in pairs})
    negative_links = sorted(p for p, (relevant, _) in seen.items() if not relevant)
    fields = sorted({k for d in patents.values() for k in d}, key=lambda k: (k not in ("title", "text"), k))
    return Dataset(
        name=f"beir:{folder.name}",
        items=items,
        patents=patents,
        links=links,
        item_fields=("text",),
        item_view=("text",),
        patent_fields=tuple(fields),
        patent_view=tuple(f for f in ("title", "text") if f in fields),
        link_splits=link_splits,
        item_kind="query",
        metadata={"source": str(folder)},
        negative_links=negative_links,
    )


def export_beir(dataset: Dataset, folder: str | os.PathLike,
                splits: dict[str, list[tuple[str, str]]] | None = None,
                negatives: list[tuple[str, str]] | None = None) -> Path:
    """Write ``dataset`` as a BEIR folder; each file is written atomically.

    Patents become the corpus (``title`` = the ``title`` field when the view has it, ``text`` = the rest of the
    patent view); items become queries (their item view). ``splits`` maps split name (``train``/``val``/``test``)
    to links; by default the dataset's ``link_splits``, or all links as ``test``. ``val`` is written as ``dev.tsv``.
    Links are written with score 1.

    ``negatives`` (default: the dataset's ``negative_links``) are known negatives, written as score-0 rows (judged
    non-relevant) into ONE qrels file: the ``train`` split's when ``splits`` has one, else the first split written.
    :func:`load_beir` reads them back as ``negative_links`` whatever file holds them.

    Returns:
        The folder path.

    Raises:
        ValueError: before anything is written, if a negative names an unknown item or patent, or is also one of
            the links written (a pair cannot be judged both relevant and not relevant).
    """
    folder = Path(folder)
    splits = splits or dataset.link_splits or {"test": dataset.links}
    negs = sorted({(str(i), str(p)) for i, p in (dataset.negative_links if negatives is None else negatives)})
    bad = [(i, p) for i, p in negs if i not in dataset.items or p not in dataset.patents]
    if bad:
        raise ValueError(f"{len(bad)} negative(s) reference unknown ids, e.g. {bad[:3]}")
    both = sorted(set(negs) & {tuple(x) for pairs in splits.values() for x in pairs})
    if both:
        raise ValueError(f"{len(both)} pair(s) are both a link and a negative, e.g. {both[:3]}")
    neg_split = "train" if "train" in splits else next(iter(splits))
    pview = dataset.patent_view
    rest = tuple(f for f in pview if f != "title")

    def corpus_lines():
        for pid, doc in dataset.patents.items():
            text = "\n".join(doc[f] for f in rest if doc.get(f))
            yield json.dumps({"_id": pid, "title": doc.get("title", "") if "title" in pview else "",
                              "text": text}, ensure_ascii=False) + "\n"

    _atomic_write_lines(folder / "corpus.jsonl", corpus_lines())
    q_texts = dataset.item_texts()
    _atomic_write_lines(folder / "queries.jsonl",
                        (json.dumps({"_id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in q_texts.items()))
    for split, pairs in splits.items():
        name = "dev" if split == "val" else split
        rows = [f"{q}\t{d}\t1\n" for q, d in sorted(pairs)]
        if split == neg_split:
            rows += [f"{q}\t{d}\t0\n" for q, d in negs]
        _atomic_write_lines(folder / "qrels" / f"{name}.tsv", ["query-id\tcorpus-id\tscore\n", *rows])
    return folder
