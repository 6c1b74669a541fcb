"""A trained patlink linker (``patlink train``) as a :class:`~patlink.methods.base.Method`."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from patlink.methods.base import Direction, Method, _check_corpus
from patlink.retrieval.base import Run

__all__ = ["LinkerMethod", "is_linker_dir"]


def is_linker_dir(path: str | Path) -> bool:
    """True if ``path`` holds a trained linker (``linker.json``, in the folder or its ``best/``)."""
    p = Path(path)
    return (p / "linker.json").is_file() or (p / "best" / "linker.json").is_file()


class LinkerMethod(Method):
    """Rank with the dual encoder of El Bouari & de Rassenfosse, "Product-Patent linkage prediction": items
    through the item encoder, patents through the patent encoder, cosine of the L2-normalised embeddings (in
    [-1, 1]). Asymmetric: :meth:`for_direction` picks which encoder embeds the queries.

    Args:
        path: a run folder of ``patlink train`` (its ``best/`` model is used) or a model folder.
        batch_size: texts per encoder pass.
        device: where the encoders and the backbone run: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or
            ``auto`` (:func:`patlink.devices.resolve_device`, resolved when the model is first used).

    Raises:
        ValueError: ``path`` holds no trained linker, or the device does not exist here (when the model is first
            used); a device string of an unknown form (at once).
    """

    def __init__(self, path: str | Path, *, batch_size: int = 256, show_progress: bool = False,
                 device: str = "cpu"):
        from patlink.devices import check_device_spec

        self.path = Path(path)
        self.device = check_device_spec(device)
        self.batch_size = batch_size
        self.show_progress = show_progress
        self._engine = None

    @property
    def name(self) -> str:
        return f"linker:{self.path.name}"

    def _reset(self) -> None:
        self._engine = None

    def trained_paths(self) -> list[Path]:
        return [self.path]

    def with_subfolder(self, sub: str) -> LinkerMethod:
        inner = self.path / sub
        if inner.is_dir():
            m = copy.copy(self)
            m.path, m._engine = inner, None
            return m
        if is_linker_dir(self.path):
            return self  # one model for every fold: the leakage check refuses it where it saw the test links
        raise ValueError(f"{self.path} has no {sub}/ (train it with `patlink train --folds K [--repeats R]`)")

    @property
    def settings(self):
        """The :class:`patlink.models.config.LinkerSettings` recorded with the model (backbone, windows, training
        views, fusion weights), read without loading the weights."""
        from patlink.models.linker import read_settings

        return read_settings(self.path)

    def stored_fusion_alpha(self, direction: Direction) -> float | None:
        """The BM25 fusion weight of the linker tuned on validation after training (``None`` when not stored):
        the per-direction value when recorded, else the joint one
        (:meth:`patlink.models.config.LinkerSettings.fusion_alpha`)."""
        return self.settings.fusion_alpha(direction)

    def text_views(self) -> list[tuple]:
        return [(self.settings.item_view, self.settings.patent_view)] if is_linker_dir(self.path) else []

    @property
    def engine(self):
        if self._engine is None:
            from patlink.retrieval.linker import LinkerRetriever

            self._engine = LinkerRetriever(self.path, direction=self.direction, batch_size=self.batch_size,
                                           show_progress=self.show_progress, device=self.device)
        return self._engine

    @property
    def model(self):
        """The loaded :class:`patlink.models.linker.Linker`."""
        return self.engine.model

    def index(self, corpus: dict[str, str]) -> None:
        _check_corpus(corpus)
        self.engine.index(corpus)

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        return self.engine.score_matrix(queries)

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        return self.engine.search(queries, top_k)

    # ------------------------------------------------------------------ vector-method protocol (saved indexes)
    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings of documents of :attr:`direction` (patents for
        ``item2patent``: the patent encoder)."""
        return self.engine.encode_documents(texts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised query embeddings (the item encoder for ``item2patent``)."""
        return self.engine.encode_queries(texts)

    def attach(self, doc_ids: list[str], vectors: np.ndarray, ann=None) -> None:
        """Rank against precomputed document embeddings (a saved index) instead of :meth:`index`."""
        self.engine.attach(doc_ids, vectors, ann)

    def search_vectors(self, query_ids: list[str], query_vectors: np.ndarray, top_k: int = 100) -> Run:
        """Top-``top_k`` documents for queries embedded with :meth:`encode_queries`."""
        return self.engine.search_vectors(query_ids, query_vectors, top_k)
