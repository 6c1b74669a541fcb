"""Known extra negatives: drawn from the pairs judged NOT relevant (``Dataset.negative_links``, e.g. candidate links a
reviewer rejected, the score-0 rows of BEIR qrels).

A rejected candidate is usually a patent that no item is linked to (it was simply a wrong candidate), so it is not
a training patent. :func:`negative_only_patents` finds those patents; the trainer adds them, with
``negatives.source="known"`` only, to the training graph as link-less patents
(``LinkIndex.from_links(train, extra_patents=...)``) so that the items that rejected them can draw them. They are
never a batch positive and never a query (a batch holds linked patents only), and a patent with a val or test link
is never one of them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import torch

from patlink.training.config import KnownFallback
from patlink.training.negatives.base import NegativeSource
from patlink.training.sampler import LinkIndex, pool_mask

__all__ = ["KnownNegatives", "known_pools", "negative_only_patents"]


def negative_only_patents(negative_links: Iterable[tuple[str, str]], train_links: Iterable[tuple[str, str]],
                          other_links: Iterable[tuple[str, str]] = ()) -> list[str]:
    """The patents judged non-relevant to a training item that have no link at all: the link-less patents the
    training graph needs so that known negatives can be drawn from them.

    Args:
        negative_links: ``(item_id, patent_id)`` judged non-relevant pairs (``Dataset.negative_links``).
        train_links: the training links (their items are the training items).
        other_links: every other link the patents must not be in: the validation and test links, and the
            dataset's links (a patent with any positive link is never added, so a val/test patent never enters
            training).

    Returns:
        Sorted distinct patent ids ``p`` such that some ``(i, p)`` of ``negative_links`` has a training item ``i``
        and ``p`` is in no link of ``train_links`` or ``other_links``. Whether each one can be represented (its
        text, the patent representation) is the trainer's decision.
    """
    train_links = [tuple(x) for x in train_links]
    items = {i for i, _ in train_links}
    linked = {p for _, p in train_links} | {p for _, p in other_links}
    return sorted({p for i, p in negative_links if i in items and p not in linked})


def known_pools(index: LinkIndex, negative_links: Iterable[tuple[str, str]]
                ) -> tuple[list[list[int]], list[list[int]], int]:
    """The known negatives of each training item and patent, as action indices of ``index``.

    Args:
        index: the training graph. negative_links: ``(item_id, patent_id)`` pairs judged non-relevant.

    Returns:
        ``(item → patent indices, patent → item indices, n_used)``: one sorted list per ``index.items`` /
        ``index.patents``, and the number of distinct pairs kept. A pair is kept only when its item is a training
        item and its patent a patent of ``index`` (a linked training patent, or a link-less one the index was
        given: the actions the sampler can draw and the bank can embed), and it is not a training link.
    """
    ii = {x: k for k, x in enumerate(index.items)}
    pi = {x: k for k, x in enumerate(index.patents)}
    pos = {(int(a), int(b)) for a, b in index.pairs}
    kept = {(ii[i], pi[p]) for i, p in negative_links if i in ii and p in pi} - pos
    by_item, by_patent = defaultdict(list), defaultdict(list)
    for a, b in sorted(kept):
        by_item[a].append(b)
        by_patent[b].append(a)
    return ([by_item[k] for k in range(len(index.items))], [by_patent[k] for k in range(len(index.patents))],
            len(kept))


class KnownNegatives(NegativeSource):
    """Zero logits restricted to each query's known negatives (:func:`known_pools`): a training item draws among
    the training patents judged non-relevant to it, a patent among the training items judged non-relevant to it,
    through the same masked Gumbel-top-k sampler and curriculum count as the other sources. As always, a query never
    draws its own positives nor a document of the batch; a query with fewer allowed known negatives than the count
    draws them all (the remaining slots are ``-1``).

    Known negatives whose item has no training link, or whose patent is not in ``index``, are not drawn (they are
    not in the action sets). The trainer puts the patents known ONLY as negatives of training items into ``index``
    as link-less patents (:func:`negative_only_patents`); a link-less patent is never a query, and with
    ``fallback="random"`` it can also be drawn uniformly by the queries without known negatives (it is a real
    patent).

    Args:
        negative_links: ``(item_id, patent_id)`` judged non-relevant pairs (``Dataset.negative_links``).
        fallback: what a query WITHOUT any known negative among the training documents draws: ``random`` (default)
            — uniformly among its allowed documents, like ``source="random"``, so queries no reviewer looked at
            still get extra negatives; ``none`` — nothing. A query that has known negatives never falls back, even
            when the batch blocks all of them.
        The rest as :class:`~patlink.training.negatives.base.NegativeSource`.

    Attributes:
        pools_patents / pools_items: item → known-negative patent indices, patent → known-negative item indices.
        n_known: distinct known negatives usable in training (both ids in the training graph).

    Raises:
        ValueError: if ``fallback`` is not ``random`` or ``none``, or no known negative pairs a training item with a
            patent of ``index``.
    """

    name = "known"

    def __init__(self, index, curriculum, item_tokens, generator, *, negative_links: Iterable[tuple[str, str]],
                 fallback: KnownFallback = "random", **kw):
        if fallback not in ("random", "none"):
            raise ValueError(f"fallback must be 'random' or 'none', got {fallback!r}")
        super().__init__(index, curriculum, item_tokens, generator, **kw)
        negative_links = list(negative_links)
        self.pools_patents, self.pools_items, self.n_known = known_pools(index, negative_links)
        if self.n_known == 0:
            raise ValueError(f"none of the {len(negative_links)} known negatives pairs a training item with a "
                             "patent of the training graph (other than a training link), so negatives.source='known' "
                             "has nothing to draw; use --negatives bm25 or review candidates of the training items")
        self.fallback = fallback

    def logits(self, side: str, queries: torch.Tensor, query_idx: np.ndarray, mask: torch.Tensor):
        n = mask.shape[1]
        pools = self.pools_items if side == "item" else self.pools_patents
        allowed = pool_mask(pools, query_idx, n)
        if self.fallback == "random":
            empty = torch.tensor([not pools[int(q)] for q in query_idx], dtype=torch.bool)
            allowed[empty] = True
        return torch.zeros(len(query_idx), n), mask & allowed
