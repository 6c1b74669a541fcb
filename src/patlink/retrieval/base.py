"""The retriever interface shared by BM25, dense, hybrid and trained-linker retrieval."""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Retriever", "Run", "Qrels", "top_k_run"]

#: ranx/TREC run: query id → {document id: score}, higher is better.
Run = dict[str, dict[str, float]]
#: ranx/TREC qrels: query id → {relevant document id: relevance grade}.
Qrels = dict[str, dict[str, int]]


class Retriever(Protocol):
    """Index a corpus, then score queries against it.

    ``index(docs)`` takes document id → text; ``search(queries, top_k)`` returns a :data:`Run` of the ``top_k``
    best documents per query; ``score_matrix(queries)`` returns ``(query_ids, doc_ids, scores)`` with ``scores``
    of shape ``(n_queries, n_docs)`` float32 over the whole corpus.
    """

    name: str

    def index(self, docs: dict[str, str]) -> None: ...

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run: ...

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]: ...


def top_k_run(query_ids: list[str], doc_ids: list[str], scores: np.ndarray, top_k: int) -> Run:
    """Turn a ``(n_q, n_d)`` score matrix into a run keeping the ``top_k`` best documents of each query.

    Ties are broken by document order (stable), so runs are deterministic.
    """
    k = min(top_k, scores.shape[1])
    if k <= 0:
        return {q: {} for q in query_ids}
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(
        np.arange(scores.shape[1]), (scores.shape[0], 1))
    run: Run = {}
    for qi, q in enumerate(query_ids):
        idx = part[qi]
        idx = idx[np.lexsort((idx, -scores[qi, idx]))]
        run[q] = {doc_ids[j]: float(scores[qi, j]) for j in idx}
    return run
