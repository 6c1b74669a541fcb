"""``profile-bm25``: BM25 with each patent's document the concatenated texts of its known products."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer, bm25_patent2item

__all__ = ["ProfileBM25"]


class ProfileBM25(ProfileScorer):
    """BM25 (bm25s) of the query against patent profiles; patent → item indexes the new products and queries with
    each patent's profile text. Patents without a known product are ``-inf``."""

    leaf = "profile-bm25"

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        return pr._bm25_patent_matrix("bm25_profile", pr.profile_texts(), list(texts))

    def patent2item(self, pr, patent_ids, docs, param=None) -> np.ndarray:
        return bm25_patent2item(pr, pr.profile_texts(), patent_ids, docs)
