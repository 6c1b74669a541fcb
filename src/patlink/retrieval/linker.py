"""Retrieval with a trained linker (``patlink train``): same interface as the BM25 and dense retrievers.

``direction="item2patent"``: queries are items (item encoder), documents patents (patent encoder);
``"patent2item"`` the reverse. Scores are cosine similarities of the L2-normalised embeddings, in [-1, 1].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from patlink.retrieval.base import Run

__all__ = ["LinkerRetriever", "resolve_model_dir"]


def resolve_model_dir(run_dir: str | Path) -> Path:
    """The saved model inside a run folder (``run/best``) or the model folder itself.

    Raises:
        ValueError: if neither holds ``linker.json``.
    """
    p = Path(run_dir)
    for cand in (p, p / "best", p / "model"):
        if (cand / "linker.json").is_file():
            return cand
    raise ValueError(f"{p} holds no trained linker (expected {p}/best/linker.json from `patlink train`)")


class LinkerRetriever:
    """Index documents with one encoder of a trained :class:`~patlink.models.linker.Linker`, query with the other.

    Args:
        run_dir: output folder of ``patlink train`` (or its ``best/`` model folder).
        direction: ``item2patent`` or ``patent2item``.
        batch_size: texts per encoder forward pass.
        store: optional token-embedding provider (default: the model's backbone cache).
        device: where the encoders and the backbone run: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or
            ``auto`` (:func:`patlink.devices.resolve_device`).
    """

    def __init__(self, run_dir: str | Path, direction: str = "item2patent", batch_size: int = 256, store=None,
                 show_progress: bool = False, device: str = "cpu"):
        from patlink.models.linker import Linker

        if direction not in ("item2patent", "patent2item"):
            raise ValueError(f"direction must be item2patent or patent2item, got {direction!r}")
        self.run_dir = Path(run_dir)
        self.model_dir = resolve_model_dir(run_dir)
        self.model = Linker.load(self.model_dir, store=store, device=device)
        self.direction = direction
        self.batch_size = batch_size
        self.name = f"linker:{self.run_dir.name}"
        self.doc_ids: list[str] = []
        self.doc_emb: np.ndarray | None = None
        run_json = self.run_dir / "run.json"
        self.run_info = json.loads(run_json.read_text()) if run_json.is_file() else {}

    def _encode(self, side: str, texts: list[str]) -> np.ndarray:
        m = self.model
        return m.encode_items(texts, self.batch_size) if side == "item" else m.encode_patents(texts, self.batch_size)

    @property
    def _doc_side(self) -> str:
        return "patent" if self.direction == "item2patent" else "item"

    @property
    def _query_side(self) -> str:
        return "item" if self.direction == "item2patent" else "patent"

    def index(self, docs: dict[str, str]) -> None:
        """Embed the documents (patents for ``item2patent``). Raises ``ValueError`` on an empty corpus."""
        if not docs:
            raise ValueError("cannot index an empty corpus")
        self.attach(list(docs), self.encode_documents([docs[d] for d in docs]))

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings through the document-side encoder (patents for
        ``item2patent``)."""
        return self._encode(self._doc_side, list(texts))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings through the query-side encoder."""
        return self._encode(self._query_side, list(texts))

    def attach(self, doc_ids: list[str], vectors: np.ndarray, ann=None) -> None:
        """Use precomputed document embeddings (e.g. memory-mapped from a saved index, :mod:`patlink.index`).

        Args:
            doc_ids: one id per row; vectors: ``(n_docs, d)`` float32 from :meth:`encode_documents`;
            ann: an :class:`patlink.retrieval.ann.AnnIndex` over the rows (``None``: exact search).
        """
        from patlink.retrieval.vectors import VectorSearch

        if len(doc_ids) != vectors.shape[0]:
            raise ValueError(f"{len(doc_ids)} ids for {vectors.shape[0]} vectors")
        self.doc_ids = list(doc_ids)
        self.doc_emb = vectors
        self._search = VectorSearch(vectors, ann)

    def index_sets(self, docs: dict[str, Sequence[str]]) -> None:
        """Index patents given as SETS of texts (e.g. the descriptions of their linked training products), for
        patents without text (``honeywell-vpm``). Only for ``item2patent`` retrieval of patents."""
        if self.direction != "item2patent":
            raise ValueError("index_sets encodes patents: use direction='item2patent'")
        if not docs:
            raise ValueError("cannot index an empty corpus")
        self.attach(list(docs), self.model.encode_patent_sets([list(docs[d]) for d in docs], self.batch_size))

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        """Cosine similarity of every query to every indexed document: ``(n_q, n_d)`` float32."""
        if self.doc_emb is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        q = self.encode_queries([queries[i] for i in qids])
        return qids, self.doc_ids, self._search.scores(q)

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        """Top-``top_k`` documents per query (ranx-style run): exact, or through the attached ANN index."""
        if self.doc_emb is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        return self.search_vectors(qids, self.encode_queries([queries[i] for i in qids]), top_k)

    def search_vectors(self, query_ids: list[str], query_vectors: np.ndarray, top_k: int = 100) -> Run:
        """Top-``top_k`` documents for already-embedded queries (``(n_q, d)`` float32 from
        :meth:`encode_queries`)."""
        return self._search.run(query_ids, query_vectors, self.doc_ids, top_k)
