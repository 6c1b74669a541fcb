"""Dense zero-shot retrieval: frozen sentence-transformers embeddings, cosine similarity, exact faiss search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patlink.retrieval.base import Run
from patlink.retrieval.embed import encode_texts

__all__ = ["DenseConfig", "DenseRetriever"]


@dataclass
class DenseConfig:
    """``model``: name or path (``minilm`` bundled); ``max_length`` in tokens; ``batch_size`` texts per pass."""

    model: str = "minilm"
    max_length: int = 256
    batch_size: int = 64
    cache: bool = True


class DenseRetriever:
    """Cosine-similarity retrieval over L2-normalised embeddings (exact inner-product search, ``faiss.IndexFlatIP``).

    Embeddings are cached on disk (:func:`patlink.retrieval.embed.encode_texts`), so re-indexing is cheap.
    """

    def __init__(self, model: str = "minilm", max_length: int = 256, config: DenseConfig | None = None,
                 show_progress: bool = True):
        self.config = config or DenseConfig(model=model, max_length=max_length)
        self.name = f"dense:{self.config.model}"
        self.show_progress = show_progress
        self.doc_ids: list[str] = []
        self.doc_emb: np.ndarray | None = None
        self._index = None

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings of ``texts``."""
        c = self.config
        return encode_texts(texts, c.model, max_length=c.max_length, batch_size=c.batch_size, cache=c.cache,
                            show_progress=self.show_progress)

    def index(self, docs: dict[str, str]) -> None:
        """Embed and index the corpus. Raises ``ValueError`` on an empty corpus."""
        import faiss

        if not docs:
            raise ValueError("cannot index an empty corpus")
        self.doc_ids = list(docs)
        self.doc_emb = self.encode(list(docs.values()))
        self._index = faiss.IndexFlatIP(self.doc_emb.shape[1])
        self._index.add(self.doc_emb)

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        """Cosine similarity of every query to every document: ``(n_q, n_d)`` float32 in [-1, 1]."""
        if self.doc_emb is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        q = self.encode([queries[i] for i in qids])
        return qids, self.doc_ids, q @ self.doc_emb.T

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        """Top-``top_k`` documents per query by cosine similarity."""
        if self._index is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        q = self.encode([queries[i] for i in qids])
        k = min(top_k, len(self.doc_ids))
        scores, idx = self._index.search(q, k)
        return {qid: {self.doc_ids[j]: float(s) for j, s in zip(idx[r], scores[r]) if j >= 0}
                for r, qid in enumerate(qids)}
