"""``text-bm25``: BM25 against the patents' own (hydrated) texts."""

from __future__ import annotations

import numpy as np

from patlink.retrieval.profiles.scorer import ProfileScorer, bm25_patent2item

__all__ = ["TextBM25"]


class TextBM25(ProfileScorer):
    """BM25 (bm25s) of the query against the patents that have their own text; the others are ``-inf``."""

    leaf = "text-bm25"

    def item2patent(self, pr, texts, param=None) -> np.ndarray:
        return pr._bm25_patent_matrix("bm25_text", pr.patent_text, list(texts))

    def patent2item(self, pr, patent_ids, docs, param=None) -> np.ndarray:
        return bm25_patent2item(pr, pr.patent_text, patent_ids, docs)
