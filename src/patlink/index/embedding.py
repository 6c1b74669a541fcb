"""Embed a corpus into a memory-mapped ``.npy`` file chunk by chunk, resumably.

The vectors of a saved index are written straight to disk (``np.lib.format.open_memmap``), so memory stays at one
chunk whatever the corpus size, and a progress record is committed after every chunk: an interrupted build
continues from the last finished chunk instead of starting again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from patlink.io import atomic_write_text

__all__ = ["embed_to_file", "texts_digest"]


def texts_digest(texts: Sequence[str]) -> str:
    """SHA-1 over the texts in order (identifies what a partial file was being computed for)."""
    h = hashlib.sha1()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def embed_to_file(texts: Sequence[str], encode: Callable[[list[str]], np.ndarray], path: str | os.PathLike, *,
                  key: str = "", chunk: int = 4096, show_progress: bool = True, desc: str = "embedding") -> np.ndarray:
    """Write ``encode(texts)`` to ``path`` (a ``.npy`` file) and return it memory-mapped read-only.

    Args:
        texts: the texts, in row order.
        encode: embeds a list of texts → ``(len, d)`` float32 (e.g. :meth:`patlink.methods.Dense.encode_documents`).
        path: the final file; while it is computed, ``<path>.partial.npy`` and ``<path>.progress.json`` sit next to
            it. A partial file computed for the same ``texts`` and ``key`` is resumed; any other is discarded.
        key: what else identifies the vectors (model, max length …), recorded with the progress.
        chunk: texts per committed step.
        show_progress: a tqdm bar over texts.

    Returns:
        ``(len(texts), d)`` float32 ``np.memmap`` (mode ``r``).

    Raises:
        ValueError: ``texts`` is empty, or ``encode`` returns the wrong number of rows or a changing width.
    """
    from tqdm.auto import tqdm

    path = Path(path)
    if not texts:
        raise ValueError("nothing to embed")
    partial = path.with_name(path.name + ".partial.npy")
    progress = path.with_name(path.name + ".progress.json")
    state = {"n": len(texts), "digest": texts_digest(texts), "key": key, "done": 0}
    mm = None
    if partial.is_file() and progress.is_file():
        try:
            old = json.loads(progress.read_text())
        except json.JSONDecodeError:
            old = {}
        if all(old.get(k) == state[k] for k in ("n", "digest", "key")):
            try:
                mm = np.load(partial, mmap_mode="r+")
                state["done"] = int(old.get("done", 0))
            except (ValueError, OSError):
                mm = None
    if mm is None:
        partial.unlink(missing_ok=True)
        progress.unlink(missing_ok=True)
    bar = tqdm(total=len(texts), initial=state["done"], desc=desc, unit="text", disable=not show_progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    for s in range(state["done"], len(texts), chunk):
        part = list(texts[s:s + chunk])
        vecs = np.asarray(encode(part), dtype=np.float32)
        if vecs.ndim != 2 or len(vecs) != len(part):
            raise ValueError(f"the encoder returned shape {vecs.shape} for {len(part)} texts")
        if mm is None:
            mm = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(len(texts), vecs.shape[1]))
        elif vecs.shape[1] != mm.shape[1]:
            raise ValueError(f"the encoder returned width {vecs.shape[1]}, earlier chunks {mm.shape[1]}")
        mm[s:s + len(part)] = vecs
        mm.flush()
        state["done"] = s + len(part)
        atomic_write_text(progress, json.dumps(state))
        bar.update(len(part))
    bar.close()
    del mm
    os.replace(partial, path)
    progress.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")
