"""REINFORCE hard-negative policies (El Bouari & de Rassenfosse, *Product-Patent linkage prediction*, §3.4).

An :class:`Adversary` maps a query embedding (a patent for the *item adversary*, an item for the *patent
adversary*) to logits over a fixed discrete action set (all training items, resp. all training patents). Negatives
are drawn from the masked distribution without replacement by Gumbel top-k; the policy is trained with

    L_adv(i) = -1/|H_i| sum_{j in H_i} (R_i(j) - b_i) log pi_i(j),   R_i(j) = S_ij (detached),
    b_i = mean_{j in H_i} R_i(j)   (per-query baseline)

All operations are batched tensor ops; the only Python loop is over the queries of a batch when ``exclusive`` (a
negative drawn for one query is masked for the following ones), each iteration a single ``topk``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Adversary", "build_mask", "gumbel_topk", "reinforce_loss"]


class Adversary(nn.Module):
    """Policy network ``query embedding (b, d) -> logits (b, n_actions)``: Linear, SiLU, Linear."""

    def __init__(self, d: int, n_actions: int, hidden: int = 256):
        super().__init__()
        if n_actions < 1:
            raise ValueError("an adversary needs at least one action (training document)")
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.SiLU(), nn.Linear(hidden, n_actions))
        nn.init.zeros_(self.net[-1].weight)  # start uniform: exploration first (§3.4)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return self.net(q)


def build_mask(n_queries: int, n_actions: int, positives: list[list[int]] | None = None,
               in_batch: list[int] | torch.Tensor | None = None, device=None) -> torch.Tensor:
    """Allowed-action mask ``(n_queries, n_actions)`` bool: False on each query's positives and on in-batch actions.

    Args:
        positives: for each query, the action indices linked to it (never drawn as negatives).
        in_batch: action indices already in the batch (masked for every query).
    """
    mask = torch.ones(n_queries, n_actions, dtype=torch.bool, device=device)
    if in_batch is not None and len(in_batch):
        mask[:, torch.as_tensor(in_batch, dtype=torch.long, device=device)] = False
    if positives:
        rows = [r for r, ps in enumerate(positives) for _ in ps]
        cols = [c for ps in positives for c in ps]
        if rows:
            mask[torch.tensor(rows, device=device), torch.tensor(cols, device=device)] = False
    return mask


def gumbel_topk(logits: torch.Tensor, mask: torch.Tensor, k: int, exclusive: bool = False,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample ``k`` distinct allowed actions per row from ``softmax(logits)`` restricted to ``mask``.

    Gumbel top-k: ``argtop_k(logits + Gumbel noise)`` over the allowed entries is an exact sample without
    replacement (Kool et al., 2019).

    Args:
        logits: ``(b, n)`` float. mask: ``(b, n)`` bool, True = allowed. k: samples per row.
        exclusive: also forbid, for row r, everything drawn for rows < r (no duplicates across the batch).
        generator: optional torch RNG.

    Returns:
        ``(b, k)`` long indices; ``-1`` where a row ran out of allowed actions.
    """
    b, n = logits.shape
    if k <= 0:
        return torch.empty(b, 0, dtype=torch.long, device=logits.device)
    u = torch.rand(b, n, generator=generator, device=logits.device).clamp_(1e-20, 1.0)
    scores = logits.detach() - torch.log(-torch.log(u))
    scores = scores.masked_fill(~mask, float("-inf"))
    if not exclusive:
        vals, idx = scores.topk(min(k, n), dim=1)
        idx = idx.masked_fill(torch.isinf(vals), -1)
    else:
        idx = torch.full((b, min(k, n)), -1, dtype=torch.long, device=logits.device)
        taken = torch.zeros(n, dtype=torch.bool, device=logits.device)
        for r in range(b):
            row = scores[r].masked_fill(taken, float("-inf"))
            vals, top = row.topk(min(k, n))
            top = top[~torch.isinf(vals)]
            idx[r, : top.numel()] = top
            taken[top] = True
    if idx.shape[1] < k:
        idx = torch.cat([idx, idx.new_full((b, k - idx.shape[1]), -1)], dim=1)
    return idx


def reinforce_loss(logits: torch.Tensor, mask: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE loss with a per-query baseline (§3.4).

    Args:
        logits: ``(b, n)`` policy logits (with gradient). mask: ``(b, n)`` allowed actions (the policy is the
            softmax over allowed actions). actions: ``(b, k)`` sampled indices, ``-1`` = none.
        rewards: ``(b, k)`` rewards ``R_i(j) = S_ij`` (detached inside).

    Returns:
        ``(loss, mean_reward)``: scalar loss averaged over queries with at least one action, and the mean
        reward of the sampled negatives (for logging).
    """
    valid = actions >= 0
    if not bool(valid.any()):
        z = logits.sum() * 0.0
        return z, z.detach()
    logp = F.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=1)
    lp = logp.gather(1, actions.clamp(min=0))                                   # (b, k)
    r = rewards.detach()
    n = valid.sum(dim=1).clamp(min=1)
    baseline = (r * valid).sum(dim=1, keepdim=True) / n[:, None]               # per-query mean reward
    adv = (r - baseline) * valid
    per_q = -(adv * lp.masked_fill(~valid, 0.0)).sum(dim=1) / n
    has = valid.any(dim=1)
    return per_q[has].mean(), (r * valid).sum() / valid.sum()
