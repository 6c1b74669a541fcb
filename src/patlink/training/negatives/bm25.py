"""BM25-mined extra negatives: drawn uniformly from each query's top BM25 candidates that are not its positives."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from patlink.training.negatives.base import NegativeSource
from patlink.training.sampler import bm25_pools, pool_mask

__all__ = ["BM25Negatives"]


class BM25Negatives(NegativeSource):
    """Zero logits restricted to each query's BM25 pool (:func:`patlink.training.sampler.bm25_pools`).

    Args:
        item_texts / patent_texts: one text per training item / patent (``index`` order; for patents known by
            their items, their profile: the concatenated texts of their items).
        pool: candidates per query (``negatives.bm25_pool``).
        The rest as :class:`~patlink.training.negatives.base.NegativeSource`.
    """

    name = "bm25"

    def __init__(self, index, curriculum, item_tokens, generator, *, item_texts: Sequence[str],
                 patent_texts: Sequence[str], pool: int, **kw):
        super().__init__(index, curriculum, item_tokens, generator, **kw)
        it, pt = list(item_texts), list(patent_texts)
        self.pools_patents = bm25_pools(it, pt, index.item_pos, pool)    # item → patents
        self.pools_items = bm25_pools(pt, it, index.patent_pos, pool)    # patent → items

    def logits(self, side: str, queries: torch.Tensor, query_idx: np.ndarray, mask: torch.Tensor):
        n = mask.shape[1]
        pools = self.pools_items if side == "item" else self.pools_patents
        return torch.zeros(len(query_idx), n), mask & pool_mask(pools, query_idx, n)
