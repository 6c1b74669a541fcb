"""A trained patlink linker (``patlink train``) as a :class:`~patlink.methods.base.Method`."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from patlink.methods.base import Direction, Method, _check_corpus, _matrix_search
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

    Raises:
        ValueError: ``path`` holds no trained linker (when the model is first used).
    """

    def __init__(self, path: str | Path, *, batch_size: int = 256, show_progress: bool = False):
        self.path = Path(path)
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
                                           show_progress=self.show_progress)
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
        return _matrix_search(self, queries, top_k)
