"""Link new texts to a dataset: rank its patents for product (or paper) descriptions, or its items for patents.

:func:`link` is what ``patlink link`` runs. A method ranks exactly as it does in ``patlink eval`` on the same
dataset and seed: whatever it tunes (fusion weights, ``k``) is tuned on the same validation links
(:func:`patlink.evaluation.experiment.resolve_splits`, or a trained run's own validation links).

When the patents have no text (``honeywell-vpm`` before hydration), or for profile/kNN methods, patents are
represented by their linked products (:mod:`patlink.methods.profile`) and each candidate lists the known products
that support it, most similar to the query first.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from patlink.methods import (
    Fusion,
    KnownLinks,
    LinkerMethod,
    Method,
    ProfileLeaf,
    Validation,
    for_new_products,
)
from patlink.methods.profile import evidence_is_lexical

__all__ = ["LINK_FORMATS", "Candidate", "DatasetIndex", "link", "rank_with_evidence", "tuned_for", "write_links"]


@dataclass(frozen=True)
class Candidate:
    """One ranked candidate for a query.

    Attributes:
        id: patent publication number (item id with ``reverse=True``).
        score: the method's score (higher is better; scale depends on the method).
        rank: 1-based rank.
        title: the candidate's title (or name, or the start of its text).
        evidence: for profile/kNN methods, the names of the known products linked to the patent, most similar
            to the query first.
        matched_terms: for BM25 (alone or in a fusion), the query words found in the candidate.
        part_scores: for a fusion, each part's score by part name (``None``: outside that part's top depth).
    """

    id: str
    score: float
    rank: int
    title: str = ""
    evidence: list[str] = field(default_factory=list)
    matched_terms: list[str] = field(default_factory=list)
    part_scores: dict[str, float | None] = field(default_factory=dict)


def _is_profile(method: Method) -> bool:
    if isinstance(method, ProfileLeaf):
        return True
    return isinstance(method, Fusion) and any(_is_profile(p) for p in method.parts)


def _validation_links(ds, method: Method, seed: int) -> list[tuple[str, str]]:
    """The validation links ``patlink eval`` would tune ``method`` on: a trained run's own (its ``split.json``,
    those of this dataset), else the default split's."""
    from patlink.evaluation.experiment import resolve_splits
    from patlink.evaluation.linkage import run_split

    known = set(ds.links)
    for path in method.trained_paths():
        val = [x for x in run_split(path).get("val", []) if x in known]
        if val:
            return val
    if not ds.links:
        return []
    try:
        return resolve_splits(ds, seed=seed).get("val", [])
    except ValueError:
        return []


def tuned_for(ds, method: Method, direction: str = "item2patent", *, seed: int = 0) -> Method:
    """``method`` configured for ``direction`` and tuned as ``patlink eval`` tunes it on ``ds`` (the validation
    links of a trained run, else of the seeded default split); untuned when ``ds`` has no validation links (a
    fusion that needs them then falls back to equal weights, with a ``UserWarning``).

    Used by :func:`link` and to freeze the weights of a saved index built from a bundled dataset."""
    m = method.for_direction(direction)
    if m.tunable:
        val = _validation_links(ds, method, seed)
        if val:
            from patlink.evaluation.linkage import validation_for

            m = m.fit(validation_for(ds, val, direction))
        elif isinstance(m, Fusion) and m.untuned == "validation":
            warnings.warn(f"{m.name}: no validation links in {ds.name} to tune the fusion weights; equal weights",
                          stacklevel=2)
            m.untuned = None
    return m


def _title(fields: dict, text: str) -> str:
    return fields.get("title") or fields.get("name") or text[:80]


def link(ds, method: Method, queries: str | Sequence[str] | dict[str, str], *, top_k: int = 10,
         reverse: bool = False, seed: int = 0, profile_config=None) -> dict[str, list[Candidate]]:
    """Rank ``ds``'s patents for each query text (its items with ``reverse=True``).

    A one-off :class:`DatasetIndex`: ``DatasetIndex(ds, method, reverse=reverse, seed=seed,
    profile_config=profile_config).link(queries, top_k)``. To answer many calls, build the
    :class:`DatasetIndex` once.

    Args:
        ds: the dataset whose patents (or items) are ranked.
        method: any :class:`~patlink.methods.Method`.
        queries: one text, a list of texts (ids ``q0``, ``q1``, …) or ``{query id: text}``.
        top_k: candidates per query.
        reverse: rank items for patent texts.
        seed: seed of the default split whose validation links tune the method (as ``patlink eval --seed``).
        profile_config: :class:`patlink.retrieval.profiles.ProfileConfig` for profile methods.

    Returns:
        ``{query id: [Candidate, …]}``, best first.

    Raises:
        ValueError: an empty query, ``top_k < 1``, no candidate with text, or (patents without text) a dataset
            without links.
    """
    if isinstance(queries, str):
        queries = {"query": queries}
    elif not isinstance(queries, dict):
        queries = {f"q{i}": t for i, t in enumerate(queries)}
    _check_queries(queries, top_k)
    return DatasetIndex(ds, method, reverse=reverse, seed=seed, profile_config=profile_config).link(queries, top_k)


def _check_queries(queries: dict[str, str], top_k: int) -> None:
    if not queries or any(not (t or "").strip() for t in queries.values()):
        raise ValueError("empty query text")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")


class DatasetIndex:
    """A dataset's patents (its items with ``reverse=True``) indexed in memory for one method: tuned and
    indexed once, then :meth:`link` answers any number of queries — the in-memory peer of
    :class:`patlink.index.CorpusIndex` (same ``link``/``title_of``/``texts``/``direction``/``label``).

    The method is tuned as ``patlink eval`` tunes it on ``ds`` (:func:`tuned_for`). When the patents have no text
    (``honeywell-vpm`` before hydration), or for profile/kNN methods, patents are represented by their linked
    products (:mod:`patlink.methods.profile`): tuned on a seeded new-product split (profiles from its training
    links, its validation products as queries), then ranked with profiles built from every link; each candidate's
    ``evidence`` lists the known products that support it, most similar to the query first.

    Args:
        ds: the :class:`patlink.data.Dataset`. method: any :class:`~patlink.methods.Method`.
        reverse: documents are the items and queries are patent texts (``patent2item``).
        seed: seed of the default split whose validation links tune the method.
        profile_config: :class:`patlink.retrieval.profiles.ProfileConfig` for profile methods.

    Raises:
        ValueError: no document with text in the chosen view; patents without text and no links; a trained
            linker over patents without text (use ``knn-linker:`` or ``profile-linker:``).
    """

    def __init__(self, ds, method: Method, *, reverse: bool = False, seed: int = 0, profile_config=None):
        self.dataset, self.reverse = ds, reverse
        self._profiles = not reverse and (not ds.has_patent_text or _is_profile(method))
        if self._profiles:
            self._prepare_profiles(method, seed, profile_config)
            return
        direction = "patent2item" if reverse else "item2patent"
        self.method = tuned_for(ds, method, direction, seed=seed)
        docs = ds.item_texts() if reverse else ds.patent_texts()
        self._docs = {k: v for k, v in docs.items() if v.strip()}
        if not self._docs:
            raise ValueError(f"no {'item' if reverse else 'patent'} of {ds.name} has text in the chosen view")
        self.method.index(self._docs)

    # ------------------------------------------------------------------ facts
    @property
    def direction(self) -> str:
        """``item2patent`` (documents are patents) or ``patent2item`` (documents are items)."""
        return "patent2item" if self.reverse else "item2patent"

    @property
    def document_side(self) -> str:
        return "item" if self.reverse else "patent"

    @property
    def label(self) -> str:
        """The tuned method's name, e.g. ``hybrid[convex(α=0.50)]``."""
        return self.method.name

    def __len__(self) -> int:
        return len(self._prof.patent_ids) if self._profiles else len(self._docs)

    def __repr__(self) -> str:
        return f"<DatasetIndex {self.dataset.name} {self.label} {len(self)} documents, {self.direction}>"

    def _side(self) -> dict:
        return self.dataset.items if self.reverse else self.dataset.patents

    def __contains__(self, doc_id: object) -> bool:
        """Whether ``doc_id`` is a document this index ranks."""
        return doc_id in (self._prof_ids if self._profiles else self._docs)

    def title_of(self, doc_id: str) -> str:
        """The document's title (or name, or the start of its text); ``""`` for an unknown id."""
        docs = getattr(self, "_docs", {})
        return _title(self._side().get(doc_id, {}), docs.get(doc_id, ""))

    def texts(self, ids: Sequence[str] | None = None) -> dict[str, str]:
        """Document texts by id in the ranked view (all when ``ids`` is ``None``; ``""`` for patents that are
        represented by their products)."""
        if self._profiles:
            docs = self.dataset.patent_texts()
        else:
            docs = self._docs
        return dict(docs) if ids is None else {i: docs[i] for i in ids if i in docs}

    # ------------------------------------------------------------------ ranking
    def link(self, queries: dict[str, str], top_k: int = 10) -> dict[str, list[Candidate]]:
        """Ranked candidates with their evidence for each query text: ``{query id: [Candidate, …]}``, best first.

        Raises:
            ValueError: an empty query text or ``top_k < 1``.
        """
        queries = dict(queries)
        _check_queries(queries, top_k)
        if self._profiles:
            return self._link_profiles(queries, top_k)
        return rank_with_evidence(self.method, queries, top_k, self.title_of)

    def _prepare_profiles(self, method: Method, seed: int, profile_config) -> None:
        from patlink.graph import new_product_split
        from patlink.retrieval.profiles import ProfileConfig

        ds = self.dataset
        cfg = self._cfg = profile_config or ProfileConfig()
        if not ds.links:
            raise ValueError(f"{ds.name} has no links: no patent can be represented by its products")
        if isinstance(method, LinkerMethod):
            raise ValueError(f"{ds.name}'s patents have no text: use knn-linker:{method.path} or "
                             f"profile-linker:{method.path}")
        full = KnownLinks(ds, ds.links, cfg)
        m = for_new_products(method, full.profiles.has_text)
        if m.tunable:
            split = new_product_split(ds, seed=seed)
            if split.val and split.train:
                tp = KnownLinks(ds, split.train, cfg)
                val_items = sorted({i for i, _ in split.val})
                val = Validation(ds.item_texts(val_items), {p: "" for p in tp.profiles.patent_ids},
                                 ds.qrels(split.val, "item2patent"), metric=cfg.tune_metric)
                m = m.with_known(tp).for_direction("item2patent").fit(val)
        m = m.with_known(full).for_direction("item2patent")
        self._prof = full.profiles
        self._prof_ids = frozenset(self._prof.patent_ids)
        m.index({p: "" for p in self._prof.patent_ids})
        self.method = m
        self._lexical = evidence_is_lexical(m)

    def _link_profiles(self, queries: dict[str, str], top_k: int) -> dict[str, list[Candidate]]:
        ds, prof = self.dataset, self._prof
        run = self.method.search(queries, top_k)
        out = {}
        for q, text in queries.items():
            ranked = sorted(run.get(q, {}).items(), key=lambda kv: -kv[1])[:top_k]
            evidence = prof.evidence(text, [pid for pid, _ in ranked], self._lexical, self._cfg.max_evidence)
            out[q] = [Candidate(pid, float(score), r, _title(ds.patents.get(pid, {}), ""),
                                [ds.items[i].get("name") or i for i in evidence[pid]])
                      for r, (pid, score) in enumerate(ranked, 1)]
        return out


def rank_with_evidence(method: Method, queries: dict[str, str], top_k: int,
                       title_of=lambda doc_id: "") -> dict[str, list[Candidate]]:
    """Rank with an indexed text method and attach the evidence of each candidate.

    Evidence: ``matched_terms`` — the query words found in the document (a BM25 method, alone or inside a fusion);
    ``part_scores`` — for a fusion, each part's score (``None`` when the document is outside that part's top
    ``depth``). The ranking is exactly ``method.search(queries, top_k)``.

    Args:
        method: an indexed method (``method.index(...)`` done, or a saved index's method).
        queries: query id -> text. top_k: candidates per query. title_of: document id -> title.

    Returns:
        ``{query id: [Candidate, …]}``, best first.
    """
    from patlink.methods import BM25

    part_runs: list = []
    if isinstance(method, Fusion):
        part_runs = method.runs(queries, max(top_k, method.depth))
        run = method.fuse_runs(part_runs, top_k)
    else:
        run = method.search(queries, top_k)
    bm25 = [p for p in _text_leaves(method) if isinstance(p, BM25)]
    out: dict[str, list[Candidate]] = {}
    for q, text in queries.items():
        ranked = sorted(run.get(q, {}).items(), key=lambda kv: -kv[1])[:top_k]
        ids = [d for d, _ in ranked]
        terms = bm25[0].matched_terms(text, ids) if bm25 else [[] for _ in ids]
        parts = method.parts if part_runs else []
        out[q] = [Candidate(d, float(s), r, title_of(d), matched_terms=t,
                            part_scores={p.name: pr.get(q, {}).get(d) for p, pr in zip(parts, part_runs)})
                  for r, ((d, s), t) in enumerate(zip(ranked, terms), 1)]
    return out


def _text_leaves(m: Method) -> list[Method]:
    return [x for p in m.parts for x in _text_leaves(p)] if isinstance(m, Fusion) else [m]


# ------------------------------------------------------------------------------------------------ links files
#: Formats of a links file, by name; :func:`write_links` infers one from the suffix.
LINK_FORMATS = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "parquet": ".parquet", "trec": ".trec"}


def links_format(path, fmt: str | None = None) -> str:
    """The links-file format named by ``fmt`` or by the suffix of ``path`` (``.txt``/``.run`` are TREC runs).

    Raises:
        ValueError: an unknown format or suffix (the message lists the formats).
    """
    from pathlib import Path

    if fmt is None:
        suffix = Path(path).suffix.lower()
        fmt = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
               ".trec": "trec", ".run": "trec", ".txt": "trec"}.get(suffix)
        if fmt is None:
            raise ValueError(f"{path}: cannot tell the links format from the suffix {suffix!r}; use one of "
                             f"{', '.join(LINK_FORMATS)} (--format) or a suffix "
                             f"{', '.join(LINK_FORMATS.values())}")
    if fmt not in LINK_FORMATS:
        raise ValueError(f"unknown links format {fmt!r}; use one of {', '.join(LINK_FORMATS)}")
    return fmt


def link_rows(answer: dict[str, list[Candidate]], *, id_column: str = "patent_id", method: str = ""):
    """One flat record per candidate: ``query_id, rank, <id_column>, score, title, matched_terms, evidence,
    method`` and ``score_<part>`` for each fusion part."""
    for q, cands in answer.items():
        for c in cands:
            row = {"query_id": q, "rank": c.rank, id_column: c.id, "score": c.score, "title": c.title,
                   "matched_terms": list(c.matched_terms), "evidence": list(c.evidence), "method": method}
            for name, v in c.part_scores.items():
                row[f"score_{name}"] = v
            yield row


def write_links(answers, path, *, fmt: str | None = None, id_column: str = "patent_id", method: str = "",
                run_tag: str | None = None) -> int:
    """Write ranked links to a file people open: CSV/TSV (lists joined by ``"; "``; a text cell that a spreadsheet
    would run as a formula gets a leading ``'``, :func:`patlink.io.spreadsheet_safe`), JSONL (lists kept),
    Parquet, or a TREC run (``qid Q0 docid rank score tag``, what ranx, trec_eval and BEIR read).

    Args:
        answers: an iterable of ``{query id: [Candidate, …]}`` (e.g. batches from
            :meth:`patlink.index.CorpusIndex.link_batches`); written as they come.
        path: the file; written atomically (a crash leaves the old file, or none).
        fmt: a name of :data:`LINK_FORMATS`; ``None``: from the suffix.
        id_column: ``patent_id`` (items were the queries) or ``item_id``.
        method: the method's label, recorded in each row (and as the TREC tag unless ``run_tag``).

    Returns:
        The number of rows written. Raises ``ValueError`` on an unknown format.
    """
    import csv
    import json
    from pathlib import Path

    from patlink.io import atomic_path, atomic_writer, spreadsheet_safe

    fmt = links_format(path, fmt)
    path = Path(path)
    n = 0
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        with atomic_path(path) as tmp:
            try:
                for answer in answers:
                    rows = list(link_rows(answer, id_column=id_column, method=method))
                    if not rows:
                        continue
                    if writer is None:
                        cols = list(rows[0])
                        schema = pa.schema([(c, pa.list_(pa.string()) if c in ("matched_terms", "evidence") else
                                             pa.int32() if c == "rank" else pa.float64() if c.startswith("score")
                                             else pa.string()) for c in cols])
                        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    n += len(rows)
                if writer is None:  # no candidate at all: an empty table with the base columns
                    pq.write_table(pa.table({"query_id": pa.array([], pa.string())}), tmp)
            finally:
                if writer is not None:
                    writer.close()
        return n
    with atomic_writer(path, "w") as f:
        if fmt == "trec":
            tag = (run_tag or method or "patlink").replace(" ", "_")
            for answer in answers:
                for q, cands in answer.items():
                    for c in cands:
                        if any(ch.isspace() for ch in q + c.id):
                            raise ValueError(f"a TREC run cannot hold ids with blanks ({q!r} / {c.id!r}); write "
                                             ".csv, .jsonl or .parquet instead")
                        f.write(f"{q} Q0 {c.id} {c.rank} {c.score:.6f} {tag}\n")
                        n += 1
        elif fmt == "jsonl":
            for answer in answers:
                for row in link_rows(answer, id_column=id_column, method=method):
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
        else:
            w = None
            for answer in answers:
                for row in link_rows(answer, id_column=id_column, method=method):
                    if w is None:
                        w = csv.DictWriter(f, fieldnames=list(row), delimiter="\t" if fmt == "tsv" else ",",
                                           extrasaction="ignore")
                        w.writeheader()
                    w.writerow({k: spreadsheet_safe("; ".join(v) if isinstance(v, list) else ("" if v is None else v))
                                for k, v in row.items()})
                    n += 1
            if w is None:
                f.write(f"query_id,rank,{id_column},score,title\n")
    return n

