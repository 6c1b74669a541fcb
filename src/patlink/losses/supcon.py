"""Bidirectional supervised contrastive loss of El Bouari & de Rassenfosse, *Product-Patent linkage prediction* §3.3
(eqs. 1–4).

Input format::

    P    (n, d) float  L2-normalised item (product) embeddings
    Q    (m, d) float  L2-normalised patent embeddings
    pos  (n, m) bool   pos[i, j] = True iff item i is linked to patent j (every other pair is a negative)
    tau  float > 0     temperature

    S = P @ Q.T / tau                                                                   (eq. 1)
    L_item(i)   = -1/|P_i| sum_{j in P_i} log( exp(S_ij) / sum_{k in N_i} exp(S_ik) )    (eq. 2)
    L_patent(j) = -1/|P_j| sum_{i in P_j} log( exp(S_ij) / sum_{k in N_j} exp(S_kj) )    (eq. 3)
    L = 1/2 ( mean_i L_item(i) + mean_j L_patent(j) )                                    (eq. 4)

``denominator="negatives"`` is the paper's formula (the sum runs over the negatives only). ``denominator="all"``
is the upstream code's variant (standard SupCon of Khosla et al.): log-sum-exp over the whole row/column, positives
included, so every term is a proper log-probability (<= 0).

The means of eq. 4 run over the rows (columns) that can be scored: at least one positive, and — for the
``negatives`` denominator — at least one negative ("for each product i that has at least one positive and negative
patent in the batch", §3.3.1). Rows of extra hard negatives (no positive in the batch) add no term of their own but
appear in the denominators of the others. If no row and no column can be scored the loss is 0 (with a graph).
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["supcon_loss", "supcon_from_logits"]

Denominator = Literal["negatives", "all"]


def _directional(S: torch.Tensor, pos: torch.Tensor, denominator: Denominator) -> tuple[torch.Tensor, int]:
    """Sum over scorable rows of the per-row loss, and the number of scorable rows. ``S``: (r, c) logits."""
    neg_inf = torch.finfo(S.dtype).min
    n_pos = pos.sum(dim=1)
    if denominator == "negatives":
        den_mask = ~pos
        valid = (n_pos > 0) & (den_mask.sum(dim=1) > 0)
    elif denominator == "all":
        den_mask = torch.ones_like(pos)
        valid = n_pos > 0
    else:
        raise ValueError(f"denominator must be 'negatives' or 'all', got {denominator!r}")
    if not bool(valid.any()):
        return S.sum() * 0.0, 0
    Sv, pv, dv = S[valid], pos[valid], den_mask[valid]
    log_den = torch.logsumexp(Sv.masked_fill(~dv, neg_inf), dim=1)            # (r',)
    pos_sum = (Sv * pv).sum(dim=1)                                             # sum_j in P_i S_ij
    per_row = -(pos_sum / pv.sum(dim=1) - log_den)                             # eq. 2 / eq. 3
    return per_row.sum(), int(valid.sum())


def supcon_from_logits(S: torch.Tensor, pos: torch.Tensor, denominator: Denominator = "negatives",
                       S_patent: torch.Tensor | None = None) -> dict:
    """Eqs. 2–4 on a precomputed logit matrix ``S = P Q^T / tau`` of shape ``(n, m)``.

    ``S_patent`` (same shape, optional): separate logits for the patent→item term (eq. 3), e.g. when a
    direction-dependent prior is added to each direction (:mod:`patlink.training.lexical`); default ``S``.

    Returns:
        dict with ``loss`` (scalar tensor, eq. 4), ``item_loss`` and ``patent_loss`` (detached means of eqs. 2
        and 3), ``n_item_rows`` / ``n_patent_cols`` (number of scored rows/columns).

    Raises:
        ValueError: on shape mismatch or an unknown ``denominator``.
    """
    if S.shape != pos.shape or S.dim() != 2:
        raise ValueError(f"S {tuple(S.shape)} and pos {tuple(pos.shape)} must be the same (n, m) shape")
    if S_patent is not None and S_patent.shape != S.shape:
        raise ValueError(f"S_patent {tuple(S_patent.shape)} must have the shape of S {tuple(S.shape)}")
    pos = pos.to(torch.bool)
    s_i, n_i = _directional(S, pos, denominator)
    s_p, n_p = _directional((S if S_patent is None else S_patent).T, pos.T, denominator)
    item = s_i / max(n_i, 1)
    patent = s_p / max(n_p, 1)
    parts = [t for t, n in ((item, n_i), (patent, n_p)) if n > 0]
    loss = 0.5 * (item + patent) if len(parts) == 2 else (parts[0] if parts else S.sum() * 0.0)
    return {"loss": loss, "item_loss": item.detach(), "patent_loss": patent.detach(),
            "n_item_rows": n_i, "n_patent_cols": n_p}


def supcon_loss(P: torch.Tensor, Q: torch.Tensor, pos: torch.Tensor, tau: float = 0.05,
                denominator: Denominator = "negatives") -> torch.Tensor:
    """Bidirectional supervised contrastive loss (eq. 4). See the module docstring for the input format.

    Args:
        P: ``(n, d)`` item embeddings (L2-normalised). Q: ``(m, d)`` patent embeddings (L2-normalised).
        pos: ``(n, m)`` bool positive mask. tau: temperature (> 0).
        denominator: ``"negatives"`` (paper, eqs. 2–3) or ``"all"`` (upstream: whole row).

    Returns:
        Scalar loss tensor (differentiable w.r.t. ``P`` and ``Q``). When only one direction has scorable rows,
        the loss is that direction's mean (if several positives and negatives exist both directions count).
    """
    if tau <= 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    return supcon_from_logits(P @ Q.T / tau, pos, denominator)["loss"]
