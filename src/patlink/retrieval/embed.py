"""Sentence embeddings with a persistent, resumable on-disk cache.

Vectors are cached in one SQLite file per (model, max length) under ``CACHE/embeddings/`` keyed by the SHA-1 of
the text (``CACHE`` is the ``cache_dir`` argument, default :func:`patlink.config.default_cache_dir`), committed every chunk: an interrupted run resumes where it stopped, and adding documents
embeds only the new ones. Texts are embedded longest-first in chunks (sentence-transformers also sorts inside a
batch), which minimises padding.

Within one process an :class:`EmbeddingMemo` keeps the vectors a command has already obtained (from the model or
from the SQLite file), so the methods of one command that embed the same texts (``dense``, the dense part of
``hybrid``, the fusions of a linker with ``dense``) read each text's vector at most once and never send a text
twice to the model, even with the disk cache off. The methods of :mod:`patlink.methods` share one memo per parsed
``--method`` list; pass ``memo=`` to share it further.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from patlink.config import resolve_cache_dir

__all__ = ["EmbeddingCache", "EmbeddingMemo", "embed_from_token_store", "encode_texts", "mean_pooling_model"]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """SQLite store ``sha1(text) → float32 vector`` for one (model, max_length, normalize) setting.

    Args:
        model: model name or path (the file is named after :func:`patlink.models.backbone.model_id`).
        max_length: tokens per text the vectors were computed with.
        normalize: whether the vectors are L2-normalised (raw vectors go to a ``_raw`` file).
        cache_dir: patlink cache root; the file is
            ``cache_dir/embeddings/<model>__L<max_length>[_raw][_amp].sqlite`` (``None``:
            :func:`patlink.config.default_cache_dir`). The folder is created.
        mixed_precision: the vectors were computed under :func:`patlink.devices.autocast` on a GPU (they differ
            from float32 ones by ~1e-3, so they get their own ``_amp`` file). float32 vectors from the CPU and from
            a GPU agree to ~1e-6 and share one file.
    """

    def __init__(self, model: str, max_length: int, normalize: bool = True,
                 cache_dir: str | Path | None = None, mixed_precision: bool = False):
        from patlink.models.backbone import model_id

        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_id(model))[-80:]
        root = resolve_cache_dir(cache_dir) / "embeddings"
        root.mkdir(parents=True, exist_ok=True)
        suffix = ('' if normalize else '_raw') + ('_amp' if mixed_precision else '')
        self.path = root / f"{slug}__L{max_length}{suffix}.sqlite"
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        keys = list(dict.fromkeys(keys))
        for s in range(0, len(keys), 900):
            chunk = keys[s:s + 900]
            q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})"
            for k, v in self._db.execute(q, chunk):
                out[k] = np.frombuffer(v, dtype=np.float32)
        return out

    def put(self, keys: Sequence[str], vecs: np.ndarray) -> None:
        self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                             [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vecs)])
        self._db.commit()


class EmbeddingMemo:
    """In-memory sentence vectors of one process, per setting: what the methods of one command share.

    Keys are ``(model id, max_length, normalize, mixed precision)`` (the setting of an :class:`EmbeddingCache`
    file; model ids from :func:`patlink.models.backbone.model_id`) and the SHA-1 of the text; values the
    ``(d,)`` float32 vectors, read-only. :func:`encode_texts` looks here first, then in the SQLite file, and only
    then runs the model; whatever it obtains it puts here. Nothing is evicted: a memo lives as long as the
    objects holding it (a command's methods), ~1.5 KiB per 384-d text.

    Attributes:
        hits: vectors served from memory so far. added: vectors put so far (from disk or from the model).

    Example:
        >>> memo = EmbeddingMemo()
        >>> a = encode_texts(["a valve"], memo=memo)   # the model (or the disk cache)
        >>> b = encode_texts(["a valve"], memo=memo)   # memory: no model, no SQLite
        >>> memo.hits
        1
    """

    def __init__(self) -> None:
        self._vectors: dict[tuple, dict[str, np.ndarray]] = {}
        self.hits = 0
        self.added = 0

    def get(self, setting: tuple, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of ``keys`` (text SHA-1s) held for ``setting``; missing keys are absent."""
        table = self._vectors.get(setting, {})
        out = {k: table[k] for k in dict.fromkeys(keys) if k in table}
        self.hits += len(out)
        return out

    def put(self, setting: tuple, vectors: dict[str, np.ndarray]) -> None:
        """Keep ``{text SHA-1: (d,) vector}`` for ``setting`` (stored read-only)."""
        table = self._vectors.setdefault(setting, {})
        for k, v in vectors.items():
            if k not in table:
                v = np.asarray(v, dtype=np.float32)
                v.flags.writeable = False
                table[k] = v
                self.added += 1

    def __len__(self) -> int:
        return sum(len(t) for t in self._vectors.values())


def _setting(model: str, max_length: int, normalize: bool, mixed_precision: bool) -> tuple:
    from patlink.models.backbone import model_id

    return (model_id(model), int(max_length), bool(normalize), bool(mixed_precision))


def encode_texts(
    texts: Sequence[str],
    model: str = "minilm",
    *,
    max_length: int = 256,
    batch_size: int = 64,
    normalize: bool = True,
    cache: bool = True,
    show_progress: bool = True,
    chunk_size: int = 1024,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    mixed_precision: bool = False,
    memo: EmbeddingMemo | None = None,
) -> np.ndarray:
    """Embed texts with a frozen sentence-transformers model.

    Args:
        texts: the texts; empty strings are embedded as the empty text (callers report them beforehand).
        model: model name or path (see :func:`patlink.config.resolve_model_path`).
        max_length: tokens kept per text (longer texts truncated), in model tokens.
        batch_size: texts per forward pass.
        normalize: L2-normalise the vectors (cosine similarity = dot product).
        cache: read/write the on-disk cache; an interrupted call resumes from it.
        show_progress: rich/tqdm progress bar over chunks.
        chunk_size: texts embedded between two cache commits.
        cache_dir: patlink cache root of the embedding cache (``None``: :func:`patlink.config.default_cache_dir`).
        device: where the model runs when a text is missing: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or
            ``auto`` (:func:`patlink.devices.resolve_device`). float32 vectors agree across devices to ~1e-6.
        mixed_precision: run the model under :func:`patlink.devices.autocast` (bfloat16/float16 on CUDA; ignored,
            float32, on the CPU and MPS); its vectors are cached apart (:class:`EmbeddingCache`).
        memo: an :class:`EmbeddingMemo` to read first and fill (``None``: none, every call reads the disk cache).

    Returns:
        ``(len(texts), d)`` float32 array, rows L2-normalised when ``normalize``.

    Raises:
        ValueError: the device does not exist here, or the model cannot be loaded.
    """
    from tqdm.auto import tqdm

    keys = [_sha1(t) for t in texts]
    if mixed_precision:
        from patlink.devices import amp_dtype, resolve_device

        mixed_precision = amp_dtype(resolve_device(device)) is not None   # float32 off CUDA: the plain cache
    setting = _setting(model, max_length, normalize, mixed_precision) if memo is not None else None
    found = memo.get(setting, keys) if memo is not None else {}
    store = None
    if cache and len(found) < len(set(keys)):
        store = EmbeddingCache(model, max_length, normalize, cache_dir, mixed_precision)
        from_disk = store.get([k for k in keys if k not in found])
        if memo is not None:
            memo.put(setting, from_disk)
        found.update(from_disk)
    missing = {k: t for k, t in zip(keys, texts) if k not in found}
    if missing:
        from patlink.devices import autocast, resolve_device
        from patlink.models.backbone import load_sentence_model

        device = resolve_device(device)
        st = load_sentence_model(model, device)
        st.max_seq_length = max_length
        order = sorted(missing, key=lambda k: -len(missing[k]))
        label = "/".join(str(model).rstrip("/").split("/")[-2:])
        bar = tqdm(total=len(order), desc=f"embedding ({label})", unit="text", disable=not show_progress)
        for s in range(0, len(order), chunk_size):
            ks = order[s:s + chunk_size]
            with autocast(device, enabled=mixed_precision):
                vecs = st.encode([missing[k] for k in ks], batch_size=batch_size, normalize_embeddings=normalize,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
            found.update(zip(ks, vecs))
            if memo is not None:
                memo.put(setting, dict(zip(ks, vecs)))
            if store:
                store.put(ks, vecs)
            bar.update(len(ks))
        bar.close()
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)


def mean_pooling_model(model: str, device: str = "cpu") -> bool:
    """True when ``model`` is Transformer → mean Pooling (→ Normalize), so its sentence embedding is the mean of its
    token embeddings (MiniLM, mpnet ``all-*``, PaECTER-style models); False for CLS/max pooling or extra layers.
    ``device``: where the model is loaded to be inspected (the copy :func:`encode_texts` on that device uses)."""
    from patlink.models.backbone import load_sentence_model

    st = load_sentence_model(model, device)
    names = [type(m).__name__ for m in st]
    if names[:2] != ["Transformer", "Pooling"] or any(n not in ("Normalize",) for n in names[2:]):
        return False
    pool = st[1]
    mode = getattr(pool, "pooling_mode", None) or pool.get_config_dict().get("pooling_mode")
    if mode is None:  # older sentence-transformers: one boolean per mode
        cfg = pool.get_config_dict()
        mode = "mean" if cfg.get("pooling_mode_mean_tokens") and sum(
            bool(v) for k, v in cfg.items() if k.startswith("pooling_mode_") and isinstance(v, bool)) == 1 else None
    return mode == "mean"


def embed_from_token_store(texts: Sequence[str], model: str = "minilm", *, max_length: int = 256,
                           normalize: bool = True, store=None, cache: bool = True,
                           show_progress: bool = True, cache_dir: str | Path | None = None,
                           device: str = "cpu") -> np.ndarray:
    """Sentence embeddings derived from the linker's token-embedding cache: one backbone pass serves both.

    For a mean-pooling model the sentence embedding is the mean of the token embeddings (then L2-normalised), so
    the vectors of :func:`encode_texts` can be computed from :class:`~patlink.models.token_cache.TokenEmbeddingStore`
    instead of running the backbone a second time (halves the cost of preparing a large corpus for both
    ``dense`` and a trained linker, e.g. the 46,920 ``api-patents`` distractors). The tokens are stored in float16,
    so vectors agree with :func:`encode_texts` to ~1e-3 (cosine ≥ 0.9999); they are written to the same
    embedding cache, so ``dense`` reuses them.

    Args:
        texts: the texts (missing token embeddings are computed and cached first).
        model: model name or path; must be a mean-pooling model (:func:`mean_pooling_model`).
        max_length: tokens per text, as in :func:`encode_texts` (truncation is the same: one window).
        normalize: L2-normalise (as :func:`encode_texts`).
        store: a ``TokenEmbeddingStore(model, max_length)`` to use (default: a new one with ``max_chunks=1`` in
            ``cache_dir``).
        cache: write the vectors to the embedding cache of ``(model, max_length, normalize)``.
        cache_dir: patlink cache root of the embedding cache and of the default token store (``None``:
            :func:`patlink.config.default_cache_dir`).
        device: where the backbone runs for missing token embeddings (the default store's device; see
            :func:`patlink.devices.resolve_device`).

    Returns:
        ``(len(texts), d)`` float32.

    Raises:
        ValueError: if the model does not mean-pool its token embeddings, or ``store`` has another model,
            ``max_length`` or windows.
    """
    from patlink.models.token_cache import TokenEmbeddingStore

    if not mean_pooling_model(model, device):
        raise ValueError(f"{model!r} does not mean-pool its token embeddings; use encode_texts")
    store = store or TokenEmbeddingStore(model, max_length=max_length, cache_dir=cache_dir,
                                         show_progress=show_progress, device=device)
    if (store.model, store.max_length, store.max_chunks) != (model, max_length, 1):
        raise ValueError(f"the token store is ({store.model}, L{store.max_length}, {store.max_chunks} windows); "
                         f"expected ({model}, L{max_length}, 1 window)")
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    keys = [_sha1(t) for t in texts]
    emb = EmbeddingCache(model, max_length, normalize, cache_dir) if cache else None
    found = emb.get(keys) if emb else {}
    todo = [t for k, t in dict(zip(keys, texts)).items() if k not in found]
    arrays = store.encode(todo)  # computes the missing token embeddings (resumable shards), else memory-maps them
    step = 4096
    for s in range(0, len(todo), step):
        part = todo[s:s + step]
        vecs = np.stack([a.astype(np.float32).mean(axis=0) for a in arrays[s:s + step]])
        if normalize:
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        ks = [_sha1(t) for t in part]
        found.update(zip(ks, vecs))
        if emb:
            emb.put(ks, vecs)
    return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
