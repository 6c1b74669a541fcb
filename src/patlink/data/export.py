"""Write a dataset out — its patents (with whatever texts were hydrated or summarised), items and links — in the
formats other tools read: a BEIR folder, JSON lines, or Parquet.

:func:`export_dataset` is what ``patlink data export`` runs. The patent side is written in the chosen patent view,
so ``patlink data export honeywell-vpm --texts STORE --patent-view summary --format parquet`` writes what
``patlink summarise`` put in the store, and every export says how many patents have text in that view
(``export.json``), never hiding the patents that have none.

Layout of a ``jsonl`` / ``parquet`` export (``EXT`` = ``jsonl`` or ``parquet``)::

    OUT/patents.EXT   id, one column per field of the patent view (in its order), and the bibliographic fields the
                      texts came with (kind, dates, cpc, source…)
    OUT/items.EXT     id, one column per field of the item view
    OUT/links.EXT     item_id, patent_id, score (1 = link, 0 = known negative), split (train/val/test or "")
    OUT/export.json   dataset, views, counts, patents with text in the view, where the texts came from

All values are strings except ``score`` (int). The files are read back by :func:`patlink.data.read_corpus`
(``patents.EXT``, ``items.EXT``) and :func:`patlink.data.links.read_links` (``links.EXT``). A ``beir`` export is
:func:`patlink.data.beir.export_beir` plus the same ``export.json``. Every file is written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from patlink.data.dataset import Dataset
from patlink.io import atomic_path, atomic_write_json, atomic_write_lines

__all__ = ["EXPORT_FORMATS", "BIBLIOGRAPHIC_FIELDS", "ExportReport", "export_dataset"]

#: Values of ``export_dataset(format=...)``.
EXPORT_FORMATS = ("beir", "jsonl", "parquet")
#: Non-text patent fields written beside the view when a patent has them (from a hydration store or a dataset).
BIBLIOGRAPHIC_FIELDS = ("publication_number", "kind", "publication_date", "grant_date", "filing_date",
                        "priority_date", "date", "family_id", "cpc", "citations", "source")


@dataclass
class ExportReport:
    """What :func:`export_dataset` wrote.

    Attributes:
        folder: the output folder.
        format: ``beir``, ``jsonl`` or ``parquet``.
        files: paths written, relative to ``folder``.
        patents / items / links / negative_links: rows written.
        patents_with_text: patents whose text in ``patent_view`` is not empty (the others are written too, with
            empty fields, and counted here).
        patent_view / item_view: the views written.
        texts_from: where the patents' texts came from (``metadata["patent_texts_from"]``), ``""`` when only the
            dataset's own texts were used.
    """

    folder: Path
    format: str
    files: list[str] = field(default_factory=list)
    patents: int = 0
    items: int = 0
    links: int = 0
    negative_links: int = 0
    patents_with_text: int = 0
    patent_view: tuple[str, ...] = ()
    item_view: tuple[str, ...] = ()
    texts_from: str = ""
    dataset: str = ""

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "folder": str(self.folder), "format": self.format, "files": self.files,
                "patents": self.patents, "patents_with_text": self.patents_with_text,
                "patents_without_text": self.patents - self.patents_with_text, "items": self.items,
                "links": self.links, "negative_links": self.negative_links,
                "patent_view": list(self.patent_view), "item_view": list(self.item_view),
                "texts_from": self.texts_from}


def _split_of(splits: Mapping[str, Sequence[tuple[str, str]]] | None) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for name, pairs in (splits or {}).items():
        for pair in pairs:
            out.setdefault((str(pair[0]), str(pair[1])), name)
    return out


def _rows(dataset: Dataset, splits) -> tuple[list[dict], list[dict], list[dict]]:
    pview, iview = dataset.patent_view, dataset.item_view
    biblio = [f for f in BIBLIOGRAPHIC_FIELDS if f not in pview
              and any((d.get(f) or "").strip() for d in dataset.patents.values())]
    patents = [{"id": pid, **{f: doc.get(f) or "" for f in pview}, **{f: doc.get(f) or "" for f in biblio}}
               for pid, doc in dataset.patents.items()]
    items = [{"id": iid, **{f: doc.get(f) or "" for f in iview}} for iid, doc in dataset.items.items()]
    where = _split_of(splits if splits is not None else dataset.link_splits)
    links = [{"item_id": i, "patent_id": p, "score": 1, "split": where.get((i, p), "")} for i, p in dataset.links]
    links += [{"item_id": i, "patent_id": p, "score": 0, "split": ""} for i, p in dataset.negative_links]
    return patents, items, links


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    atomic_write_lines(path, (json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _write_parquet(path: Path, rows: list[dict], columns: Sequence[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.int32() if c == "score" else pa.string()) for c in columns])
    table = pa.table({c: [r.get(c, 0 if c == "score" else "") for r in rows] for c in columns}, schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def export_dataset(dataset: Dataset, folder: str | os.PathLike, format: str = "beir",
                   splits: Mapping[str, Sequence[tuple[str, str]]] | None = None) -> ExportReport:
    """Write ``dataset`` (in its current item and patent views) to ``folder``.

    Args:
        dataset: e.g. ``load_dataset("honeywell-vpm", texts=open_texts(store)).with_views(patent_view="summary")``.
        folder: output folder (created; files in it with the same names are replaced, others left alone).
        format: ``beir`` (corpus.jsonl, queries.jsonl, qrels/*.tsv; the patent view becomes ``title`` + ``text``),
            ``jsonl`` or ``parquet`` (the layout of the module docstring).
        splits: split name → links (e.g. ``patlink split``'s folder read with :func:`patlink.graph.read_split`):
            BEIR qrels files, or the ``split`` column; default the dataset's own ``link_splits``.

    Returns:
        :class:`ExportReport`; the same counts are written to ``folder/export.json``.

    Raises:
        ValueError: an unknown ``format``; a dataset with no patents; (BEIR) a dataset without items and links,
            or negatives that are also links.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if not dataset.patents:
        raise ValueError(f"{dataset.name} has no patents to export")
    folder = Path(folder)
    report = ExportReport(folder=folder, format=format, dataset=dataset.name, patents=len(dataset.patents),
                          items=len(dataset.items), links=len(dataset.links),
                          negative_links=len(dataset.negative_links),
                          patents_with_text=dataset.patents_with_text(), patent_view=tuple(dataset.patent_view),
                          item_view=tuple(dataset.item_view),
                          texts_from=str(dataset.metadata.get("patent_texts_from") or ""))
    if format == "beir":
        from patlink.data.beir import export_beir

        if not dataset.items or not dataset.links:
            raise ValueError(f"{dataset.name} has no items and links: a BEIR folder needs queries and qrels; "
                             "export it as jsonl or parquet")
        export_beir(dataset, folder, dict(splits) if splits is not None else None)
        qrels = sorted(p.name for p in (folder / "qrels").glob("*.tsv"))
        report.files = ["corpus.jsonl", "queries.jsonl", *[f"qrels/{q}" for q in qrels]]
    else:
        patents, items, links = _rows(dataset, splits)
        ext = format
        for name, rows in (("patents", patents), ("items", items), ("links", links)):
            if not rows and name != "patents":
                continue
            path = folder / f"{name}.{ext}"
            if format == "jsonl":
                _write_jsonl(path, rows)
            else:
                _write_parquet(path, rows, list(rows[0]))
            report.files.append(path.name)
    report.files.append("export.json")
    atomic_write_json(folder / "export.json", report.to_dict())
    return report
