"""Extra-negative strategies of the linker trainer, one per module, behind one interface
(:class:`~patlink.training.negatives.base.NegativeSource`): in-batch only, random, BM25-mined, known (judged
non-relevant pairs of the dataset), adversarial, mined (positive-aware: a teacher's candidates filtered or weighted
around the positive's score).
:func:`build_negatives` picks the one ``TrainConfig.negatives.source`` names."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from patlink.training.negatives.adversarial import AdversarialNegatives
from patlink.training.negatives.base import Batch, EmbeddingBank, NegativeDraw, Negatives, NegativeSource
from patlink.training.negatives.bm25 import BM25Negatives
from patlink.training.negatives.inbatch import InBatchNegatives
from patlink.training.negatives.known import KnownNegatives
from patlink.training.negatives.mined import MinedNegatives, mining_teacher
from patlink.training.negatives.random import RandomNegatives
from patlink.training.patents import PatentRepresentation
from patlink.training.sampler import LinkIndex

__all__ = ["AdversarialNegatives", "BM25Negatives", "Batch", "EmbeddingBank", "InBatchNegatives", "KnownNegatives",
           "MinedNegatives", "NegativeDraw", "NegativeSource", "Negatives", "RandomNegatives", "build_negatives"]


def build_negatives(config, index: LinkIndex, item_tokens: Sequence[np.ndarray], item_texts: Sequence[str],
                    patents: PatentRepresentation, generator: torch.Generator, *,
                    negative_links: Sequence[tuple[str, str]] = ()) -> NegativeSource:
    """The source ``config.negatives.source`` names, with the curriculum ``config.curriculum``.

    Args:
        config: :class:`~patlink.training.config.TrainConfig`. index: the training graph.
        item_tokens / item_texts: token arrays / texts of the training items (``index.items`` order).
        patents: the patent representation (BM25 reads its documents). generator: the sampler's torch RNG.
        negative_links: ``(item_id, patent_id)`` judged non-relevant pairs (``Dataset.negative_links``), read by
            ``source="known"`` only (pairs outside the training graph are ignored).

    Raises:
        ValueError: ``source="known"`` with no known negative between a training item and a training patent.
    """
    n = config.negatives
    kw = {"exclusive": n.exclusive, "embeddings": n.embeddings, "bank_refresh": n.bank_refresh}
    args = (index, config.curriculum, item_tokens, generator)
    if n.source == "adversarial":
        return AdversarialNegatives(*args, out_dim=config.encoder.out_dim, hidden=n.adversary.hidden,
                                    lr=n.adversary.lr, **kw)
    if n.source == "bm25":
        return BM25Negatives(*args, item_texts=item_texts, patent_texts=patents.bm25_documents(item_texts),
                             pool=n.bm25_pool, **kw)
    if n.source == "mined":
        m = n.mining
        return MinedNegatives(*args, item_texts=item_texts, patent_texts=patents.bm25_documents(item_texts),
                              scorer=mining_teacher(config), strategy=m.strategy, depth=m.depth, margin=m.margin,
                              a=m.a, b=m.b, **kw)
    if n.source == "known":
        return KnownNegatives(*args, negative_links=negative_links, fallback=n.known_fallback, **kw)
    if n.source == "random":
        return RandomNegatives(*args, **kw)
    return InBatchNegatives(*args, **kw)
