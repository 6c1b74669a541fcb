"""The interface of a profile scorer: scores of item texts against the pool's patents, and the reverse."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from patlink.retrieval.profiles.store import PatentProfiles

__all__ = ["ProfileScorer"]


class ProfileScorer:
    """Scores queries against patents represented by :class:`~patlink.retrieval.profiles.store.PatentProfiles`.

    Subclasses set :attr:`leaf` and implement :meth:`item2patent`; :meth:`patent2item` defaults to the same pairs
    read the other way. ``-inf`` marks what a scorer cannot represent (left out of runs).

    Attributes:
        leaf: the scorer's name (``profile-mean`` …), the key of :data:`patlink.retrieval.profiles.SCORERS`.
        directions: the directions it can rank.
    """

    leaf: str = ""
    directions: tuple[str, ...] = ("item2patent", "patent2item")

    def item2patent(self, pr: PatentProfiles, texts: Sequence[str], param=None) -> np.ndarray:
        """``(len(texts), n_patents)`` float32 scores of item texts against every pool patent."""
        raise NotImplementedError

    def patent2item(self, pr: PatentProfiles, patent_ids: Sequence[str], docs: dict[str, str],
                    param=None) -> np.ndarray:
        """``(len(patent_ids), len(docs))`` float32 scores of new items ``docs`` (id → text) for each patent; rows
        of patents outside the pool are ``-inf`` (empty rankings: their links count as misses)."""
        dids, texts = list(docs), list(docs.values())
        rows = np.array([pr._pcol.get(p, -1) for p in patent_ids], dtype=np.int64)
        out = np.full((len(patent_ids), len(dids)), -np.inf, dtype=np.float32)
        known = rows >= 0
        if not known.any() or not dids:
            return out
        full = self.item2patent(pr, texts, param)  # (n_docs, n_patents)
        out[known] = full[:, rows[known]].T
        return out


def masked(s: np.ndarray, ok: np.ndarray, n_q: int, n_p: int) -> np.ndarray:
    """``s`` as ``(n_q, n_p)`` float32 with the columns of unrepresentable patents (``~ok``) set to ``-inf``."""
    s = np.asarray(s, dtype=np.float32).reshape(n_q, n_p)
    s[:, ~ok] = -np.inf
    return s


def bm25_patent2item(pr: PatentProfiles, src: dict[str, str], patent_ids: Sequence[str],
                     docs: dict[str, str]) -> np.ndarray:
    """BM25 over the new items ``docs``, queried with each patent's text in ``src`` (profile or own text)."""
    from patlink.retrieval.bm25 import BM25Retriever

    out = np.full((len(patent_ids), len(docs)), -np.inf, dtype=np.float32)
    q = {str(r): src[p] for r, p in enumerate(patent_ids) if p in src}
    if q and docs:
        r = BM25Retriever()
        r.index(docs)
        qids, _, s = r.score_matrix(q)
        out[[int(x) for x in qids]] = s
    return out
