"""A saved index opened for ranking: :class:`CorpusIndex`.

``CorpusIndex.open(IDX)`` checks the manifest and every file, rebuilds the method from its recorded description
and attaches the stored parts to it (BM25 memory-mapped, vectors memory-mapped, ANN index read), so ranking from an
index runs the same code as ranking in memory (:meth:`patlink.methods.Method.search`), without re-embedding the
documents. :meth:`CorpusIndex.link` adds the evidence of each candidate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from patlink.index.manifest import IndexManifest, InvalidIndexError, model_fingerprint
from patlink.index.spec import leaves, method_from_spec, method_to_spec, model_folder
from patlink.linking import Candidate, rank_with_evidence
from patlink.methods import BM25, Method
from patlink.retrieval.base import Run

__all__ = ["CorpusIndex"]


def _without_tuning(spec: dict) -> dict:
    """A method description without what tuning changes (weights) or what the checksum covers."""
    out = {k: v for k, v in spec.items() if k not in ("weights", "untuned", "tuned_on_validation",
                                                      "model_fingerprint", "batch_size")}
    if "parts" in out:
        out["parts"] = [_without_tuning(p) for p in out["parts"]]
    return out


class CorpusIndex:
    """A saved index of a corpus for one method and direction (built by :func:`patlink.index.build_index`).

    Attributes:
        path: the index folder.
        manifest: its :class:`patlink.index.manifest.IndexManifest`.
        method: the method, ready to :meth:`search` (its index state attached from the folder).
        doc_ids: document ids in row order; titles: their titles (``""`` when none).
        device: where its models embed queries (and new documents on :meth:`add`).
    """

    def __init__(self, path: Path, manifest: IndexManifest, method: Method, doc_ids: list[str], titles: list[str],
                 *, device: str = "cpu"):
        self.path, self.manifest, self.method, self.device = path, manifest, method, device
        self.doc_ids, self.titles = doc_ids, titles
        self._title = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike, *, verify: str = "quick", method: Method | None = None,
             ann_params: Mapping | None = None, device: str = "cpu") -> CorpusIndex:
        """Open a saved index.

        Args:
            path: the index folder.
            verify: ``quick``, ``full`` or ``none`` (:meth:`patlink.index.manifest.IndexManifest.read`).
            method: the method the caller means to rank with; refused when it is not the one the index was built
                for (another model, max length, windows, BM25 parameters or parts; tuned weights may differ and
                the index's are used).
            ann_params: query-time ANN parameters (``ef_search``, ``nprobe``) for the vector parts.
            device: where query embeddings are computed (``cpu``, ``cuda``, ``mps``, ``auto``).

        Raises:
            InvalidIndexError: a missing, partial or corrupt folder; a model folder changed since the index was
                built (retrained linker, replaced model); ``method`` not the index's.
        """
        from patlink.index.build import read_documents

        path = Path(path)
        man = IndexManifest.read(path, verify=verify)
        if method is not None:
            asked = _without_tuning(method_to_spec(method.for_direction(man.direction)))
            if asked != _without_tuning(man.method):
                raise InvalidIndexError(f"{path} was built for {man.label}, not {method.name} (another model, view "
                                        "or parameters): rebuild the index with this method, or drop --method")
        m = method_from_spec(man.method, device=device).for_direction(man.direction)
        docs = read_documents(path / f"documents.g{man.generation}.parquet", columns=("id", "title"))
        ids = docs["id"]
        if len(ids) != man.n_docs:
            raise InvalidIndexError(f"{path}: {len(ids)} documents, the manifest says {man.n_docs}; rebuild it")
        for leaf, rec, spec in zip(leaves(m), man.parts, _leaf_specs(man.method)):
            folder = path / rec["folder"]
            if isinstance(leaf, BM25):
                leaf.load_index(folder, ids)
                continue
            recorded = spec.get("model_fingerprint")
            if recorded is not None and model_fingerprint(model_folder(leaf)) != recorded:
                raise InvalidIndexError(f"{path}: the model of {leaf.name} ({model_folder(leaf)}) changed since the "
                                        "index was built; rebuild the index")
            vecs = np.load(folder / "vectors.npy", mmap_mode="r")
            ann = None
            if rec["ann"]["kind"] != "exact":
                from patlink.retrieval.ann import AnnConfig, AnnIndex

                ann = AnnIndex.load(folder / "ann.faiss", AnnConfig.from_dict(rec["ann"]))
                if ann_params:
                    ann.set_search_params(**ann_params)
            leaf.attach(ids, vecs, ann)
        return cls(path, man, m, ids, docs["title"], device=device)

    # ------------------------------------------------------------------ facts
    def __len__(self) -> int:
        return len(self.doc_ids)

    def __repr__(self) -> str:
        return f"<CorpusIndex {self.path} {self.manifest.label} {len(self)} documents, {self.direction}>"

    @property
    def direction(self) -> str:
        """``item2patent`` (documents are patents) or ``patent2item`` (documents are items)."""
        return self.manifest.direction

    @property
    def document_side(self) -> str:
        return "patent" if self.direction == "item2patent" else "item"

    @property
    def label(self) -> str:
        """The method's label as built (tuned weights included), e.g. ``hybrid[convex(α=0.50)]``."""
        return self.manifest.label

    def texts(self, ids: Sequence[str] | None = None) -> dict[str, str]:
        """Document texts by id (all when ``ids`` is ``None``), read from the index's documents table; only the rows
        of ``ids`` are materialised when ids are given. Unknown ids are left out."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        path = self.path / f"documents.g{self.manifest.generation}.parquet"
        if ids is None:
            t = pq.read_table(path, columns=["id", "text"])
        else:
            t = pq.read_table(path, columns=["id", "text"], filters=pc.field("id").isin(list(ids)))
        return dict(zip(t.column("id").to_pylist(), t.column("text").to_pylist()))

    def __contains__(self, doc_id: object) -> bool:
        if self._title is None:
            self._title = dict(zip(self.doc_ids, self.titles))
        return doc_id in self._title

    def title_of(self, doc_id: str) -> str:
        if self._title is None:
            self._title = dict(zip(self.doc_ids, self.titles))
        return self._title.get(doc_id, "")

    # ------------------------------------------------------------------ ranking
    def search(self, queries: Mapping[str, str], top_k: int = 10) -> Run:
        """The ``top_k`` best documents for each query text: ``{query id: {document id: score}}``.

        Raises:
            ValueError: ``top_k < 1``.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        run = self.method.search(dict(queries), top_k)
        return {q: run.get(q, {}) for q in queries}

    def link(self, queries: Mapping[str, str], top_k: int = 10) -> dict[str, list[Candidate]]:
        """Ranked candidates with their evidence for each query text.

        Evidence (:func:`patlink.linking.rank_with_evidence`): ``matched_terms`` — the query words found in the
        document (BM25, alone or in a fusion); ``part_scores`` — for a fusion, each part's score (``None`` when the
        document is outside that part's top ``depth``); the score itself for dense and linker methods.

        Returns:
            ``{query id: [Candidate, …]}``, best first. Raises ``ValueError`` on ``top_k < 1`` or an empty text.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        queries = dict(queries)
        bad = [q for q, t in queries.items() if not (t or "").strip()]
        if bad:
            raise ValueError(f"query {bad[0]!r} has an empty text")
        return rank_with_evidence(self.method, queries, top_k, self.title_of)

    def link_batches(self, queries: Mapping[str, str], top_k: int = 10, *, batch_size: int = 256,
                     show_progress: bool = True) -> Iterator[dict[str, list[Candidate]]]:
        """:meth:`link` over ``queries`` in batches (a progress bar over queries); yields each batch's answer."""
        from tqdm.auto import tqdm

        ids = list(queries)
        with tqdm(total=len(ids), desc="linking", unit="query", disable=not show_progress) as bar:
            for s in range(0, len(ids), batch_size):
                chunk = {q: queries[q] for q in ids[s:s + batch_size]}
                yield self.link(chunk, top_k)
                bar.update(len(chunk))

    # ------------------------------------------------------------------ growing
    def add(self, corpus, *, show_progress: bool = True, **kw) -> tuple[CorpusIndex, int]:
        """Add the documents of ``corpus`` this index does not hold (only they are embedded); returns the
        reopened index and the number added (:func:`patlink.index.build.add_documents`)."""
        from patlink.index.build import add_documents

        return add_documents(self, corpus, show_progress=show_progress, **kw)


def _leaf_specs(spec: dict) -> list[dict]:
    if spec.get("kind") == "fusion":
        return [x for p in spec["parts"] for x in _leaf_specs(p)]
    return [spec]
