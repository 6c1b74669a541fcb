"""Top-k inner-product search over a fixed matrix of document vectors: exact, or through an ANN index.

One object serves every vector method (zero-shot dense, a trained linker's patent embeddings), in memory or read
from a saved index folder (the matrix memory-mapped, ``np.load(mmap_mode="r")``), so a ranking computed from an
index is computed by the same code as one computed in memory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["VectorSearch"]


class VectorSearch:
    """Document vectors and how to search them.

    Args:
        vectors: ``(n_docs, d)`` float32, L2-normalised (cosine = inner product); may be a ``np.memmap``.
        ann: an :class:`patlink.retrieval.ann.AnnIndex` over the same rows, or ``None`` for exact search.

    Raises:
        ValueError: ``vectors`` is not 2-D, or the ANN index holds another number of rows.
    """

    def __init__(self, vectors: np.ndarray, ann=None):
        if vectors.ndim != 2:
            raise ValueError(f"document vectors must be (n_docs, d), got shape {vectors.shape}")
        if ann is not None and ann.ntotal != vectors.shape[0]:
            raise ValueError(f"the ANN index holds {ann.ntotal} vectors, the matrix {vectors.shape[0]}")
        self.vectors = vectors
        self.ann = ann

    @property
    def n(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """Inner product of each query with every document: ``(n_queries, n_docs)`` float32."""
        return np.asarray(queries, dtype=np.float32) @ np.asarray(self.vectors).T

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows per query.

        Args:
            queries: ``(n_queries, d)`` float32, L2-normalised like the documents.
            k: rows per query (capped at ``n_docs``).

        Returns:
            ``(scores, rows)``: ``(n_queries, k)`` float32 inner products, best first, and ``(n_queries, k)`` int64
            row numbers (``-1`` where an ANN index found fewer). Exact search breaks ties by lower row number.
        """
        from patlink.retrieval.ann import exact_search

        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must be (n, {self.dim}), got shape {q.shape}")
        k = min(int(k), self.n)
        if k <= 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if self.ann is not None:
            return self.ann.search(q, k)
        return exact_search(self.vectors, q, k)

    def run(self, query_ids: list[str], queries: np.ndarray, doc_ids: list[str], k: int) -> dict[str, dict[str, float]]:
        """:meth:`search` as a run: query id → {document id: score} of its ``k`` best rows (rows an ANN index did
        not fill are left out).

        Args:
            query_ids: one id per row of ``queries``; doc_ids: one id per row of the document matrix.
        """
        scores, rows = self.search(queries, k)
        return {qid: {doc_ids[j]: float(s) for j, s in zip(rows[r], scores[r]) if j >= 0}
                for r, qid in enumerate(query_ids)}
