"""Batches of training links and the index structures the negative strategies use.

The strategies themselves live in :mod:`patlink.training.negatives` (one per module); every extra-negative
strategy goes through the same masked sampler (:func:`patlink.models.adversary.gumbel_topk`): ``random`` uses zero
logits (uniform without replacement over allowed documents), ``bm25`` zero logits restricted to each query's BM25
candidate pool (:func:`bm25_pools`, :func:`pool_mask`), ``adversarial`` the policy logits. So the ablation differs
only in the logits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["LinkIndex", "bm25_pools", "epoch_batches", "pool_mask"]


@dataclass
class LinkIndex:
    """Integer view of the training graph.

    Attributes:
        items / patents: training item / patent ids; their position is the action index of the negative sources
            (and of the adversaries). ``patents`` lists the linked patents first (sorted), then any link-less
            ``extra_patents`` of :meth:`from_links` (sorted): patents that can be drawn as negatives but are never a
            batch positive.
        pairs: ``(n_links, 2)`` int64 array of (item index, patent index).
        item_pos / patent_pos: item index → patent indices linked to it, and the reverse (``[]`` for a link-less
            patent).
    """

    items: list[str]
    patents: list[str]
    pairs: np.ndarray
    item_pos: list[list[int]] = field(default_factory=list)
    patent_pos: list[list[int]] = field(default_factory=list)

    @classmethod
    def from_links(cls, links: list[tuple[str, str]], extra_patents: Iterable[str] = ()) -> LinkIndex:
        """The index of ``(item_id, patent_id)`` ``links``.

        Args:
            links: the training links.
            extra_patents: patent ids to add WITHOUT links (after the linked patents, sorted, each once; an id that
                is also linked stays a linked patent), e.g. the patents known only as judged non-relevant
                (:func:`patlink.training.negatives.known.negative_only_patents`). Without them the index is exactly
                that of ``links``.
        """
        items = sorted({i for i, _ in links})
        linked = {p for _, p in links}
        patents = sorted(linked) + sorted(set(extra_patents) - linked)
        ii = {x: k for k, x in enumerate(items)}
        pi = {x: k for k, x in enumerate(patents)}
        pairs = np.array(sorted({(ii[i], pi[p]) for i, p in links}), dtype=np.int64).reshape(-1, 2)
        ip, pp = defaultdict(list), defaultdict(list)
        for a, b in pairs:
            ip[int(a)].append(int(b))
            pp[int(b)].append(int(a))
        return cls(items, patents, pairs, [ip[k] for k in range(len(items))], [pp[k] for k in range(len(patents))])

    @property
    def n_linked_patents(self) -> int:
        """Number of patents with at least one link (:meth:`from_links` puts them first, then the extra ones)."""
        return sum(1 for ps in self.patent_pos if ps)

    def pos_matrix(self, item_idx: np.ndarray, patent_idx: np.ndarray) -> torch.Tensor:
        """``(len(item_idx), len(patent_idx))`` bool: True where the training graph links the pair."""
        col = {int(p): c for c, p in enumerate(patent_idx)}
        out = np.zeros((len(item_idx), len(patent_idx)), dtype=bool)
        for r, i in enumerate(item_idx):
            for p in self.item_pos[int(i)]:
                c = col.get(p)
                if c is not None:
                    out[r, c] = True
        return torch.from_numpy(out)


def epoch_batches(n_links: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Shuffled link indices for one epoch, split into batches (a last batch of < 2 links is dropped).

    Deterministic in ``(seed, epoch)`` so a resumed run sees the same batches.
    """
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(n_links)
    batches = [perm[s:s + batch_size] for s in range(0, n_links, batch_size)]
    return [b for b in batches if len(b) >= 2]


def bm25_pools(query_texts: list[str], doc_texts: list[str], positives: list[list[int]], pool: int,
               show_progress: bool = False) -> list[list[int]]:
    """For each query, the top-``pool`` documents by BM25 (``bm25s``) that are not its positives.

    Returns one list of document indices per query (possibly shorter than ``pool`` on tiny corpora).
    """
    import bm25s

    tok_docs = bm25s.tokenize(doc_texts, stopwords="en", show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tok_docs, show_progress=False)
    k = min(len(doc_texts), pool + max((len(p) for p in positives), default=0))
    tok_q = bm25s.tokenize(query_texts, stopwords="en", show_progress=False, return_ids=False)
    res, _ = retriever.retrieve(tok_q, k=k, show_progress=show_progress, n_threads=1)
    out = []
    for q, row in enumerate(res):
        ps = set(positives[q])
        out.append([int(d) for d in row if int(d) not in ps][:pool])
    return out


def pool_mask(pools: list[list[int]], query_idx: np.ndarray, n_actions: int) -> torch.Tensor:
    """``(len(query_idx), n_actions)`` bool: True on each query's candidate pool."""
    m = torch.zeros(len(query_idx), n_actions, dtype=torch.bool)
    for r, q in enumerate(query_idx):
        if pools[int(q)]:
            m[r, torch.tensor(pools[int(q)], dtype=torch.long)] = True
    return m
