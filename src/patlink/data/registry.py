"""Registry of the bundled real datasets (copied into the package, provenance in ``bundled/PROVENANCE.md``).

``load_dataset("honeywell-vpm")`` etc. Unknown names raise ``ValueError`` listing what exists. A dataset depends
only on the bundled files, plus the patent texts passed with ``texts=`` (a hydration store opened with
:func:`patlink.hydrate.open_texts`, or a mapping); nothing outside the package is read implicitly.
"""

from __future__ import annotations

import ast
import copy
import csv
import gzip
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

from patlink.data.dataset import PATENT_TEXT_FIELDS, Dataset, PatentTextSource
from patlink.data.numbers import normalize_publication_number
from patlink.data.vpm import VPMTable, normalize_product_name, parse_vpm_table

__all__ = ["DATASETS", "DatasetInfo", "load_dataset", "bundled_path", "load_vpm_table", "product_links"]


def bundled_path(*parts: str) -> Path:
    """Path of a bundled data file, e.g. ``bundled_path("pap2pat", "pairs.jsonl.gz")``."""
    return Path(str(resources.files("patlink.data").joinpath("bundled", *parts)))


def _read_text_gz(*parts: str, encoding: str = "utf-8") -> str:
    with gzip.open(bundled_path(*parts), "rt", encoding=encoding, newline="") as f:
        return f.read()


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    loader: Callable[[], Dataset]


# ---------------------------------------------------------------------------------------------- honeywell-vpm
@lru_cache(maxsize=1)
def _vpm_table() -> VPMTable:
    """The parsed bundled table, cached: a pure function of a package file. Callers must not change it."""
    return parse_vpm_table(_read_text_gz("honeywell_vpm", "honeywell_patents_products.tsv.gz"))


def load_vpm_table() -> VPMTable:
    """The raw Honeywell VPM table parsed by :func:`patlink.data.vpm.parse_vpm_table` (anomalies included).

    Returns a fresh copy on every call (the parse of the bundled file is cached), so changing it is harmless.
    """
    return copy.deepcopy(_vpm_table())


def product_links() -> dict[str, list[str]]:
    """Product name → web-page URLs the upstream pipeline kept (``filtered_product_links.tsv``)."""
    out: dict[str, list[str]] = {}
    reader = csv.reader(io.StringIO(_read_text_gz("honeywell_vpm", "filtered_product_links.tsv.gz")), delimiter="\t")
    next(reader)
    for row in reader:
        if len(row) >= 2:
            try:
                out[normalize_product_name(row[0])] = list(ast.literal_eval(row[1]))
            except (ValueError, SyntaxError):
                out[normalize_product_name(row[0])] = []
    return out


def _honeywell() -> Dataset:
    table = _vpm_table()
    raw = json.loads(_read_text_gz("honeywell_vpm", "products.json.gz"))
    desc: dict[str, dict[str, str]] = {}
    for name, rec in raw.items():
        fields = {"name": normalize_product_name(name)}
        if (rec.get("Description") or "").strip():
            fields["description"] = rec["Description"].strip()
        if (rec.get("Bulletpoints") or "").strip():
            fields["bulletpoints"] = rec["Bulletpoints"].strip()
        desc[normalize_product_name(name)] = fields
    # Upstream's cleaned graph keeps the linked products that have a description; the others are reported.
    kept = [p for p in table.products if p in desc and "description" in desc[p]]
    kept_set = set(kept)
    links = [(i, p) for i, p in table.links if i in kept_set]
    patents_linked = sorted({p for _, p in links})
    linked_items = {i for i, _ in links}
    items = {p: desc[p] for p in kept if p in linked_items}
    # The VPM table gives patents by number only; their texts come from `patlink hydrate` via `texts=`.
    patents: dict[str, dict[str, str]] = {p: {} for p in patents_linked}
    return Dataset(
        name="honeywell-vpm",
        items=items,
        patents=patents,
        links=links,
        item_fields=("name", "description", "bulletpoints"),
        item_view=("name", "description"),
        patent_fields=PATENT_TEXT_FIELDS,
        patent_view=("title", "abstract"),
        item_kind="product",
        metadata={
            "source": "Honeywell VPM page via medimed66/Patent_product@bcfd5f1",
            "raw_rows": table.n_rows,
            "raw_products": len(table.products),
            "raw_patents": len(table.patents),
            "raw_edges": len(table.links),
            "products_without_description": sorted(set(table.products) - kept_set),
            "descriptions_without_links": sorted(set(desc) - set(table.products)),
            "anomalies": table.anomaly_counts(),
            "hydrated_patents": 0,
            "upstream_counts": {"products": 1826, "patents": 4443, "edges": 20192},
            # the paper's graph-aware 70/15/15 split of its graph (El Bouari & de Rassenfosse), for comparison
            "upstream_split": {"train": {"items": 1270, "patents": 3033, "edges": 16689},
                               "val": {"items": 279, "patents": 730, "edges": 1542},
                               "test": {"items": 277, "patents": 680, "edges": 1959}},
        },
    )


# ---------------------------------------------------------------------------------------------------- pap2pat
def _pap2pat() -> Dataset:
    items: dict[str, dict[str, str]] = {}
    patents: dict[str, dict[str, str]] = {}
    links: list[tuple[str, str]] = []
    with gzip.open(bundled_path("pap2pat", "pairs.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
                paper, patent = rec["paper"], rec["patent"]
            except (json.JSONDecodeError, KeyError) as e:
                raise ValueError(f"pap2pat/pairs.jsonl.gz line {line_no}: malformed record ({e})") from e
            iid = paper["id"].rsplit("/", 1)[-1]
            pid = normalize_publication_number(patent["id"])
            items[iid] = {k: paper.get(k) or "" for k in ("title", "abstract", "body")}
            claims = patent.get("claims") or []
            patents[pid] = {
                "title": patent.get("title") or "",
                "abstract": patent.get("abstract") or "",
                "claims": "\n".join(claims) if isinstance(claims, list) else str(claims),
                "description": patent.get("description") or "",
                "date": patent.get("date") or "",
            }
            links.append((iid, pid))
    return Dataset(
        name="pap2pat",
        items=items,
        patents=patents,
        links=links,
        item_fields=("title", "abstract", "body"),
        item_view=("title", "abstract"),
        patent_fields=PATENT_TEXT_FIELDS,
        patent_view=("title", "abstract"),
        one_to_one=True,
        item_kind="paper",
        metadata={"source": "boschresearch/Pap2Pat (MIT)"},
    )


# ------------------------------------------------------------------------------------------------ api-patents
def _api_patents() -> Dataset:
    patents: dict[str, dict[str, str]] = {}
    owner: dict[str, list[str]] = {}
    with gzip.open(bundled_path("api_patents", "patents.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
                pid = normalize_publication_number(rec["number"])
            except (json.JSONDecodeError, KeyError, ValueError) as e:
                raise ValueError(f"api_patents/patents.jsonl.gz line {line_no}: malformed record ({e})") from e
            patents[pid] = {"title": rec.get("title") or "", "abstract": rec.get("abstract") or "",
                            "date": rec.get("date_field") or ""}
            if rec.get("owner"):
                owner[pid] = [rec["owner"].strip()]
    return Dataset(
        name="api-patents",
        items={},
        patents=patents,
        links=[],
        patent_fields=("title", "abstract"),
        patent_view=("title", "abstract"),
        labels={"assignee": owner},
        metadata={"source": "api-evangelist/patents-2005..2016 (USPTO full text)"},
    )


# ------------------------------------------------------------------------------------------------- cpc-claims
def _cpc_claims() -> Dataset:
    patents: dict[str, dict[str, str]] = {}
    subclass: dict[str, list[str]] = {}
    splits: dict[str, list[str]] = {}
    for split in ("train", "test"):
        reader = csv.reader(io.StringIO(_read_text_gz("cpc_claims", f"df_claim_cpc_{split}.csv.gz")))
        header = next(reader)
        i_id, i_date, i_text = header.index("id"), header.index("date"), header.index("text")
        label_cols = [(j, h) for j, h in enumerate(header) if j > i_text]
        ids = []
        for row in reader:
            if len(row) != len(header):
                raise ValueError(f"cpc_claims/df_claim_cpc_{split}.csv line {reader.line_num}: "
                                 f"{len(row)} columns, expected {len(header)}")
            pid = normalize_publication_number(row[i_id])
            patents[pid] = {"claims": row[i_text], "date": row[i_date]}
            subclass[pid] = [h for j, h in label_cols if row[j].strip() not in ("", "0", "0.0")]
            ids.append(pid)
        splits[split] = ids
    # The 1,400-row file: one row per (patent, CPC subgroup) with section/class/subclass/subgroup.
    groups: dict[str, dict[str, set[str]]] = {}
    texts: dict[str, str] = {}
    reader = csv.DictReader(io.StringIO(_read_text_gz("cpc_claims", "df_claim_cpc_1400.csv.gz", encoding="latin-1")))
    for row in reader:
        pid = normalize_publication_number(row["patent_id"])
        g = groups.setdefault(pid, {"section": set(), "subclass": set(), "group": set()})
        for key, col in (("section", "section_id"), ("subclass", "group_id"), ("group", "subgroup_id")):
            try:
                vals = ast.literal_eval(row[col]) if row[col].startswith("[") else [row[col]]
            except (ValueError, SyntaxError):
                vals = [row[col]]
            g[key].update(v.strip() for v in vals if v and v.strip())
        texts.setdefault(pid, row["text"])
    for pid, text in texts.items():
        patents.setdefault(pid, {"claims": text})
    splits["groups1400"] = sorted(groups)
    section = {p: sorted({c[0] for c in labs}) for p, labs in subclass.items() if labs}
    for pid, g in groups.items():
        subclass.setdefault(pid, sorted(g["subclass"]))
        section.setdefault(pid, sorted(g["section"]))
    return Dataset(
        name="cpc-claims",
        items={},
        patents=patents,
        links=[],
        patent_fields=("claims",),
        patent_view=("claims",),
        labels={
            "cpc_subclass": subclass,
            "cpc_section": section,
            "cpc_subgroup": {p: sorted(g["group"]) for p, g in groups.items()},
        },
        doc_splits=splits,
        metadata={"source": "AI-Growth-Lab/PatentSBERTa (MIT)"},
    )


DATASETS: dict[str, DatasetInfo] = {
    "honeywell-vpm": DatasetInfo("honeywell-vpm", "Honeywell VPM products ↔ US patents (product texts only; "
                                 "patent texts with `patlink hydrate` then --texts STORE)", _honeywell),
    "pap2pat": DatasetInfo("pap2pat", "1,513 research papers ↔ the patents of the same invention (Bosch, MIT)", _pap2pat),
    "api-patents": DatasetInfo("api-patents", "46,920 US patents (title, abstract, assignee): distractors, "
                               "clustering, throughput", _api_patents),
    "cpc-claims": DatasetInfo("cpc-claims", "US patent claims with multi-label CPC subclasses (PatentSBERTa, MIT)",
                              _cpc_claims),
}


def load_dataset(name: str, texts: PatentTextSource | Mapping[str, Mapping[str, str]] | None = None) -> Dataset:
    """Load a bundled dataset by name (``honeywell-vpm``, ``pap2pat``, ``api-patents``, ``cpc-claims``).

    Args:
        name: registry name (case-insensitive; ``_`` and ``-`` are the same).
        texts: patent texts to add, e.g. ``patlink.hydrate.open_texts("hydrate.duckdb")`` (a read-only
            :class:`patlink.hydrate.store.HydrationStore`) or a mapping patent id → {field: text}; see
            :meth:`Dataset.with_patent_texts`. ``None`` (default): the bundled texts only; honeywell-vpm patents
            then have no text, whatever stores exist on the machine.

    Returns:
        A new :class:`Dataset` on every call (the parse of the bundled files is cached; the caller may change
        the result freely). ``metadata["hydrated_patents"]`` counts the patents that got texts from ``texts``.

    Raises:
        ValueError: if ``name`` is unknown (the message lists the bundled datasets), or ``texts`` cannot be read
            (missing, locked or corrupt store: the message names the file).
        TypeError: if ``texts`` is a path rather than an opened source.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; bundled datasets: {', '.join(DATASETS)} "
                         "(or pass --beir FOLDER)")
    ds = _bundled(key).copy()
    return ds if texts is None else ds.with_patent_texts(texts)


@lru_cache(maxsize=4)
def _bundled(key: str) -> Dataset:
    """The dataset parsed from the bundled files: cached, never handed out (see :meth:`Dataset.copy`)."""
    return DATASETS[key].loader()
