"""Multi-label losses on logits: BCE, the weighted BCE of Mueller & Stone (*Sparse Multi-label Patent
Classification with Deep Learning*) and focal loss.

All take ``logits`` and ``targets`` of shape (batch, n_labels) (float; targets in {0, 1}) and return a scalar
tensor, the mean over all batch × label entries (Keras ``K.mean`` in the paper's Listing 2). They work on logits
(``binary_cross_entropy_with_logits``) for numerical stability; in probability terms

* BCE (Appendix A): ``H = -mean[y log p + (1-y) log(1-p)]``
* weighted BCE (Appendix A, Listing 2): ``mean[w * bce]`` with ``w = alpha*y + (1-y)`` — the loss of a positive
  label (a would-be false negative) is multiplied by ``alpha`` (the paper uses ``alpha = 2``); negatives keep
  weight 1. ``alpha = 1`` is plain BCE.
* focal loss (Lin et al. 2018, cited by Mueller & Stone): ``mean[a_t (1 - p_t)^gamma bce]`` with
  ``p_t = p`` for positives, ``1-p`` for negatives and ``a_t = alpha`` / ``1-alpha`` when ``alpha`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["LossConfig", "bce_loss", "focal_loss", "make_loss", "weighted_bce_loss"]


def bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy (Mueller & Stone, Appendix A, ``H(y, ŷ)``)."""
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


def weighted_bce_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Weighted BCE of Mueller & Stone (Appendix A, Listing 2): positives weighted by ``alpha``, negatives by 1.

    Raises:
        ValueError: ``alpha`` ≤ 0.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    y = targets.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return (bce * (y * alpha + (1.0 - y))).mean()


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0,
               alpha: float | None = None) -> torch.Tensor:
    """Binary focal loss (Lin et al. 2018): ``mean[a_t (1-p_t)^gamma · bce]``; ``gamma = 0, alpha = None`` is BCE.

    Raises:
        ValueError: ``gamma`` < 0 or ``alpha`` outside (0, 1).
    """
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if alpha is not None and not 0 < alpha < 1:
        raise ValueError(f"focal alpha must be in (0, 1), got {alpha}")
    y = targets.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * y + (1 - p) * (1 - y)
    loss = (1 - p_t).pow(gamma) * bce
    if alpha is not None:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss.mean()


@dataclass
class LossConfig:
    """Which loss to train with.

    Attributes:
        name: ``bce``, ``wbce`` (weighted BCE of Mueller & Stone) or ``focal``.
        alpha: ``wbce``: weight of positive labels (``None`` → the paper's 2.0). ``focal``: class balance in (0, 1) or ``None``.
        gamma: focal-loss focusing parameter.
    """

    name: str = "wbce"
    alpha: float | None = None
    gamma: float = 2.0


def make_loss(cfg: LossConfig):
    """Return ``loss(logits, targets) -> scalar`` for ``cfg``. Raises ``ValueError`` on an unknown name."""
    name = cfg.name.lower()
    if name == "bce":
        return bce_loss
    if name in ("wbce", "weighted-bce", "weighted_bce"):
        alpha = 2.0 if cfg.alpha is None else float(cfg.alpha)
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        return lambda lo, y: weighted_bce_loss(lo, y, alpha)
    if name == "focal":
        a = cfg.alpha
        focal_loss(torch.zeros(1), torch.zeros(1), cfg.gamma, a)  # validate now: clear error before training
        return lambda lo, y: focal_loss(lo, y, cfg.gamma, a)
    raise ValueError(f"unknown loss {cfg.name!r}; choose bce, wbce or focal")
