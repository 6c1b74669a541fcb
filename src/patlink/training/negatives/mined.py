"""Mined extra negatives: each training query's candidates ranked by a teacher (BM25 or the zero-shot dense
backbone), then filtered or weighted around the score of its own positive (:mod:`patlink.training.mining`).

``strategy="percpos"`` keeps, of the teacher's top ``depth`` documents that are not the query's positives, those
scoring at most ``margin`` × its lowest positive's score (Moreira et al., "NV-Retriever: Improving text embedding
models with effective hard-negative mining", TopK-PercPos) and draws uniformly among them — ``source="bm25"`` with
the likely false negatives removed. ``strategy="simans"`` draws among all ``depth`` candidates with the SimANS
probabilities ``∝ exp(−a (s − s⁺ − b)²)`` (Zhou et al., "SimANS: Simple Ambiguous Negatives Sampling for Dense Text
Retrieval"): they are the sampler's logits, so each step's Gumbel top-k draw is an exact SimANS sample without
replacement, a fresh one every step. Candidates are mined once, before training, in both directions (items →
patents, patents → items) over the training graph only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from patlink.training.mining import MiningReport, score_candidates, select_negatives, simans_weights
from patlink.training.negatives.base import NegativeSource
from patlink.training.sampler import pool_mask

__all__ = ["MinedNegatives", "mining_teacher"]


def mining_teacher(config):
    """The teacher ``config.negatives.mining.scorer`` names: ``bm25`` → :class:`patlink.methods.BM25`; ``dense`` →
    :class:`patlink.methods.Dense` over the encoders' backbone (``encoder.backbone``, its ``max_length`` and
    ``max_chunks`` windows, on ``config.device``), cosine scores. ``config``: a
    :class:`~patlink.training.config.TrainConfig`."""
    from patlink.methods import BM25, Dense

    if config.negatives.mining.scorer == "dense":
        e = config.encoder
        return Dense(e.backbone, max_length=e.max_length, windows=e.max_chunks, device=config.device)
    return BM25()


class MinedNegatives(NegativeSource):
    """Extra negatives restricted to each query's mined candidates, uniform (``percpos``) or with SimANS logits
    (``simans``).

    Args:
        item_texts / patent_texts: one text per training item / patent (``index`` order; for patents known by their
            items, their profile), as for :class:`~patlink.training.negatives.bm25.BM25Negatives`.
        scorer: the teacher (:func:`mining_teacher`), a :class:`patlink.methods.Method`.
        strategy: ``percpos`` | ``simans``. depth: documents the teacher retrieves per query.
        margin: ``percpos`` threshold (fraction of the positive's score). a / b: SimANS.
        The rest as :class:`~patlink.training.negatives.base.NegativeSource`.

    Attributes:
        pools_patents / pools_items: item → candidate patent indices, patent → candidate item indices.
        reports: ``{"patent": …, "item": …}`` the :class:`patlink.training.mining.MiningReport` of each side (item
            queries drawing patents, patent queries drawing items): skipped queries draw nothing.

    Raises:
        ValueError: an unknown strategy, or no query of a side with a usable positive score.
    """

    name = "mined"

    def __init__(self, index, curriculum, item_tokens, generator, *, item_texts: Sequence[str],
                 patent_texts: Sequence[str], scorer, strategy: str = "percpos", depth: int = 50,
                 margin: float = 0.95, a: float = 0.5, b: float = 0.0, **kw):
        if strategy not in ("percpos", "simans"):
            raise ValueError(f"mined negatives: strategy must be 'percpos' or 'simans', got {strategy!r}")
        super().__init__(index, curriculum, item_tokens, generator, **kw)
        it, pt = list(item_texts), list(patent_texts)
        args = (strategy, depth, margin, a, b)
        self.pools_patents, self.weights_patents, rp = _mine(it, pt, index.item_pos,
                                                             scorer.for_direction("item2patent"), *args)
        self.pools_items, self.weights_items, ri = _mine(pt, it, index.patent_pos,
                                                         scorer.for_direction("patent2item"), *args)
        self.strategy = strategy
        self.reports = {"patent": rp, "item": ri}

    def logits(self, side: str, queries: torch.Tensor, query_idx: np.ndarray, mask: torch.Tensor):
        n = mask.shape[1]
        pools, weights = ((self.pools_items, self.weights_items) if side == "item"
                          else (self.pools_patents, self.weights_patents))
        lg = torch.zeros(len(query_idx), n)
        if weights is not None:
            for r, q in enumerate(query_idx):
                if pools[int(q)]:
                    lg[r, torch.tensor(pools[int(q)], dtype=torch.long)] = torch.from_numpy(weights[int(q)]).float()
        return lg, mask & pool_mask(pools, query_idx, n)


def _mine(query_texts: list[str], doc_texts: list[str], positives: list[list[int]], scorer, strategy: str,
          depth: int, margin: float, a: float, b: float):
    """``(pools, log-weights or None, report)`` of one side, by action index."""
    queries = {str(k): t for k, t in enumerate(query_texts)}
    docs = {str(j): t for j, t in enumerate(doc_texts)}
    pos = {str(k): {str(j) for j in p} for k, p in enumerate(positives)}
    cands = score_candidates(queries, docs, pos, scorer=scorer, depth=depth)
    if strategy == "percpos":
        res = select_negatives(cands, strategy="percpos", n_negatives=max(1, depth), margin=margin, depth=depth)
        return [[int(d) for d in res[str(k)]] for k in range(len(query_texts))], None, res.report
    logw, skipped, scale = simans_weights(cands, a=a, b=b)
    pools = [[] if str(k) in skipped else [int(d) for d in cands[str(k)].doc_ids] for k in range(len(query_texts))]
    weights = [logw.get(str(k), np.empty(0)) for k in range(len(query_texts))]
    report = MiningReport("simans", depth, depth, {str(k): len(p) for k, p in enumerate(pools)}, skipped,
                          tuple(q for q, c in cands.items() if c.scored_directly), 0, scale)
    return pools, weights, report
