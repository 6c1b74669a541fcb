"""Frozen-backbone token embeddings, computed once and memory-mapped from disk.

The trained linker (El Bouari & de Rassenfosse, "Product-Patent linkage prediction", §3.2) pools the *token*
embeddings of a frozen pretrained sentence-transformers model. Running the backbone is by far the most expensive
part of training, so the token embeddings of every text are computed once and stored as float16 in append-only
shard files (``CACHE`` is the ``cache_dir`` argument, default :func:`patlink.config.default_cache_dir`):

``CACHE/tokens/<model>__L<max_length>/``
    ``index.sqlite``  table ``tok(key TEXT PRIMARY KEY, shard TEXT, start INT, n INT)`` keyed by SHA-1 of the text;
    ``<shard>.npy``   one ``(n_tokens_total, d)`` float16 array per written chunk, opened with ``mmap_mode="r"``.

With ``max_chunks > 1`` a long text is cut into consecutive windows of ``max_length - 2`` tokens
(:func:`patlink.data.chunking.backbone_chunks`), each window is cached as its own text, and the text's array is
the concatenation of its windows' token embeddings (``<= max_chunks * max_length`` tokens): attention pooling then
sees the whole text, not its first 256 tokens.

A shard is written to a temporary file and moved into place with :func:`os.replace` *before* its index rows are
committed, so an interrupted run never leaves an index row pointing at a partial file, and a restarted run only
computes the texts whose keys are missing (resumable).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from patlink.config import resolve_cache_dir

__all__ = ["TokenEmbeddingStore", "pad_batch"]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def pad_batch(arrays: Sequence[np.ndarray], max_tokens: int | None = None):
    """Stack variable-length token arrays into a padded batch.

    Args:
        arrays: ``b`` arrays of shape ``(n_tokens_i, d)`` (any float dtype, e.g. float16 memmaps).
        max_tokens: optional cap on the padded length ``L`` (longer arrays are truncated).

    Returns:
        ``(x, mask)``: ``x`` is a ``(b, L, d)`` float32 tensor, zero where padded; ``mask`` a ``(b, L)`` bool tensor,
        True on real tokens. ``L = max(n_tokens_i)`` (at least 1).

    Raises:
        ValueError: if ``arrays`` is empty or the arrays disagree on ``d``.
    """
    import torch

    if len(arrays) == 0:
        raise ValueError("pad_batch needs at least one array")
    d = arrays[0].shape[1]
    if any(a.ndim != 2 or a.shape[1] != d for a in arrays):
        raise ValueError("pad_batch: all arrays must have shape (n_tokens, d) with the same d")
    lengths = [a.shape[0] if max_tokens is None else min(a.shape[0], max_tokens) for a in arrays]
    L = max(1, max(lengths))
    x = np.zeros((len(arrays), L, d), dtype=np.float32)
    mask = np.zeros((len(arrays), L), dtype=bool)
    for b, (a, n) in enumerate(zip(arrays, lengths)):
        x[b, :n] = a[:n]
        mask[b, :n] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


class TokenEmbeddingStore:
    """Disk cache of a frozen model's token embeddings (float16, memory-mapped, resumable).

    Args:
        model: sentence-transformers model name or path (``minilm`` = bundled offline MiniLM; see
            :func:`patlink.config.resolve_model_path`).
        max_length: tokens kept per text (the backbone truncates longer texts), including special tokens.
        cache_dir: patlink cache root; the store is ``cache_dir/tokens/<model>__L<max_length>/`` (``None``:
            :func:`patlink.config.default_cache_dir`). The folder is created.
        batch_size: texts per backbone forward pass.
        chunk_size: texts per shard (one atomic write + one index commit).
        show_progress: tqdm bar while computing missing texts.
        max_chunks: windows of ``max_length`` tokens kept per text (1 = truncate, the backbone's own behaviour).
        device: where the backbone runs for missing texts: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or
            ``auto`` (:func:`patlink.devices.resolve_device`, resolved when the first text is computed). The
            stored arrays are float16 whichever device computed them (they agree across devices to float16
            rounding), so one store serves every device.

    Example:
        >>> store = TokenEmbeddingStore("minilm", max_length=128)
        >>> arrays = store.encode(["a valve", "a pump"])      # [(n1, 384) float16, (n2, 384) float16]
        >>> x, mask = store.pad_batch(arrays)                  # (2, L, 384) float32, (2, L) bool
    """

    def __init__(self, model: str = "minilm", max_length: int = 256, cache_dir: str | Path | None = None, *,
                 batch_size: int = 32, chunk_size: int = 512, show_progress: bool = True,
                 max_chunks: int = 1, device: str = "cpu"):
        from patlink.devices import check_device_spec
        from patlink.models.backbone import model_id

        if max_length < 2:
            raise ValueError(f"max_length must be >= 2 tokens, got {max_length}")
        if max_chunks < 1:
            raise ValueError(f"max_chunks must be >= 1, got {max_chunks}")
        self.model = model
        self.max_length = int(max_length)
        self.max_chunks = int(max_chunks)
        self.device = check_device_spec(device)
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.show_progress = show_progress
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_id(model))[-80:]
        self.path = resolve_cache_dir(cache_dir) / "tokens" / f"{slug}__L{self.max_length}"
        self.path.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path / "index.sqlite", timeout=60)
        self._db.execute("CREATE TABLE IF NOT EXISTS tok (key TEXT PRIMARY KEY, shard TEXT, start INT, n INT)")
        self._db.commit()
        self._shards: dict[str, np.ndarray] = {}
        self.dim: int | None = None

    # ------------------------------------------------------------------ internals
    def _lookup(self, keys: Sequence[str]) -> dict[str, tuple[str, int, int]]:
        out: dict[str, tuple[str, int, int]] = {}
        uniq = list(dict.fromkeys(keys))
        for s in range(0, len(uniq), 900):
            chunk = uniq[s:s + 900]
            q = f"SELECT key, shard, start, n FROM tok WHERE key IN ({','.join('?' * len(chunk))})"
            for k, shard, start, n in self._db.execute(q, chunk):
                out[k] = (shard, start, n)
        return out

    def _shard(self, name: str) -> np.ndarray:
        if name not in self._shards:
            self._shards[name] = np.load(self.path / f"{name}.npy", mmap_mode="r")
        return self._shards[name]

    def _compute(self, texts: list[str]) -> list[np.ndarray]:
        from patlink.models.backbone import load_sentence_model

        st = load_sentence_model(self.model, self.device)
        st.max_seq_length = self.max_length
        out = st.encode(texts, batch_size=self.batch_size, output_value="token_embeddings",
                        convert_to_numpy=False, show_progress_bar=False)
        return [o.detach().float().cpu().numpy().astype(np.float16) for o in out]

    def _write_shard(self, keys: list[str], arrays: list[np.ndarray]) -> None:
        name = hashlib.sha1("".join(keys).encode()).hexdigest()[:20]
        flat = np.concatenate(arrays, axis=0).astype(np.float16, copy=False)
        tmp = self.path / f".{name}.{os.getpid()}.tmp.npy"
        try:   # an error or Ctrl-C while saving leaves no partial temporary file behind
            np.save(tmp, flat)
            os.replace(tmp, self.path / f"{name}.npy")
        finally:
            tmp.unlink(missing_ok=True)
        rows, start = [], 0
        for k, a in zip(keys, arrays):
            rows.append((k, name, start, int(a.shape[0])))
            start += int(a.shape[0])
        self._db.executemany("INSERT OR REPLACE INTO tok VALUES (?, ?, ?, ?)", rows)
        self._db.commit()

    # ------------------------------------------------------------------ public
    def missing(self, texts: Sequence[str]) -> list[str]:
        """The distinct texts (windows, with ``max_chunks > 1``) whose token embeddings are not cached yet."""
        if self.max_chunks > 1:
            texts = [w for ws in self._windows(texts) for w in ws]
        keys = {_sha1(t): t for t in texts}
        found = self._lookup(list(keys))
        return [t for k, t in keys.items() if k not in found]

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token embeddings of each text, computing (and caching) the missing ones.

        Args:
            texts: the texts (empty strings allowed: they get the special tokens only).

        Returns:
            One read-only ``(n_tokens_i, d)`` float16 array per text (a view into a memory-mapped shard),
            ``n_tokens_i <= max_length``; with ``max_chunks > 1`` the concatenation of the text's windows (a copy
            in memory), ``n_tokens_i <= max_chunks * max_length``.
        """
        if self.max_chunks == 1:
            return self._encode_windows(texts)
        windows = self._windows(texts)
        flat = self._encode_windows([w for ws in windows for w in ws])
        out, pos = [], 0
        for ws in windows:
            part = flat[pos:pos + len(ws)]
            pos += len(ws)
            out.append(part[0] if len(part) == 1 else np.concatenate(part, axis=0))
        return out

    def _windows(self, texts: Sequence[str]) -> list[list[str]]:
        from patlink.data.chunking import backbone_chunks

        return [backbone_chunks(t, self.model, self.max_length, self.max_chunks) for t in texts]

    def _encode_windows(self, texts: Sequence[str]) -> list[np.ndarray]:
        from tqdm.auto import tqdm

        keys = [_sha1(t) for t in texts]
        found = self._lookup(keys)
        todo = {k: t for k, t in zip(keys, texts) if k not in found}
        if todo:
            order = sorted(todo, key=lambda k: -len(todo[k]))  # longest first: little padding per batch
            bar = tqdm(total=len(order), desc=f"token embeddings ({self.model})", unit="text",
                       disable=not self.show_progress)
            for s in range(0, len(order), self.chunk_size):
                ks = order[s:s + self.chunk_size]
                arrays = self._compute([todo[k] for k in ks])
                self._write_shard(ks, arrays)
                bar.update(len(ks))
            bar.close()
            found = self._lookup(keys)
        out = []
        for k in keys:
            shard, start, n = found[k]
            out.append(self._shard(shard)[start:start + n])
        if out:
            self.dim = int(out[0].shape[1])
        return out

    @staticmethod
    def pad_batch(arrays: Sequence[np.ndarray], max_tokens: int | None = None):
        """See :func:`pad_batch`."""
        return pad_batch(arrays, max_tokens)

    def close(self) -> None:
        """Close the index connection and drop the memory maps."""
        self._shards.clear()
        self._db.close()
