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

import csv
import json
import os
from pathlib import Path
from typing import Iterable

from patlink.data.dataset import Dataset
from patlink.io import atomic_write_lines as _atomic_write_lines

__all__ = ["load_beir", "export_beir"]

_SPLIT_NAMES = {"train": "train", "dev": "val", "val": "val", "validation": "val", "test": "test"}


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict]]:
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{line_no}: malformed JSON ({e.msg})") from None
            if "_id" not in rec:
                raise ValueError(f"{path}:{line_no}: record has no '_id'")
            yield line_no, rec


def load_beir(folder: str | os.PathLike) -> Dataset:
    """Load a BEIR folder as a :class:`Dataset` (queries → items, corpus → patents).

    Qrels rows with score > 0 become links (and the link split of their file); rows with score <= 0 become
    ``negative_links`` (known negatives, deduplicated and sorted, whatever file they are in).

    Raises:
        FileNotFoundError: if ``corpus.jsonl``, ``queries.jsonl`` or every ``qrels/*.tsv`` is missing.
        ValueError: on a malformed line (message gives file and line), qrels naming unknown ids, or a pair that is
            judged relevant (score > 0) in one row and non-relevant (score <= 0) in another, in the same file or
            across files (the message names both rows; the folder must be fixed).
    """
    folder = Path(folder)
    for req in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / req).is_file():
            raise FileNotFoundError(f"{folder}: not a BEIR folder (missing {req})")
    patents: dict[str, dict[str, str]] = {}
    for _, rec in _read_jsonl(folder / "corpus.jsonl"):
        doc = {"title": str(rec.get("title") or ""), "text": str(rec.get("text") or "")}
        for k, v in rec.items():  # keep extra string fields (abstract, claims ...) as fields too
            if k not in ("_id", "title", "text", "metadata") and isinstance(v, str):
                doc[k] = v
        patents[str(rec["_id"])] = doc
    items = {str(rec["_id"]): {"text": str(rec.get("text") or "")} for _, rec in _read_jsonl(folder / "queries.jsonl")}
    qrels_files = sorted((folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
    if not qrels_files:
        raise FileNotFoundError(f"{folder}: no qrels/*.tsv")
    link_splits: dict[str, list[tuple[str, str]]] = {}
    seen: dict[tuple[str, str], tuple[bool, str]] = {}   # pair → (relevant, "file:line" of its first row)
    for qf in qrels_files:
        split = _SPLIT_NAMES.get(qf.stem, qf.stem)
        pairs: list[tuple[str, str]] = []
        with open(qf, encoding="utf-8", newline="") as f:
            for line_no, row in enumerate(csv.reader(f, delimiter="\t"), 1):
                if not row or (line_no == 1 and row[0].lower() in ("query-id", "query_id", "qid")):
                    continue
                if len(row) < 3:
                    raise ValueError(f"{qf}:{line_no}: expected query-id, corpus-id, score; got {row}")
                q, d, score = row[0], row[1], row[2]
                try:
                    relevant = float(score) > 0
                except ValueError:
                    raise ValueError(f"{qf}:{line_no}: score {score!r} is not a number") from None
                if q not in items or d not in patents:
                    raise ValueError(f"{qf}:{line_no}: unknown {'query' if q not in items else 'corpus'} id "
                                     f"{q if q not in items else d!r}")
                first = seen.setdefault((q, d), (relevant, f"{qf}:{line_no}"))
                if first[0] != relevant:
                    raise ValueError(f"{qf}:{line_no}: ({q!r}, {d!r}) has score {score} (judged "
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
