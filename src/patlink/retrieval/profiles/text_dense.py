"""``text-dense``: cosine to the embedding of the patent's own (hydrated) text."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer, masked

__all__ = ["TextDense"]


class TextDense(ProfileScorer):
    """cosine(query, embedding of the patent's own text) with the profile model; patents without text ``-inf``."""

    leaf = "text-dense"

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        texts = list(texts)
        return masked(pr.query_emb(self.leaf, texts, param) @ pr.text_emb.T, pr.has_text_mask(), len(texts),
                      len(pr.patent_ids))
