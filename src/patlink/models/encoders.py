"""Trainable encoders over frozen token embeddings (El Bouari & de Rassenfosse, *Product-Patent linkage
prediction*, §3.2).

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
    """Multi-head attention pooling with learned queries, in O(L·d) per query.

    Standard multi-head attention with a learned query ``q`` computes, for head ``h``,
    ``softmax_t((q W_q^h)·(x_t W_k^h) / sqrt(d_h)) · (x_t W_v^h)``. Because the query is a constant,
    ``(q W_q^h)·(x_t W_k^h) = x_t · u_h`` with ``u_h = W_k^h (q W_q^h)^T`` (the key bias is constant over ``t`` and
    cancels in the softmax), and the value projection commutes with the weighted sum. So each (query, head) learns
    a score vector ``u`` in token space, takes the softmax-weighted mean of the (layer-normed) tokens and projects
    it afterwards: the same function class as ``nn.MultiheadAttention`` with learned queries, without projecting
    every token (the ``L·d²`` key/value projections dominated training time).

    Args:
        d_in: token embedding size. n_heads: heads (must divide ``d_in``). n_queries: learned queries.

    Shapes:
        ``forward(x (b, L, d_in) float, mask (b, L) bool True = real token) -> (b, n_queries * d_in)``.
        Rows with no real token return zeros (no NaN). ``attention(x, mask) -> (b, n_queries, n_heads, L)``.
    """

    def __init__(self, d_in: int, n_heads: int = 4, n_queries: int = 2, dropout: float = 0.0,
                 init: str = "backbone"):
        super().__init__()
        if d_in % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide the token embedding size {d_in}")
        self.n_heads, self.n_queries, self.d_head = n_heads, n_queries, d_in // n_heads
        self.norm = nn.LayerNorm(d_in)
        self.scores = nn.Parameter(torch.randn(n_queries * n_heads, d_in) * d_in ** -0.5)   # the u vectors
        self.value = nn.Linear(d_in, d_in)    # W_v, applied per head slice after pooling
        self.out = nn.Linear(d_in, d_in)      # W_o, mixes the heads of each query
        self.init = init
        if init == "backbone":  # uniform attention, identity value/output: every query = mean pooling at start
            with torch.no_grad():
                self.scores.zero_()
                for lin in (self.value, self.out):
                    lin.weight.copy_(torch.eye(d_in))
                    lin.bias.zero_()
        elif init != "random":
            raise ValueError(f"init must be 'backbone' or 'random', got {init!r}")

    def attention(self, x: torch.Tensor, mask: torch.Tensor, normed: bool = False) -> torch.Tensor:
        kv = x if normed else self.norm(x)
        logits = torch.einsum("bld,qd->bql", kv, self.scores)                 # (b, Q*H, L)
        logits = logits.masked_fill(~mask[:, None, :], float("-inf"))
        empty = ~mask.any(dim=1)
        if bool(empty.any()):
            logits = logits.masked_fill(empty[:, None, None], 0.0)
        return torch.softmax(logits, dim=-1).view(x.shape[0], self.n_queries, self.n_heads, -1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        kv = self.norm(x)
        att = self.attention(kv, mask, normed=True).reshape(b, self.n_queries * self.n_heads, -1)
        # scores from layer-normed tokens; values are the raw backbone tokens (so that uniform attention is the
        # backbone's own mean pooling)
        pooled = torch.bmm(att, x if self.init == "backbone" else kv)                                 # (b, Q*H, d): weighted token means
        pooled = pooled.view(b, self.n_queries, self.n_heads, -1)
        # value projection per head: head h keeps its slice of W_v applied to its own weighted mean
        W = self.value.weight.view(self.n_heads, self.d_head, -1)             # (H, d_h, d)
        heads = torch.einsum("bqhd,hkd->bqhk", pooled, W) + self.value.bias.view(self.n_heads, self.d_head)
        out = self.out(heads.reshape(b, self.n_queries, -1))                  # (b, Q, d)
        out = out.masked_fill((~mask.any(dim=1))[:, None, None], 0.0)
        return out.reshape(b, -1)


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

    ``z = skip(pool_1(x)) + out(blocks(proj(pool(x))))``, ``e = z / ||z||``: the residual path ``skip`` from the
    first pooled query keeps the pretrained sentence embedding reachable. With ``init="backbone"`` (default)
    the pooling starts as mean pooling, ``skip`` as the identity (or a random orthogonal map when
    ``out_dim != d_in``) and ``out`` as zero, so the untrained encoder *is* the frozen backbone's sentence embedding
    (mean pooling + L2 norm, as in MiniLM/PaECTER) and training starts from the zero-shot model instead of from
    noise. ``init="random"`` is the paper's plain random initialisation.

    Args:
        d_in: backbone token size (384 for MiniLM, 768 for PaECTER). hidden: width of the FFN blocks.
        out_dim: embedding size. n_heads / n_queries: attention pooling. n_blocks: residual blocks.
        dropout: dropout of the blocks. init: ``backbone`` | ``random``.

    Shapes:
        ``forward(x (b, L, d_in) float32, mask (b, L) bool) -> (b, out_dim)`` float32, rows L2-normalised (under
        :func:`patlink.devices.autocast`, the autocast dtype), on the encoder's device: ``x`` and ``mask`` are moved
        there first (a no-op when they already are, e.g. on the CPU).
    """

    def __init__(self, d_in: int, hidden: int = 384, out_dim: int = 256, n_heads: int = 4, n_queries: int = 2,
                 n_blocks: int = 2, dropout: float = 0.1, init: str = "backbone"):
        super().__init__()
        self.d_in = d_in
        self.pool = AttentionPooling(d_in, n_heads, n_queries, init=init)
        self.proj = nn.Linear(n_queries * d_in, hidden)
        self.blocks = nn.Sequential(*[ResidualFFN(hidden, dropout) for _ in range(n_blocks)])
        self.out = nn.Linear(hidden, out_dim)
        self.skip = nn.Linear(d_in, out_dim, bias=False)
        if init == "backbone":
            with torch.no_grad():
                if out_dim == d_in:
                    self.skip.weight.copy_(torch.eye(d_in))
                else:
                    nn.init.orthogonal_(self.skip.weight)
                self.out.weight.zero_()
                self.out.bias.zero_()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        device = self.proj.weight.device
        x, mask = x.to(device, non_blocking=True), mask.to(device, non_blocking=True)
        pooled = self.pool(x, mask)
        h = self.blocks(self.proj(pooled))
        return F.normalize(self.skip(pooled[:, : self.d_in]) + self.out(h), dim=-1)
