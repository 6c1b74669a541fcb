"""BM25 as a :class:`~patlink.methods.base.Method` (bm25s, Lucene variant, English stop words and stemming)."""

from __future__ import annotations

from patlink.methods.base import EngineMethod
from patlink.retrieval.bm25 import BM25Config, BM25Retriever

__all__ = ["BM25"]


class BM25(EngineMethod):
    """Okapi BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond") with bm25s.

    Symmetric: the same index serves both directions. Scores are unbounded BM25 scores (not comparable across
    queries). Nothing to tune.

    Args:
        k1: term-frequency saturation.
        b: length normalisation.
        stem: English Snowball stemming (PyStemmer).

    Example:
        >>> m = BM25(); m.index({"d1": "a barcode scanner", "d2": "a gas turbine"})
        >>> list(m.search({"q": "barcode"}, top_k=1)["q"])
        ['d1']
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75, stem: bool = True):
        self.config = BM25Config(k1=k1, b=b, stem=stem)
        self._engine: BM25Retriever | None = None

    @property
    def name(self) -> str:
        c = self.config
        extra = [f"k1={c.k1:g}"] * (c.k1 != 1.5) + [f"b={c.b:g}"] * (c.b != 0.75) + ["no-stem"] * (not c.stem)
        return "bm25" + (f"({','.join(extra)})" if extra else "")

    def _make_engine(self) -> BM25Retriever:
        return BM25Retriever(config=self.config)
