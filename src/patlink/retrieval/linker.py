"""Retrieval with a trained linker (``patlink train``): same interface as the BM25 and dense retrievers.

``direction="item2patent"``: queries are items (item encoder), documents patents (patent encoder);
``"patent2item"`` the reverse. Scores are cosine similarities of the L2-normalised embeddings, in [-1, 1].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from patlink.retrieval.base import Run, top_k_run

__all__ = ["LinkerRetriever", "resolve_model_dir"]


def resolve_model_dir(run_dir: str | Path) -> Path:
    """The saved model inside a run folder (``run/best``) or the model folder itself.

    Raises:
        ValueError: if neither holds ``linker.json``.
    """
    p = Path(run_dir)
    for cand in (p, p / "best", p / "model"):
        if (cand / "linker.json").is_file():
            return cand
    raise ValueError(f"{p} holds no trained linker (expected {p}/best/linker.json from `patlink train`)")


class LinkerRetriever:
    """Index documents with one encoder of a trained :class:`~patlink.models.linker.Linker`, query with the other.

    Args:
        run_dir: output folder of ``patlink train`` (or its ``best/`` model folder).
        direction: ``item2patent`` or ``patent2item``.
        batch_size: texts per encoder forward pass.
        store: optional token-embedding provider (default: the model's backbone cache).
    """

    def __init__(self, run_dir: str | Path, direction: str = "item2patent", batch_size: int = 256, store=None,
                 show_progress: bool = False):
        from patlink.models.linker import Linker

        if direction not in ("item2patent", "patent2item"):
            raise ValueError(f"direction must be item2patent or patent2item, got {direction!r}")
        self.run_dir = Path(run_dir)
        self.model_dir = resolve_model_dir(run_dir)
        self.model = Linker.load(self.model_dir, store=store)
        self.direction = direction
        self.batch_size = batch_size
        self.name = f"linker:{self.run_dir.name}"
        self.doc_ids: list[str] = []
        self.doc_emb: np.ndarray | None = None
        run_json = self.run_dir / "run.json"
        self.run_info = json.loads(run_json.read_text()) if run_json.is_file() else {}

    def _encode(self, side: str, texts: list[str]) -> np.ndarray:
        m = self.model
        return m.encode_items(texts, self.batch_size) if side == "item" else m.encode_patents(texts, self.batch_size)

    @property
    def _doc_side(self) -> str:
        return "patent" if self.direction == "item2patent" else "item"

    @property
    def _query_side(self) -> str:
        return "item" if self.direction == "item2patent" else "patent"

    def index(self, docs: dict[str, str]) -> None:
        """Embed the documents (patents for ``item2patent``). Raises ``ValueError`` on an empty corpus."""
        if not docs:
            raise ValueError("cannot index an empty corpus")
        self.doc_ids = list(docs)
        self.doc_emb = self._encode(self._doc_side, [docs[d] for d in self.doc_ids])

    def index_sets(self, docs: dict[str, Sequence[str]]) -> None:
        """Index patents given as SETS of texts (e.g. the descriptions of their linked training products), for
        patents without text (``honeywell-vpm``). Only for ``item2patent`` retrieval of patents."""
        if self.direction != "item2patent":
            raise ValueError("index_sets encodes patents: use direction='item2patent'")
        if not docs:
            raise ValueError("cannot index an empty corpus")
        self.doc_ids = list(docs)
        self.doc_emb = self.model.encode_patent_sets([list(docs[d]) for d in self.doc_ids], self.batch_size)

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        """Cosine similarity of every query to every indexed document: ``(n_q, n_d)`` float32."""
        if self.doc_emb is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        q = self._encode(self._query_side, [queries[i] for i in qids])
        return qids, self.doc_ids, (q @ self.doc_emb.T).astype(np.float32, copy=False)

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        """Top-``top_k`` documents per query (ranx-style run)."""
        qids, dids, S = self.score_matrix(queries)
        return top_k_run(qids, dids, S, top_k)
