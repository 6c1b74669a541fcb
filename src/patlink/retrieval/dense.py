"""Dense zero-shot retrieval: frozen sentence-transformers embeddings, cosine similarity, exact or ANN search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patlink.retrieval.base import Run
from patlink.retrieval.embed import encode_texts

__all__ = ["DenseConfig", "DenseRetriever"]


@dataclass
class DenseConfig:
    """``model``: name or path (``minilm`` bundled); ``max_length`` in tokens; ``batch_size`` texts per pass;
    ``max_chunks``: windows of ``max_length`` tokens per text (1 = truncate, "FirstP"; > 1 = the L2-normalised mean
    of the windows' embeddings, "MeanP", see :mod:`patlink.data.chunking`); ``device``: where the model runs
    (``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``, :func:`patlink.devices.resolve_device`)."""

    model: str = "minilm"
    max_length: int = 256
    batch_size: int = 64
    cache: bool = True
    max_chunks: int = 1
    device: str = "cpu"


class DenseRetriever:
    """Cosine-similarity retrieval over L2-normalised embeddings: exact inner-product search, or an ANN index
    attached with :meth:`attach` (a saved index, :mod:`patlink.index`).

    Embeddings are cached on disk (:func:`patlink.retrieval.embed.encode_texts`), so re-indexing is cheap; with
    ``memo`` (an :class:`~patlink.retrieval.embed.EmbeddingMemo`) each text is read at most once per process.
    """

    def __init__(self, model: str = "minilm", max_length: int = 256, config: DenseConfig | None = None,
                 show_progress: bool = True, max_chunks: int = 1, memo=None):
        self.config = config or DenseConfig(model=model, max_length=max_length, max_chunks=max_chunks)
        self.memo = memo
        if self.config.max_chunks < 1:
            raise ValueError(f"max_chunks must be >= 1, got {self.config.max_chunks}")
        self.name = f"dense:{self.config.model}" + (f"@{self.config.max_chunks}" if self.config.max_chunks > 1 else "")
        self.show_progress = show_progress
        self.doc_ids: list[str] = []
        self.doc_emb: np.ndarray | None = None
        self._index = None

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings of ``texts`` (mean over windows with ``max_chunks > 1``)."""
        c = self.config
        if c.max_chunks == 1:
            return encode_texts(texts, c.model, max_length=c.max_length, batch_size=c.batch_size, cache=c.cache,
                                show_progress=self.show_progress, device=c.device, memo=self.memo)
        from patlink.data.chunking import backbone_chunks

        windows = [backbone_chunks(t, c.model, c.max_length, c.max_chunks) for t in texts]
        flat = encode_texts([w for ws in windows for w in ws], c.model, max_length=c.max_length,
                            batch_size=c.batch_size, cache=c.cache, show_progress=self.show_progress,
                            device=c.device, memo=self.memo)
        owner = np.repeat(np.arange(len(texts)), [len(ws) for ws in windows])
        out = np.zeros((len(texts), flat.shape[1]), dtype=np.float32)
        np.add.at(out, owner, flat)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def index(self, docs: dict[str, str]) -> None:
        """Embed and index the corpus (exact search). Raises ``ValueError`` on an empty corpus."""
        if not docs:
            raise ValueError("cannot index an empty corpus")
        self.attach(list(docs), self.encode(list(docs.values())))

    def attach(self, doc_ids: list[str], vectors: np.ndarray, ann=None) -> None:
        """Use precomputed document vectors (e.g. memory-mapped from a saved index) instead of embedding.

        Args:
            doc_ids: one id per row.
            vectors: ``(n_docs, d)`` float32, L2-normalised, computed with this retriever's model and settings.
            ann: an :class:`patlink.retrieval.ann.AnnIndex` over the rows (``None``: exact search).

        Raises:
            ValueError: ids and rows differ in number.
        """
        from patlink.retrieval.vectors import VectorSearch

        if len(doc_ids) != vectors.shape[0]:
            raise ValueError(f"{len(doc_ids)} ids for {vectors.shape[0]} vectors")
        self.doc_ids = list(doc_ids)
        self._index = VectorSearch(vectors, ann)
        self.doc_emb = vectors

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        """Cosine similarity of every query to every document: ``(n_q, n_d)`` float32 in [-1, 1]."""
        if self._index is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        q = self.encode([queries[i] for i in qids])
        return qids, self.doc_ids, self._index.scores(q)

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        """Top-``top_k`` documents per query by cosine similarity (exact, or the attached ANN index)."""
        if self._index is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        return self.search_vectors(qids, self.encode([queries[i] for i in qids]), top_k)

    def search_vectors(self, query_ids: list[str], query_vectors: np.ndarray, top_k: int = 100) -> Run:
        """Top-``top_k`` documents for already-embedded queries (``(n_q, d)`` float32, L2-normalised)."""
        return self._index.run(query_ids, query_vectors, self.doc_ids, top_k)
