"""Labelled texts for multi-label CPC subclass classification, and the label-frequency report.

Sources (all give a :class:`LabeledTexts`):

* the bundled ``cpc-claims`` dataset (PatentSBERTa, MIT): claims text, ``cpc_subclass`` labels, predefined
  ``train`` (1,000) / ``test`` (100) splits — :func:`load_cpc_claims`;
* USPTO-2M JSON (the corpus of Mueller & Stone, DeepPatent): one JSON object per line (or one array per file) with
  ``Title``, ``Abstract``, ``Subclass_labels`` — :func:`load_uspto2m`;
* PatentsView bulk TSVs ``g_patent_abstract.tsv`` + ``g_cpc_current.tsv``, joined with DuckDB —
  :func:`load_patentsview`;
* generic JSONL ``{"id", "text", "labels"}`` with configurable field names — :func:`load_jsonl`.

:func:`load_file` picks the right reader for a path. Empty texts are never silently kept or dropped:
:func:`drop_empty` removes them and the count goes into ``LabeledTexts.report``.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from patlink.io import atomic_savefig

__all__ = [
    "CPC_SUBCLASS_RE",
    "LabeledTexts",
    "binarize",
    "drop_empty",
    "label_frequency",
    "load_cpc_claims",
    "load_file",
    "load_jsonl",
    "load_patentsview",
    "load_uspto2m",
    "plot_label_frequency",
    "split_holdout",
]

CPC_SUBCLASS_RE = re.compile(r"^[A-HY]\d\d[A-Z]$")


@dataclass
class LabeledTexts:
    """Documents with their label sets.

    Attributes:
        ids: document ids (publication numbers where known), length n.
        texts: document texts, length n (may contain empty strings until :func:`drop_empty`).
        labels: label lists (e.g. CPC subclasses ``["G06F", "H04L"]``), length n.
        source: human-readable origin (``cpc-claims:train``, a file path ...).
        report: counts gathered while loading (``empty_texts``, ``malformed_rows`` with line numbers, ...).
    """

    ids: list[str]
    texts: list[str]
    labels: list[list[str]]
    source: str = ""
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.texts) == len(self.labels)):
            raise ValueError(f"ids/texts/labels lengths differ: {len(self.ids)}/{len(self.texts)}/{len(self.labels)}")

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: Sequence[int], source: str | None = None) -> LabeledTexts:
        """Rows ``idx`` (a copy); the report is kept."""
        return replace(self, ids=[self.ids[i] for i in idx], texts=[self.texts[i] for i in idx],
                       labels=[list(self.labels[i]) for i in idx], source=source or self.source,
                       report=dict(self.report))


# ------------------------------------------------------------------------------------------------ bundled
def load_cpc_claims(split: str = "train", label: str = "cpc_subclass") -> LabeledTexts:
    """Claims and CPC labels of the bundled ``cpc-claims`` dataset.

    Args:
        split: ``train`` (1,000 patents), ``test`` (100) or ``groups1400`` (1,411 patents, one subclass each).
        label: label column of ``Dataset.labels`` (``cpc_subclass``, ``cpc_section``, ``cpc_subgroup``).

    Raises:
        ValueError: unknown split or label column (the message lists the available ones).
    """
    from patlink.data import load_dataset

    ds = load_dataset("cpc-claims")
    if split not in ds.doc_splits:
        raise ValueError(f"unknown split {split!r} of cpc-claims; available: {', '.join(ds.doc_splits)}")
    if label not in ds.labels:
        raise ValueError(f"unknown label column {label!r}; available: {', '.join(ds.labels)}")
    ids = list(ds.doc_splits[split])
    texts = ds.patent_texts(ids, view="claims")
    lab = ds.labels[label]
    return LabeledTexts(ids=ids, texts=[texts[i] for i in ids], labels=[list(lab.get(i, [])) for i in ids],
                        source=f"cpc-claims:{split}", report={"label_column": label})


# ------------------------------------------------------------------------------------------------ files
def _open_text(path: Path):
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _iter_json_records(path: Path) -> Iterable[tuple[int, dict | None, str]]:
    """Yield ``(line_number, record_or_None, error)`` from a JSONL file or a file holding one JSON array."""
    with _open_text(path) as f:
        head = f.read(1)
        while head and head.isspace():
            head = f.read(1)
        if head == "[":
            try:
                data = json.loads(head + f.read())
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON ({e})") from e
            for i, rec in enumerate(data, 1):
                yield i, rec if isinstance(rec, dict) else None, "" if isinstance(rec, dict) else "not an object"
            return
        first = True
        for n, line in enumerate(f, 1):
            if first:
                line, first = head + line, False
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, None, f"invalid JSON: {e.msg}"
                continue
            yield (n, rec, "") if isinstance(rec, dict) else (n, None, "not a JSON object")


def _as_list(v) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return [s.strip() for s in re.split(r"[;,|\s]+", v) if s.strip()]
    if isinstance(v, (list, tuple)):
        return [str(s).strip() for s in v if str(s).strip()]
    return None


def load_jsonl(path: str | Path, text_field: str | Sequence[str] = "text", label_field: str = "labels",
               id_field: str = "id", limit: int | None = None) -> LabeledTexts:
    """Generic JSONL (or JSON array) reader.

    Args:
        path: ``.json``/``.jsonl`` file, optionally ``.gz``.
        text_field: one field or several (joined with a space, e.g. ``("Title", "Abstract")``).
        label_field: a list of labels or a string of labels separated by ``,;|`` or spaces.
        id_field: document id field; the line number is used when missing.
        limit: read at most this many valid records.

    Returns:
        :class:`LabeledTexts`; ``report["malformed_rows"]`` lists ``(line, reason)`` of skipped rows (first 20)
        and ``report["n_malformed"]`` counts them.

    Raises:
        ValueError: if the label or text field is absent from every record (message lists the fields seen).
    """
    path = Path(path)
    fields = [text_field] if isinstance(text_field, str) else list(text_field)
    ids, texts, labels, bad = [], [], [], []
    seen_keys: set[str] = set()
    for n, rec, err in _iter_json_records(path):
        if rec is None:
            bad.append((n, err))
            continue
        seen_keys.update(rec)
        labs = _as_list(rec.get(label_field))
        if labs is None:
            bad.append((n, f"no label field {label_field!r}"))
            continue
        if not any(f in rec for f in fields):
            bad.append((n, f"no text field {'/'.join(fields)}"))
            continue
        texts.append(" ".join(str(rec.get(f) or "").strip() for f in fields if rec.get(f)).strip())
        labels.append(labs)
        ids.append(str(rec.get(id_field, n)))
        if limit and len(ids) >= limit:
            break
    if not ids:
        hint = f"; fields seen: {', '.join(sorted(seen_keys))}" if seen_keys else ""
        first = f"; first problem: line {bad[0][0]}: {bad[0][1]}" if bad else ""
        raise ValueError(f"{path}: no usable record (label field {label_field!r}, text field(s) "
                         f"{', '.join(fields)}){hint}{first}")
    return LabeledTexts(ids, texts, labels, source=str(path),
                        report={"n_malformed": len(bad), "malformed_rows": bad[:20], "label_column": label_field})


def load_uspto2m(path: str | Path, limit: int | None = None) -> LabeledTexts:
    """USPTO-2M (DeepPatent; the corpus of Mueller & Stone, §4): records with ``Title``, ``Abstract``,
    ``Subclass_labels`` (list of CPC subclasses) and ``No`` (patent number). Text = title + abstract.

    Raises:
        ValueError: if no record has ``Subclass_labels``.
    """
    p = Path(path)
    with _open_text(p) as f:
        sample = f.read(4096)
    id_field = "No" if '"No"' in sample else ("PatentNumber" if "PatentNumber" in sample else "id")
    return load_jsonl(p, text_field=("Title", "Abstract"), label_field="Subclass_labels", id_field=id_field,
                      limit=limit)


def _find(tables: dict[str, list[Path]], folder: Path, key: str) -> list[Path]:
    from patlink.data.patentsview import zipped_only

    if key in tables:
        return tables[key]
    hint = f"; {key}.tsv.zip must be unzipped first" if zipped_only(folder, key) else ""
    raise FileNotFoundError(f"{folder}: no {key}.tsv (PatentsView bulk download file){hint}")


def load_patentsview(abstract_tsv: str | Path | list[Path], cpc_tsv: str | Path | list[Path], limit: int | None = None,
                     cpc_type: str | None = None) -> LabeledTexts:
    """PatentsView granted-patent bulk files, read and joined with DuckDB (:mod:`patlink.data.patentsview`).

    Args:
        abstract_tsv: ``g_patent_abstract.tsv`` (columns ``patent_id``, ``patent_abstract``), or a list of files.
        cpc_tsv: ``g_cpc_current.tsv`` (columns ``patent_id``, ``cpc_subclass`` ...), or a list of files.
        limit: keep the first ``limit`` patents (ordered by ``patent_id``).
        cpc_type: keep only ``inventive`` or ``additional`` CPC rows (column ``cpc_type``); all when ``None``.

    Returns:
        Texts = abstracts, labels = distinct CPC subclasses; ids ``US<patent_id>``.

    Raises:
        ValueError: a required column is missing (the message lists the file's columns).
    """
    from patlink.data.patentsview import PatentsViewTables

    abstract_files = list(abstract_tsv) if isinstance(abstract_tsv, (list, tuple)) else [abstract_tsv]
    cpc_files = list(cpc_tsv) if isinstance(cpc_tsv, (list, tuple)) else [cpc_tsv]
    with PatentsViewTables({"g_patent_abstract": abstract_files, "g_cpc_current": cpc_files}) as t:
        t.require("g_patent_abstract", ("patent_id", "patent_abstract"))
        t.require("g_cpc_current", ("patent_id", "cpc_subclass"))
        where = "WHERE c.cpc_type = ?" if cpc_type else ""
        sql = (f"SELECT a.patent_id, any_value(a.patent_abstract), "
               f"list(DISTINCT c.cpc_subclass ORDER BY c.cpc_subclass) "
               f"FROM {t.source('g_patent_abstract')} a JOIN {t.source('g_cpc_current')} c USING (patent_id) {where} "
               f"GROUP BY a.patent_id ORDER BY a.patent_id" + (f" LIMIT {int(limit)}" if limit else ""))
        rows = t.query(sql, [cpc_type] if cpc_type else [])
    ids = [f"US{r[0]}" for r in rows]
    return LabeledTexts(ids, [r[1] or "" for r in rows], [[s for s in r[2] if s] for r in rows],
                        source="patentsview:" + ",".join(map(str, abstract_files)),
                        report={"label_column": "cpc_subclass"})


def load_file(path: str | Path, text_field: str | None = None, label_field: str | None = None,
              limit: int | None = None) -> LabeledTexts:
    """Load labelled texts from a path, detecting the format.

    * a folder holding PatentsView ``g_patent_abstract.tsv`` and ``g_cpc_current.tsv`` → :func:`load_patentsview`;
    * a JSON/JSONL file whose records have ``Subclass_labels`` (and no explicit fields given) → :func:`load_uspto2m`;
    * any other JSON/JSONL → :func:`load_jsonl` with ``text_field`` (default ``text``; ``a,b`` joins fields) and
      ``label_field`` (default ``labels``).

    Raises:
        FileNotFoundError: the path does not exist. ValueError: unknown format or missing fields.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    if p.is_dir():
        from patlink.data.patentsview import find_patentsview_tables

        tables = find_patentsview_tables(p)
        return load_patentsview(_find(tables, p, "g_patent_abstract"), _find(tables, p, "g_cpc_current"), limit=limit)
    name = p.name.lower()
    if not any(name.endswith(e) for e in (".json", ".jsonl", ".json.gz", ".jsonl.gz", ".ndjson")):
        raise ValueError(f"{p}: unsupported format; give a .json/.jsonl(.gz) file or a PatentsView folder")
    if text_field is None and label_field is None:
        with _open_text(p) as f:
            if "Subclass_labels" in f.read(65536):
                return load_uspto2m(p, limit=limit)
    tf = [s.strip() for s in (text_field or "text").split(",") if s.strip()]
    return load_jsonl(p, text_field=tf, label_field=label_field or "labels", limit=limit)


# ------------------------------------------------------------------------------------------------ helpers
def drop_empty(data: LabeledTexts, require_labels: bool = True) -> LabeledTexts:
    """Remove documents with an empty text (and, if ``require_labels``, with no label).

    The counts are added to the report: ``empty_texts``, ``unlabelled`` (and the first 10 ids of each).
    """
    empty = [i for i, t in enumerate(data.texts) if not t.strip()]
    unlab = [i for i, labs in enumerate(data.labels) if not labs] if require_labels else []
    bad = set(empty) | set(unlab)
    out = data.subset([i for i in range(len(data)) if i not in bad])
    out.report.update(empty_texts=len(empty), unlabelled=len(unlab),
                      empty_text_ids=[data.ids[i] for i in empty[:10]],
                      unlabelled_ids=[data.ids[i] for i in unlab[:10]])
    return out


def split_holdout(n: int, fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Random split of ``range(n)`` into (kept, held-out) index lists; ``round(fraction*n)`` held out (≥1 if n>1).

    Raises:
        ValueError: ``fraction`` not in (0, 1).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = max(1, round(fraction * n)) if n > 1 else 0
    return sorted(idx[k:]), sorted(idx[:k])


def binarize(labels: Sequence[Sequence[str]], classes: Sequence[str] | None = None):
    """Multi-hot matrix with scikit-learn's ``MultiLabelBinarizer``.

    Args:
        labels: label lists, length n.
        classes: fixed label order; labels outside it are ignored and counted. ``None``: sorted labels seen.

    Returns:
        ``(Y, classes, n_unknown)``: ``Y`` (n, m) uint8, the class list, number of label assignments not in
        ``classes``.
    """
    from sklearn.preprocessing import MultiLabelBinarizer

    classes = sorted({c for labs in labels for c in labs}) if classes is None else list(classes)
    known = set(classes)
    n_unknown = sum(1 for labs in labels for c in labs if c not in known)
    mlb = MultiLabelBinarizer(classes=classes)
    y = mlb.fit_transform([[c for c in labs if c in known] for labs in labels]).astype(np.uint8)
    return y, classes, n_unknown


def label_frequency(labels: Sequence[Sequence[str]], top: int = 20) -> dict:
    """Label-frequency report (the statistics behind Fig. 1 of Mueller & Stone).

    Returns:
        dict with ``n_docs``, ``n_labels`` (distinct), ``labels_per_doc`` (mean/median/max), ``counts``
        (label → docs, most frequent first), ``top`` (the ``top`` most frequent), ``sections`` (CPC section →
        docs having a label in it), ``rare`` (number of labels with 1, ≤5, ≤10 docs), ``head_share`` (share of
        label assignments taken by the 10% most frequent labels).
    """
    counts = Counter(c for labs in labels for c in set(labs))
    per_doc = np.array([len(set(labs)) for labs in labels]) if labels else np.zeros(0)
    sections = Counter(s for labs in labels for s in {c[0] for c in labs if c})
    ordered = counts.most_common()
    total = sum(counts.values())
    head = ordered[:max(1, len(ordered) // 10)]
    return {
        "n_docs": len(labels),
        "n_labels": len(counts),
        "labels_per_doc": {"mean": float(per_doc.mean()) if len(per_doc) else 0.0,
                           "median": float(np.median(per_doc)) if len(per_doc) else 0.0,
                           "max": int(per_doc.max()) if len(per_doc) else 0},
        "counts": dict(ordered),
        "top": ordered[:top],
        "sections": dict(sorted(sections.items())),
        "rare": {"1": sum(1 for _, v in ordered if v == 1), "<=5": sum(1 for _, v in ordered if v <= 5),
                 "<=10": sum(1 for _, v in ordered if v <= 10)},
        "head_share": (sum(v for _, v in head) / total) if total else 0.0,
    }


def plot_label_frequency(report: dict, path: str | Path, title: str = "CPC subclass frequency") -> Path:
    """Bar plot of documents per label, most frequent first, log scale (like Fig. 1 of Mueller & Stone).

    Written atomically (:func:`patlink.io.atomic_savefig`); the format follows the suffix (``.png``, ``.pdf``,
    ``.svg``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = list(report["counts"].values())
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar(range(len(counts)), counts, width=1.0, color="#3b6ea8")
    ax.set_yscale("log")
    ax.set_xlabel(f"label rank ({report['n_labels']} labels)")
    ax.set_ylabel("documents")
    ax.set_title(f"{title} (n={report['n_docs']}, {report['labels_per_doc']['mean']:.2f} labels/doc)")
    for rank, (lab, c) in enumerate(report["top"][:5]):
        ax.annotate(lab, (rank, c), textcoords="offset points", xytext=(4, 2), fontsize=7, rotation=45)
    fig.tight_layout()
    try:
        atomic_savefig(fig, path, dpi=120)
    finally:
        plt.close(fig)
    return path
