"""``profile-linker``: a trained linker whose patent encoder pools the SET of the patent's known products."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer, masked

__all__ = ["ProfileLinker"]


class ProfileLinker(ProfileScorer):
    """cosine(item encoder(query), patent encoder(set of the patent's known product texts)) of a trained linker
    (``param``: its folder). Patents without a known product are ``-inf``."""

    leaf = "profile-linker"

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        texts = list(texts)
        return masked(pr.query_emb(self.leaf, texts, param) @ pr.linker_profile_emb(param).T, pr.has_profile,
                      len(texts), len(pr.patent_ids))
