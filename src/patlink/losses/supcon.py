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
from torch import nn

__all__ = ["SupConLoss", "supcon_from_logits", "supcon_loss"]

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


class SupConLoss(nn.Module):
    """Bidirectional supervised contrastive loss with in-batch negatives and multi-positive masks.

    Every item of a batch is scored against every patent of the batch (plus any extra negative items/patents
    appended to the embeddings): all pairs the training graph does not link are negatives, and an item linked to
    several patents of the batch has several positives (and vice versa). The loss is the mean of the item→patent
    term (eq. 2, one row per item) and the patent→item term (eq. 3, one column per patent), see the module
    docstring for the formulas and the ``denominator`` variants.

    Args:
        temperature: τ of eq. 1 (> 0); the logits are ``cos / τ``.
        denominator: ``"negatives"`` (the paper's eqs. 2–3, the sum runs over the negatives only) or ``"all"``
            (standard SupCon, Khosla et al., "Supervised Contrastive Learning": the whole row/column).

    References:
        - El Bouari & de Rassenfosse, "Product-Patent linkage prediction", §3.3 (eqs. 1–4).
        - Khosla et al., "Supervised Contrastive Learning" (NeurIPS 2020), for the ``all`` denominator.

    Inputs:
        +--------------------------+----------------------+---------------------------------------------------+
        | argument                 | shape                | meaning                                           |
        +==========================+======================+===================================================+
        | ``items``                | ``(n, d)`` float     | L2-normalised item embeddings (rows)              |
        +--------------------------+----------------------+---------------------------------------------------+
        | ``patents``              | ``(m, d)`` float     | L2-normalised patent embeddings (columns)         |
        +--------------------------+----------------------+---------------------------------------------------+
        | ``positives``            | ``(n, m)`` bool      | True where item i is linked to patent j           |
        +--------------------------+----------------------+---------------------------------------------------+
        | ``item_prior`` (opt.)    | ``(n, m)`` float     | added to the logits of the item→patent term       |
        +--------------------------+----------------------+---------------------------------------------------+
        | ``patent_prior`` (opt.)  | ``(n, m)`` float     | added to the logits of the patent→item term       |
        +--------------------------+----------------------+---------------------------------------------------+

        The priors carry a direction-dependent additive term such as the BM25 prior of residual training
        (:mod:`patlink.training.lexical`), already multiplied by its weight.

    Returns:
        ``forward``: the scalar loss (eq. 4), differentiable w.r.t. both embeddings; 0 (with a graph) when no row
        or column can be scored. :meth:`terms` returns the dict of :func:`supcon_from_logits` (both directions'
        means and the number of scored rows/columns).

    Raises:
        ValueError: ``temperature <= 0``, an unknown ``denominator``, or mismatched shapes.

    Example:
        ::

            loss_fn = SupConLoss(temperature=0.05)
            P = F.normalize(torch.randn(4, 8), dim=1)      # 4 items
            Q = F.normalize(torch.randn(3, 8), dim=1)      # 3 patents
            pos = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.bool)
            loss = loss_fn(P, Q, pos)
            loss.backward()
    """

    def __init__(self, temperature: float = 0.05, denominator: Denominator = "negatives"):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature tau must be > 0, got {temperature}")
        if denominator not in ("negatives", "all"):
            raise ValueError(f"denominator must be 'negatives' or 'all', got {denominator!r}")
        self.temperature = float(temperature)
        self.denominator: Denominator = denominator

    def terms(self, items: torch.Tensor, patents: torch.Tensor, positives: torch.Tensor,
              item_prior: torch.Tensor | None = None, patent_prior: torch.Tensor | None = None) -> dict:
        """The loss and its parts (:func:`supcon_from_logits`) for the inputs of the class docstring."""
        S = items @ patents.T / self.temperature
        S_patent = None
        if patent_prior is not None:
            S_patent = S + patent_prior
        if item_prior is not None:
            S = S + item_prior
        return supcon_from_logits(S, positives, self.denominator, S_patent)

    def forward(self, items: torch.Tensor, patents: torch.Tensor, positives: torch.Tensor,
                item_prior: torch.Tensor | None = None, patent_prior: torch.Tensor | None = None) -> torch.Tensor:
        return self.terms(items, patents, positives, item_prior, patent_prior)["loss"]

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, denominator={self.denominator!r}"
