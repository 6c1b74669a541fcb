"""``profile-mean``: cosine to the re-normalised mean embedding of the patent's known products."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer, masked

__all__ = ["ProfileMean"]


class ProfileMean(ProfileScorer):
    """cosine(query, mean of the L2-normalised embeddings of the patent's known products), with the profile
    model (``ProfileConfig.model``, bundled MiniLM). Patents without a known product are ``-inf``."""

    leaf = "profile-mean"

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        texts = list(texts)
        return masked(pr.query_emb(self.leaf, texts, param) @ pr.profile_emb.T, pr.has_profile, len(texts),
                      len(pr.patent_ids))
