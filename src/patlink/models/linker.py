"""The trained dual-encoder linker (``000_be1f183eef23b85e.txt`` §3.2): item encoder + patent encoder.

Saved as ``model.safetensors`` (weights) + ``linker.json`` (shapes, backbone, temperature): no pickle.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from patlink.models.encoders import TextEncoder
from patlink.training.config import EncoderConfig

__all__ = ["Linker"]

_CONFIG = "linker.json"
_WEIGHTS = "model.safetensors"


class Linker(nn.Module):
    """Two :class:`~patlink.models.encoders.TextEncoder` (separate weights) over a frozen backbone's tokens.

    Args:
        config: :class:`~patlink.training.config.EncoderConfig`.
        d_in: backbone token size (384 for MiniLM).
        temperature: τ used in training (kept for scoring/calibration).
        store: a :class:`~patlink.models.token_cache.TokenEmbeddingStore`-like object (``encode``/``pad_batch``);
            created on first use from ``config.backbone`` / ``config.max_length`` when None.
    """

    def __init__(self, config: EncoderConfig, d_in: int, temperature: float = 0.05, store=None):
        super().__init__()
        self.config = config
        self.d_in = int(d_in)
        self.temperature = float(temperature)
        kw = dict(hidden=config.hidden, out_dim=config.out_dim, n_heads=config.n_heads,
                  n_queries=config.n_queries, n_blocks=config.n_blocks, dropout=config.dropout, init=config.init)
        self.item_encoder = TextEncoder(self.d_in, **kw)
        self.patent_encoder = TextEncoder(self.d_in, **kw)
        self._store = store

    # ------------------------------------------------------------------ tokens
    @property
    def store(self):
        if self._store is None:
            from patlink.models.token_cache import TokenEmbeddingStore

            self._store = TokenEmbeddingStore(self.config.backbone, self.config.max_length,
                                              max_chunks=self.config.max_chunks)
        return self._store

    def set_store(self, store) -> None:
        """Replace the token-embedding provider (tests inject fixtures)."""
        self._store = store

    def encode_arrays(self, side: str, arrays: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Encode token arrays with the ``item`` or ``patent`` encoder in eval mode, no gradient.

        Returns ``(n, out_dim)`` float32, L2-normalised (zero rows for arrays with no token). Arrays are batched by
        length (little padding).
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
                out[idx] = enc(x, m).numpy()
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
    def save(self, directory: str | Path) -> Path:
        """Write ``linker.json`` + ``model.safetensors`` into ``directory`` atomically. Returns the folder."""
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().clone() for k, v in self.state_dict().items()}
        tmp = d / f".{_WEIGHTS}.{os.getpid()}.tmp"
        save_file(state, str(tmp))
        os.replace(tmp, d / _WEIGHTS)
        meta = {"format": "patlink-linker/1", "encoder": asdict(self.config), "d_in": self.d_in,
                "temperature": self.temperature}
        tmpj = d / f".{_CONFIG}.{os.getpid()}.tmp"
        tmpj.write_text(json.dumps(meta, indent=2))
        os.replace(tmpj, d / _CONFIG)
        return d

    @classmethod
    def load(cls, directory: str | Path, store=None) -> "Linker":
        """Load a model written by :meth:`save`. Raises ``ValueError`` if the folder is not a saved linker."""
        from safetensors.torch import load_file

        d = Path(directory)
        if not (d / _CONFIG).is_file() or not (d / _WEIGHTS).is_file():
            raise ValueError(f"{d} is not a saved linker (needs {_CONFIG} and {_WEIGHTS})")
        meta = json.loads((d / _CONFIG).read_text())
        model = cls(EncoderConfig(**meta["encoder"]), meta["d_in"], meta.get("temperature", 0.05), store=store)
        model.load_state_dict(load_file(str(d / _WEIGHTS)))
        model.eval()
        return model

    def n_parameters(self) -> dict[str, int]:
        """Trainable parameters per encoder."""
        return {"item_encoder": sum(p.numel() for p in self.item_encoder.parameters()),
                "patent_encoder": sum(p.numel() for p in self.patent_encoder.parameters())}
