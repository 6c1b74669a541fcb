"""sentence-transformers modules that run a trained patlink linker (used by exported folders, see
:mod:`patlink.models.export`).

An exported folder is a ``SentenceTransformer`` whose only top-level module is a ``Router`` with two routes that
share one backbone::

    query    (items)   : LinkerTokens -> LinkerHead(side="item")
    document (patents) : LinkerTokens -> LinkerHead(side="patent")

:class:`LinkerTokens` is the frozen backbone (a sentence-transformers ``Transformer``) that, like patlink's token
cache (:class:`patlink.models.token_cache.TokenEmbeddingStore`), reads a long text as up to ``max_chunks`` windows of
``max_length - 2`` tokens (each run through the backbone with its own special tokens, their token embeddings
concatenated). :class:`LinkerHead` rounds the token embeddings to the dtype patlink caches them in (float16) and
applies one :class:`~patlink.models.encoders.TextEncoder` (attention pooling, residual blocks, L2 norm). The class
paths ``patlink.models.st_modules.LinkerTokens`` / ``.LinkerHead`` are written in the folder's
``router_config.json``; sentence-transformers imports them from the installed patlink.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from sentence_transformers.base.modules import Module, Transformer

from patlink.models.encoders import TextEncoder

__all__ = ["LinkerHead", "LinkerTokens"]


class LinkerTokens(Transformer):
    """The frozen backbone of a linker: token embeddings of texts read as up to ``max_chunks`` windows.

    Args:
        model_name_or_path: the backbone folder (or hub name); see ``sentence_transformers`` ``Transformer``.
        max_chunks: windows per text (1 = truncation at ``max_seq_length`` tokens, the backbone's own behaviour).
        **kwargs: passed to ``Transformer``.

    Shapes:
        ``forward`` adds ``token_embeddings (b, L, d)`` and an ``attention_mask (b, L)`` over the real tokens of
        each text; with windows, ``L`` is the longest concatenation of a text's windows (``<= max_chunks *
        max_seq_length``), special tokens of every window included, exactly the arrays patlink's token cache holds.
    """

    config_keys: ClassVar[list[str]] = [*Transformer.config_keys, "max_chunks"]

    def __init__(self, model_name_or_path: str, *, max_chunks: int = 1, **kwargs):
        super().__init__(model_name_or_path, **kwargs)
        if int(max_chunks) < 1:
            raise ValueError(f"max_chunks must be >= 1, got {max_chunks}")
        self.max_chunks = int(max_chunks)

    def __repr__(self) -> str:
        return f"LinkerTokens(max_chunks={self.max_chunks}, max_seq_length={self.max_seq_length}, " \
               f"architecture={self.model.__class__.__name__})"

    def _spans(self, text: str) -> list[tuple[int, int]]:
        # the character spans of the backbone's own tokens (patlink.data.chunking.token_spans, with this tokenizer)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                             verbose=False)
        return [(a, b) for a, b in enc["offset_mapping"] if b > a]

    def windows(self, text: str) -> list[str]:
        """The windows ``text`` is read as (:func:`patlink.data.chunking.backbone_chunks` with this tokenizer)."""
        from patlink.data.chunking import chunk_text

        if self.max_chunks == 1:
            return [text]
        return chunk_text(text, self.max_seq_length - 2, 0, self._spans)[: self.max_chunks] or [text]

    def preprocess(self, inputs, prompt: str | None = None, **kwargs) -> dict[str, Any]:
        """Tokenize the texts (their windows with ``max_chunks > 1``); ``window_counts`` records the windows of
        each text. Raises ``ValueError`` for inputs that are not strings when windows are used."""
        if self.max_chunks == 1:
            return super().preprocess(inputs, prompt=prompt, **kwargs)
        if not all(isinstance(t, str) for t in inputs):
            raise ValueError("a linker reading texts as windows takes strings only")
        texts = [(prompt or "") + t for t in inputs]
        windows = [self.windows(t) for t in texts]
        features = super().preprocess([w for ws in windows for w in ws], **kwargs)
        features["window_counts"] = torch.tensor([len(ws) for ws in windows], dtype=torch.long)
        return features

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        counts = features.pop("window_counts", None)
        features = super().forward(features, **kwargs)
        if counts is None:
            return features
        emb, mask = features["token_embeddings"], features["attention_mask"].bool()
        n_windows = emb.shape[0]
        per_text, pos = [], 0
        for c in counts.tolist():
            per_text.append(torch.cat([emb[w][mask[w]] for w in range(pos, pos + c)], dim=0))
            pos += c
        L = max(t.shape[0] for t in per_text)
        out = emb.new_zeros((len(per_text), L, emb.shape[-1]))
        new_mask = torch.zeros((len(per_text), L), dtype=features["attention_mask"].dtype, device=emb.device)
        for i, t in enumerate(per_text):
            out[i, : t.shape[0]] = t
            new_mask[i, : t.shape[0]] = 1
        for k in [k for k, v in features.items() if torch.is_tensor(v) and v.ndim and v.shape[0] == n_windows]:
            del features[k]   # per-window inputs (input_ids …) no longer match the batch of texts
        features["token_embeddings"], features["attention_mask"] = out, new_mask
        return features


class LinkerHead(Module):
    """One encoder of a trained linker (the item or the patent encoder) as a sentence-transformers module.

    Args:
        side: ``item`` | ``patent`` (which encoder of the linker the weights are; informational).
        d_in, hidden, out_dim, n_heads, n_queries, n_blocks, dropout, init: the
            :class:`~patlink.models.config.EncoderConfig` shape (see :class:`~patlink.models.encoders.TextEncoder`).
        token_dtype: dtype the token embeddings are rounded to before pooling: ``float16`` (what patlink's token
            cache stores, so the embeddings equal patlink's) or ``float32`` (no rounding).

    Shapes:
        reads ``token_embeddings (b, L, d_in)`` + ``attention_mask (b, L)``; writes ``sentence_embedding
        (b, out_dim)`` float32, L2-normalised.
    """

    config_keys: ClassVar[list[str]] = ["side", "d_in", "hidden", "out_dim", "n_heads", "n_queries", "n_blocks", "dropout",
                                        "init", "token_dtype"]
    config_file_name = "linker_head.json"

    def __init__(self, side: str, d_in: int, hidden: int, out_dim: int, n_heads: int, n_queries: int,
                 n_blocks: int, dropout: float = 0.1, init: str = "backbone", token_dtype: str = "float16"):
        super().__init__()
        if side not in ("item", "patent"):
            raise ValueError(f"side must be item or patent, got {side!r}")
        if token_dtype not in ("float16", "float32"):
            raise ValueError(f"token_dtype must be float16 or float32, got {token_dtype!r}")
        self.side, self.d_in, self.hidden, self.out_dim = side, int(d_in), int(hidden), int(out_dim)
        self.n_heads, self.n_queries, self.n_blocks = int(n_heads), int(n_queries), int(n_blocks)
        self.dropout, self.init, self.token_dtype = float(dropout), init, token_dtype
        self.encoder = TextEncoder(self.d_in, hidden=self.hidden, out_dim=self.out_dim, n_heads=self.n_heads,
                                   n_queries=self.n_queries, n_blocks=self.n_blocks, dropout=self.dropout,
                                   init=init)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        x = features["token_embeddings"]
        if self.token_dtype == "float16":
            x = x.to(torch.float16)
        x = x.to(torch.float32)
        features["sentence_embedding"] = self.encoder(x, features["attention_mask"].bool())
        return features

    def get_embedding_dimension(self) -> int:
        return self.out_dim

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token: bool | str | None = None,
             cache_folder: str | None = None, revision: str | None = None, local_files_only: bool = False,
             **kwargs) -> LinkerHead:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        model = cls(**cls.load_config(model_name_or_path, **hub))
        cls.load_torch_weights(model_name_or_path, model=model, **hub)
        return model
