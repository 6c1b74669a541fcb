"""Trainable encoders over frozen token embeddings (``000_be1f183eef23b85e.txt`` §3.2).

``token embeddings (b, L, d_in) + mask (b, L)``
→ multi-head attention pooling with ``n_queries`` learned query vectors (padding masked)
→ concatenation of the pooled queries, linear projection to ``hidden``
→ ``n_blocks`` residual feed-forward blocks ``x + Dropout(SiLU(LayerNorm(Linear(x))))``
→ linear projection to ``out_dim`` → L2 normalisation.

Because attention pooling is permutation-invariant over its keys, the same module encodes a *set* of token
sequences (their concatenation, each token masked as usual): this is how a patent without text is represented by the
texts of its linked products.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AttentionPooling", "ResidualFFN", "TextEncoder"]


class AttentionPooling(nn.Module):
    """Multi-head attention pooling with learned queries.

    Args:
        d_in: token embedding size. n_heads: attention heads (must divide ``d_in``). n_queries: learned queries.

    Shapes:
        ``forward(x (b, L, d_in) float, mask (b, L) bool True = real token) -> (b, n_queries * d_in)``.
        Rows with no real token return zeros (no NaN).
    """

    def __init__(self, d_in: int, n_heads: int = 4, n_queries: int = 2, dropout: float = 0.0):
        super().__init__()
        if d_in % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide the token embedding size {d_in}")
        self.queries = nn.Parameter(torch.randn(n_queries, d_in) * d_in ** -0.5)
        self.norm = nn.LayerNorm(d_in)
        self.attn = nn.MultiheadAttention(d_in, n_heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        empty = ~mask.any(dim=1)
        key_padding = ~mask
        if bool(empty.any()):  # avoid all -inf softmax rows: let empty rows attend to position 0 (zeroed below)
            key_padding = key_padding.clone()
            key_padding[empty, 0] = False
        kv = self.norm(x)
        q = self.queries.unsqueeze(0).expand(b, -1, -1)
        pooled, _ = self.attn(q, kv, kv, key_padding_mask=key_padding, need_weights=False)
        pooled = pooled.masked_fill(empty[:, None, None], 0.0)
        return pooled.reshape(b, -1)


class ResidualFFN(nn.Module):
    """``x + Dropout(SiLU(LayerNorm(Linear(x))))``; shape-preserving ``(b, h) -> (b, h)``."""

    def __init__(self, hidden: int, dropout: float = 0.1):
        super().__init__()
        self.lin = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(F.silu(self.norm(self.lin(x))))


class TextEncoder(nn.Module):
    """Attention pooling + residual FFN blocks + L2 norm (one side of the dual encoder).

    Args:
        d_in: backbone token size (384 for MiniLM, 768 for PaECTER). hidden: width of the FFN blocks.
        out_dim: embedding size. n_heads / n_queries: attention pooling. n_blocks: residual blocks.
        dropout: dropout of the blocks.

    Shapes:
        ``forward(x (b, L, d_in) float32, mask (b, L) bool) -> (b, out_dim)`` float32, rows L2-normalised.
    """

    def __init__(self, d_in: int, hidden: int = 384, out_dim: int = 256, n_heads: int = 4, n_queries: int = 2,
                 n_blocks: int = 2, dropout: float = 0.1):
        super().__init__()
        self.pool = AttentionPooling(d_in, n_heads, n_queries)
        self.proj = nn.Linear(n_queries * d_in, hidden)
        self.blocks = nn.Sequential(*[ResidualFFN(hidden, dropout) for _ in range(n_blocks)])
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.proj(self.pool(x, mask)))
        return F.normalize(self.out(h), dim=-1)
