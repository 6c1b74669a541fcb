"""``knn``: the patents of the nearest known products."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer

__all__ = ["KNN"]


class KNN(ProfileScorer):
    """``score(p) = Σ_{n ∈ N_k(q), n linked to p} max(0, cos(q, n))`` over the ``k`` known products most similar to
    the query (profile model embeddings); summed, so a patent supported by several near neighbours wins; ties
    broken by popularity (+1e-6 · degree / max degree). ``param`` is ``k`` (``ProfileConfig.knn_k`` when
    ``None``). Patents without a known product are unrepresentable (``-inf``) patent → item."""

    leaf = "knn"

    def _members(self, pr, param):
        return None

    def _k(self, pr, param) -> int:
        return param or pr.cfg.knn_k

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        q = pr.query_emb(self.leaf, list(texts), param)
        return pr.knn_scores(q, self._k(pr, param), self._members(pr, param))

    def patent2item(self, pr, patent_ids, docs, param=None) -> np.ndarray:
        out = super().patent2item(pr, patent_ids, docs, param)
        rows = np.array([pr._pcol.get(p, -1) for p in patent_ids], dtype=np.int64)
        # ≥ 0 everywhere; patents without a known product are unrepresentable
        out[(rows >= 0) & ~pr.has_profile[np.maximum(rows, 0)]] = -np.inf
        return out
