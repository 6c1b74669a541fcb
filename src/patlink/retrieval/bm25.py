"""BM25 lexical retrieval with ``bm25s`` (Lucene variant; English stop words; English Snowball stemming, PyStemmer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patlink.retrieval.base import Run

__all__ = ["BM25Config", "BM25Retriever"]


@dataclass
class BM25Config:
    """BM25 parameters: ``k1`` term-frequency saturation, ``b`` length normalisation, Lucene IDF, English stop words,
    ``stem``: English Snowball stemming (PyStemmer, a dependency; on pap2pat claims it moves patent→paper MRR from
    0.812 to 0.837, so it is never switched off silently)."""

    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stopwords: str = "en"
    stem: bool = True


def _stemmer(enabled: bool):
    if not enabled:
        return None
    try:
        import Stemmer  # PyStemmer
    except ImportError as e:  # results would change silently: refuse instead
        raise ImportError("BM25 stemming needs PyStemmer (a patlink dependency): `pip install PyStemmer`, or "
                          "use BM25Config(stem=False) knowingly") from e
    return Stemmer.Stemmer("english")


class BM25Retriever:
    """BM25 over a corpus of id → text.

    Example:
        >>> r = BM25Retriever(); r.index({"d1": "a barcode scanner", "d2": "a gas turbine"})
        >>> r.search({"q": "barcode"}, top_k=1)
        {'q': {'d1': ...}}
    """

    name = "bm25"

    def __init__(self, k1: float = 1.5, b: float = 0.75, config: BM25Config | None = None, show_progress: bool = False):
        self.config = config or BM25Config(k1=k1, b=b)
        self.show_progress = show_progress
        self._stem = _stemmer(self.config.stem)
        self.doc_ids: list[str] = []
        self._model = None

    def _tokenize(self, texts: list[str]):
        import bm25s

        return bm25s.tokenize(texts, stopwords=self.config.stopwords, stemmer=self._stem,
                              show_progress=self.show_progress, return_ids=False)

    def index(self, docs: dict[str, str]) -> None:
        """Build the index. Raises ``ValueError`` on an empty corpus."""
        import bm25s

        if not docs:
            raise ValueError("cannot index an empty corpus")
        self.doc_ids = list(docs)
        self._model = bm25s.BM25(k1=self.config.k1, b=self.config.b, method=self.config.method)
        self._model.index(self._tokenize(list(docs.values())), show_progress=self.show_progress)

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        """BM25 score of every query against every document: ``(n_q, n_d)`` float32."""
        if self._model is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        toks = self._tokenize([queries[q] for q in qids])
        scores = np.zeros((len(qids), len(self.doc_ids)), dtype=np.float32)
        for i, t in enumerate(toks):
            if t:
                scores[i] = self._model.get_scores(t)
        return qids, self.doc_ids, scores

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        """Top-``top_k`` documents per query (bm25s sparse top-k retrieval)."""
        if self._model is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        k = min(top_k, len(self.doc_ids))
        toks = self._tokenize([queries[q] for q in qids])
        run: Run = {}
        nonempty = [i for i, t in enumerate(toks) if t]
        if nonempty:
            docs, scores = self._model.retrieve([toks[i] for i in nonempty], k=k, show_progress=self.show_progress,
                                                n_threads=1)
            for row, i in enumerate(nonempty):
                run[qids[i]] = {self.doc_ids[d]: float(s) for d, s in zip(docs[row], scores[row])}
        for i, q in enumerate(qids):
            run.setdefault(q, {})
        return run


