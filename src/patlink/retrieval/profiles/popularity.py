"""``popularity``: the number of known products linked to the patent (the same ranking for every query)."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer

__all__ = ["Popularity"]


class Popularity(ProfileScorer):
    """Degree of the patent in the known links. Item → patent only: every new product would tie the other way."""

    leaf = "popularity"
    directions = ("item2patent",)

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        return np.tile(pr.degree, (len(texts), 1)).astype(np.float32)

    def patent2item(self, pr, patent_ids, docs, param=None) -> np.ndarray:
        raise ValueError("popularity has no patent → item form (every new product would tie)")
