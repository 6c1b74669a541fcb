"""The trained dual-encoder linker (El Bouari & de Rassenfosse, "Product-Patent linkage prediction", §3.2): item
encoder + patent encoder over a frozen backbone's token embeddings.

A saved linker is a self-describing folder (no pickle)::

    model.safetensors   the weights of both encoders
    linker.json         {"format": "patlink-linker/2",
                         "backbone": real name or path of the frozen model (never a patlink alias),
                         "max_length": tokens per window, "max_chunks": windows per text,
                         "temperature": τ, "item_view": [...], "patent_view": [...] (training text views),
                         "fusion": BM25 fusion weights tuned on validation, or null,
                         "d_in": backbone token size, "encoder": the encoder shape (EncoderConfig)}

Folders of format ``patlink-linker/1`` (no settings) still load: their views come from the run's ``run.json`` and
their fusion weights from its ``fusion.json`` when present. :func:`read_settings` reads the settings without the
weights; :meth:`Linker.load` takes a model folder or the ``patlink train`` run folder holding it in ``best/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from patlink.config import canonical_model_name
from patlink.io import atomic_write_json
from patlink.models.config import EncoderConfig, FusionWeights, LinkerSettings, normalize_view
from patlink.models.encoders import TextEncoder

__all__ = ["FORMAT", "Linker", "read_settings", "record_fusion", "resolve_model_dir"]

#: Format tag written in ``linker.json``; ``patlink-linker/1`` (no recorded settings) is still read.
FORMAT = "patlink-linker/2"
_FORMATS = ("patlink-linker/1", FORMAT)
_CONFIG = "linker.json"
_WEIGHTS = "model.safetensors"
_SETTINGS_IN_CONFIG = ("backbone", "max_length", "max_chunks")   # EncoderConfig fields recorded as settings


def resolve_model_dir(path: str | Path) -> Path:
    """The saved model folder of ``path``: ``path`` itself, or its ``best/`` (a ``patlink train`` run) or ``model/``.

    Raises:
        ValueError: if none of them holds ``linker.json`` and ``model.safetensors``.
    """
    p = Path(path)
    for cand in (p, p / "best", p / "model"):
        if (cand / _CONFIG).is_file() and (cand / _WEIGHTS).is_file():
            return cand
    raise ValueError(f"{p} is not a trained linker: expected {_CONFIG} and {_WEIGHTS} in it or in {p}/best "
                     "(written by `patlink train`)")


def _legacy_run_dirs(model_dir: Path) -> list[Path]:
    """Folders that may hold the run files (run.json, fusion.json) of a model folder: itself, and its run folder
    when it is the run's ``best/`` (or ``model/``)."""
    return [model_dir] + ([model_dir.parent] if model_dir.name in ("best", "model") else [])


def _read_json(path: Path) -> dict:
    try:
        out = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from e
    if not isinstance(out, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return out


def _parse(model_dir: Path) -> tuple[EncoderConfig, int, LinkerSettings]:
    """Encoder shape, backbone token size and settings recorded in ``model_dir/linker.json`` (either format)."""
    meta = _read_json(model_dir / _CONFIG)
    fmt = meta.get("format", "patlink-linker/1")
    if fmt not in _FORMATS:
        raise ValueError(f"{model_dir / _CONFIG}: unknown format {fmt!r} (this patlink reads {', '.join(_FORMATS)})")
    enc = dict(meta.get("encoder") or {})
    known = {f.name for f in fields(EncoderConfig)}
    unknown = set(enc) - known
    if unknown:
        raise ValueError(f"{model_dir / _CONFIG}: unknown encoder key(s) {sorted(unknown)}")
    if fmt == FORMAT:
        for k in _SETTINGS_IN_CONFIG:
            if k in meta:
                enc[k] = meta[k]
        config = EncoderConfig(**enc)
        fusion = FusionWeights.from_dict(meta["fusion"]) if meta.get("fusion") else None
        settings = LinkerSettings(backbone=str(meta.get("backbone", config.backbone)), max_length=config.max_length,
                                  max_chunks=config.max_chunks, temperature=float(meta.get("temperature", 0.05)),
                                  item_view=normalize_view(meta.get("item_view")),
                                  patent_view=normalize_view(meta.get("patent_view")), fusion=fusion)
        return config, int(meta["d_in"]), settings
    # patlink-linker/1: shapes only; the views and fusion weights lived in the run folder
    config = EncoderConfig(**enc)
    item_view = patent_view = None
    fusion = None
    for d in _legacy_run_dirs(model_dir):
        if item_view is None and patent_view is None and (d / "run.json").is_file():
            run = _read_json(d / "run.json")
            item_view, patent_view = normalize_view(run.get("item_view")), normalize_view(run.get("patent_view"))
        if fusion is None and (d / "fusion.json").is_file():
            fusion = FusionWeights.from_dict(_read_json(d / "fusion.json"))
    settings = LinkerSettings(backbone=canonical_model_name(config.backbone), max_length=config.max_length,
                              max_chunks=config.max_chunks, temperature=float(meta.get("temperature", 0.05)),
                              item_view=item_view, patent_view=patent_view, fusion=fusion)
    return config, int(meta["d_in"]), settings


def read_settings(path: str | Path) -> LinkerSettings:
    """The :class:`~patlink.models.config.LinkerSettings` of a saved linker, without loading its weights.

    Args:
        path: a model folder or a ``patlink train`` run folder (its ``best/``).

    Raises:
        ValueError: not a trained linker, or an unreadable ``linker.json``.
    """
    return _parse(resolve_model_dir(path))[2]


def _write_meta(directory: Path, config: EncoderConfig, d_in: int, settings: LinkerSettings) -> None:
    shape = {k: v for k, v in asdict(config).items() if k not in _SETTINGS_IN_CONFIG}
    meta = {"format": FORMAT, **settings.to_dict(), "d_in": int(d_in), "encoder": shape}
    atomic_write_json(directory / _CONFIG, meta)


def record_fusion(path: str | Path, fusion: FusionWeights | Mapping[str, Any] | None) -> Path:
    """Record BM25 fusion weights in a saved linker's ``linker.json`` (rewritten atomically, weights untouched).

    Args:
        path: a model folder or a ``patlink train`` run folder.
        fusion: :class:`~patlink.models.config.FusionWeights`, a ``fusion.json``-style dict, or ``None`` to clear.

    Returns:
        The model folder. A ``patlink-linker/1`` folder is upgraded to the current format on the way.

    Raises:
        ValueError: not a trained linker, or a fusion record without ``alpha`` / with α outside [0, 1].
    """
    d = resolve_model_dir(path)
    config, d_in, settings = _parse(d)
    if fusion is not None and not isinstance(fusion, FusionWeights):
        fusion = FusionWeights.from_dict(fusion)
    _write_meta(d, config, d_in, replace(settings, fusion=fusion))
    return d


class Linker(nn.Module):
    """Two :class:`~patlink.models.encoders.TextEncoder` (separate weights) over a frozen backbone's tokens.

    Args:
        config: :class:`~patlink.models.config.EncoderConfig` (shape, backbone, tokens per window, windows).
        d_in: backbone token size (384 for MiniLM).
        temperature: τ used in training (kept for scoring/calibration).
        store: a :class:`~patlink.models.token_cache.TokenEmbeddingStore`-like object (``encode``/``pad_batch``);
            created on first use from ``config.backbone`` / ``config.max_length`` / ``config.max_chunks`` when None,
            on the linker's :attr:`device` (where the backbone then runs).
        item_view / patent_view: the text views the linker is trained on (recorded in :attr:`settings`).
        fusion: BM25 fusion weights tuned on validation (:class:`~patlink.models.config.FusionWeights`).
    """

    def __init__(self, config: EncoderConfig, d_in: int, temperature: float = 0.05, store=None, *,
                 item_view: str | Sequence[str] | None = None, patent_view: str | Sequence[str] | None = None,
                 fusion: FusionWeights | None = None):
        super().__init__()
        self.config = config
        self.d_in = int(d_in)
        self.temperature = float(temperature)
        self.item_view = normalize_view(item_view)
        self.patent_view = normalize_view(patent_view)
        self.fusion = fusion
        kw = dict(hidden=config.hidden, out_dim=config.out_dim, n_heads=config.n_heads,
                  n_queries=config.n_queries, n_blocks=config.n_blocks, dropout=config.dropout, init=config.init)
        self.item_encoder = TextEncoder(self.d_in, **kw)
        self.patent_encoder = TextEncoder(self.d_in, **kw)
        self._store = store

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> LinkerSettings:
        """The inference settings of this linker (what ``linker.json`` records besides the encoder shape)."""
        c = self.config
        return LinkerSettings(backbone=canonical_model_name(c.backbone), max_length=c.max_length,
                              max_chunks=c.max_chunks, temperature=self.temperature, item_view=self.item_view,
                              patent_view=self.patent_view, fusion=self.fusion)

    def check_views(self, item_view: str | Sequence[str] | None = None,
                    patent_view: str | Sequence[str] | None = None
                    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """The views to read texts with: see :meth:`patlink.models.config.LinkerSettings.check_views` (the recorded
        training views when none is given; an explicit, different view is used with a ``UserWarning``)."""
        return self.settings.check_views(item_view, patent_view)

    # ------------------------------------------------------------------ tokens
    @property
    def device(self) -> str:
        """The device of the encoders' weights (``cpu``, ``cuda:0`` …); move them with ``.to(device)``."""
        return str(next(self.parameters()).device)

    @property
    def store(self):
        if self._store is None:
            from patlink.models.token_cache import TokenEmbeddingStore

            self._store = TokenEmbeddingStore(self.config.backbone, self.config.max_length,
                                              max_chunks=self.config.max_chunks, device=self.device)
        return self._store

    def set_store(self, store) -> None:
        """Replace the token-embedding provider (tests inject fixtures)."""
        self._store = store

    def encode_arrays(self, side: str, arrays: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Encode token arrays with the ``item`` or ``patent`` encoder in eval mode, no gradient.

        Returns ``(n, out_dim)`` float32, L2-normalised (zero rows for arrays with no token), computed in float32
        on the linker's :attr:`device` and returned on the CPU. Arrays are batched by length (little padding).
        """
        from patlink.models.token_cache import pad_batch

        enc = self.item_encoder if side == "item" else self.patent_encoder
        out = np.zeros((len(arrays), self.config.out_dim), dtype=np.float32)
        if not len(arrays):
            return out
        order = np.argsort([-a.shape[0] for a in arrays], kind="stable")
        was = self.training
        self.eval()
        with torch.no_grad():
            for s in range(0, len(order), batch_size):
                idx = order[s:s + batch_size]
                x, m = pad_batch([arrays[i] for i in idx])
                out[idx] = enc(x, m).float().cpu().numpy()
        self.train(was)
        empty = [i for i, a in enumerate(arrays) if a.shape[0] == 0]
        out[empty] = 0.0  # no tokens (an empty set): a zero vector that matches nothing
        return out

    def encode_items(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embed item texts: ``(n, out_dim)`` float32, L2-normalised (cosine = dot product)."""
        return self.encode_arrays("item", self.store.encode(list(texts)), batch_size)

    def encode_patents(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embed patent texts: ``(n, out_dim)`` float32, L2-normalised."""
        return self.encode_arrays("patent", self.store.encode(list(texts)), batch_size)

    def set_arrays(self, text_sets: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Concatenated token arrays of each set of texts (capped at ``config.max_set_tokens`` tokens)."""
        flat = [t for s in text_sets for t in s]
        arrays = self.store.encode(flat) if flat else []
        out, pos = [], 0
        d = self.d_in
        for s in text_sets:
            part = arrays[pos:pos + len(s)]
            pos += len(s)
            cat = np.concatenate(part, axis=0)[: self.config.max_set_tokens] if part else np.zeros((0, d), np.float16)
            out.append(cat)
        return out

    def encode_patent_sets(self, text_sets: Sequence[Sequence[str]], batch_size: int = 64) -> np.ndarray:
        """Embed each patent as the SET of texts linked to it (e.g. its training products' descriptions).

        Attention pooling runs over the concatenated tokens of the set (order-invariant). An empty set gives a
        zero vector (it matches nothing). Returns ``(n_sets, out_dim)`` float32.
        """
        return self.encode_arrays("patent", self.set_arrays(text_sets), batch_size)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, *, item_view: str | Sequence[str] | None = None,
             patent_view: str | Sequence[str] | None = None) -> Path:
        """Write ``model.safetensors`` + ``linker.json`` (format ``patlink-linker/2``) into ``directory``, each
        atomically. Returns the folder.

        Args:
            item_view / patent_view: the training text views; when given they replace the recorded ones (the
                trainer passes the dataset's views), otherwise the linker's own are written.
        """
        from safetensors.torch import save_file

        if item_view is not None:
            self.item_view = normalize_view(item_view)
        if patent_view is not None:
            self.patent_view = normalize_view(patent_view)
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()}
        tmp = d / f".{_WEIGHTS}.{os.getpid()}.tmp"
        try:
            save_file(state, str(tmp))
            os.replace(tmp, d / _WEIGHTS)
        finally:
            tmp.unlink(missing_ok=True)
        _write_meta(d, self.config, self.d_in, self.settings)
        return d

    @classmethod
    def load(cls, path: str | Path, store=None, device: str = "cpu") -> Linker:
        """Load a linker written by :meth:`save`, with its recorded settings (:attr:`settings`).

        Args:
            path: the model folder, or a ``patlink train`` run folder (its ``best/`` is loaded).
            store: token-embedding provider (default: one built from the recorded backbone / windows, on
                ``device``).
            device: where the encoders (and the default store's backbone) run: ``cpu`` (default), ``cuda``,
                ``cuda:N``, ``mps`` or ``auto`` (:func:`patlink.devices.resolve_device`).

        Raises:
            ValueError: if the folder is not a saved linker (the message names the files expected), or the
                device does not exist here.
        """
        from safetensors.torch import load_file

        from patlink.devices import resolve_device

        device = resolve_device(device)
        d = resolve_model_dir(path)
        config, d_in, settings = _parse(d)
        model = cls(config, d_in, settings.temperature, store=store, item_view=settings.item_view,
                    patent_view=settings.patent_view, fusion=settings.fusion)
        model.load_state_dict(load_file(str(d / _WEIGHTS)))
        model.to(device)
        model.eval()
        return model

    def n_parameters(self) -> dict[str, int]:
        """Trainable parameters per encoder."""
        return {"item_encoder": sum(p.numel() for p in self.item_encoder.parameters()),
                "patent_encoder": sum(p.numel() for p in self.patent_encoder.parameters())}
