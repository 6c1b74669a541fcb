"""``text-linker``: a trained linker's patent encoder on the patent's own (hydrated) text."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer, masked

__all__ = ["TextLinker"]


class TextLinker(ProfileScorer):
    """cosine(item encoder(query), patent encoder(patent text)) of a trained linker (``param``: its folder);
    patents without text are ``-inf``."""

    leaf = "text-linker"

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        texts = list(texts)
        return masked(pr.query_emb(self.leaf, texts, param) @ pr.linker_text_emb(param).T, pr.has_text_mask(),
                      len(texts), len(pr.patent_ids))
