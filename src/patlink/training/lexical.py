"""Lexical prior for residual training (CLEAR, Gao et al. 2021, "Complementing Lexical Retrieval with Semantic
Residual Embedding", ECIR 2021).

BM25 already ranks most pairs right when a paper and its patent share rare words; a dense model trained alone spends
its few training pairs re-learning that. With ``TrainConfig.lexical_residual = λ > 0`` the training logits become

    S_ij = cos(item_i, patent_j) / τ + λ · B_ij                     (item→patent rows)
    S'_ji = cos(item_i, patent_j) / τ + λ · B'_ji                   (patent→item columns)

where ``B`` is the BM25 score of patent ``j`` for the query item ``i`` divided by that query's best BM25 score over
the whole corpus (so ``B ∈ [0, 1]`` and the top lexical match has 1), and ``B'`` the same with patents as queries
over the items. The contrastive loss then only pushes the encoders where BM25 is wrong or unsure: the linker learns
the *residual* of BM25, and is meant to be used fused with it (``--method runs/NAME+bm25``). Validation (and so
checkpoint selection) scores the same sum, ``cos + λτ · B``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["LexicalPrior", "normalised_bm25"]


def normalised_bm25(queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
    """BM25 score of every query against every document, each row divided by its maximum.

    Args:
        queries / docs: texts (the BM25 of :class:`patlink.retrieval.bm25.BM25Retriever`: bm25s, Lucene variant,
            English stop words, stemming).

    Returns:
        ``(len(queries), len(docs))`` float32 in [0, 1]; a query with no matching term gets a zero row.
        Memory is ``4 · n_q · n_d`` bytes (1,513 × 1,513: 9 MB).
    """
    from patlink.retrieval.bm25 import BM25Retriever

    r = BM25Retriever()
    r.index({str(k): t for k, t in enumerate(docs)})
    _, _, B = r.score_matrix({str(k): t for k, t in enumerate(queries)})
    top = B.max(axis=1, keepdims=True)
    return np.divide(B, top, out=np.zeros_like(B), where=top > 0).astype(np.float32)


class LexicalPrior:
    """Row-normalised BM25 matrices over all items and patents of a dataset (both query directions).

    Args:
        item_texts / patent_texts: ``{id: text}`` of every item / patent the trainer scores.

    Attributes:
        i2p: ``(n_items, n_patents)`` float32, items as queries. p2i: ``(n_patents, n_items)`` float32.
        item_pos / patent_pos: id → row/column index.
    """

    def __init__(self, item_texts: dict[str, str], patent_texts: dict[str, str]):
        self.items, self.patents = list(item_texts), list(patent_texts)
        self.item_pos = {x: k for k, x in enumerate(self.items)}
        self.patent_pos = {x: k for k, x in enumerate(self.patents)}
        it, pt = [item_texts[i] for i in self.items], [patent_texts[p] for p in self.patents]
        self.i2p = normalised_bm25(it, pt)
        self.p2i = normalised_bm25(pt, it)

    def block(self, items: Sequence[str], patents: Sequence[str]):
        """``(B, B')`` for these items and patents as torch tensors: ``B`` of shape ``(n, m)`` (items as queries),
        ``B'`` of shape ``(m, n)`` (patents as queries)."""
        import torch

        ri = np.array([self.item_pos[i] for i in items], dtype=np.int64)
        rp = np.array([self.patent_pos[p] for p in patents], dtype=np.int64)
        return (torch.from_numpy(self.i2p[np.ix_(ri, rp)]), torch.from_numpy(self.p2i[np.ix_(rp, ri)]))
