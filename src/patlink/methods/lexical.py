"""BM25 as a :class:`~patlink.methods.base.Method` (bm25s, Lucene variant, English stop words and stemming)."""

from __future__ import annotations

from pathlib import Path

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

    # ------------------------------------------------------------------ saved indexes
    def save_index(self, folder: str | Path) -> list[Path]:
        """Write the built index to ``folder`` (:meth:`patlink.retrieval.bm25.BM25Retriever.save`); returns the
        files. Raises ``RuntimeError`` before :meth:`index`."""
        return self.engine.save(folder)

    def load_index(self, folder: str | Path, doc_ids: list[str]) -> None:
        """Rank with an index written by :meth:`save_index` (memory-mapped) whose rows are ``doc_ids``.

        Raises:
            ValueError: the folder holds no BM25 index, or one built with other parameters than this method's.
        """
        from dataclasses import asdict

        eng = BM25Retriever.load(folder, doc_ids)
        if asdict(eng.config) != asdict(self.config):
            raise ValueError(f"{folder}: BM25 index built with {asdict(eng.config)}, this method is "
                             f"{asdict(self.config)}")
        self._engine = eng

    def matched_terms(self, query: str, doc_ids: list[str]) -> list[list[str]]:
        """The query words found in each document (:meth:`patlink.retrieval.bm25.BM25Retriever.matched_terms`)."""
        return self.engine.matched_terms(query, doc_ids)
