"""Soft-kNN (NCA-style) loss for patents known by their member items (``set_scoring="members"``, honeywell-vpm new
products).

The ``knn`` / ``knn-linker`` scoring ranks a patent by the similarity of the query item to the patent's known
items. This loss trains that scoring directly, as Neighbourhood Components Analysis (Goldberger et al., 2004) does
for kNN classification, generalised to many labels per item: the query picks one known item ``m`` as its stochastic
neighbour with probability ``π_qm`` and "predicts" every patent of ``m``; the loss is the negative log-probability
that the neighbour carries each of the query's patents.

Input format::

    queries  (b, d) float  L2-normalised query-item embeddings (with gradient)
    members  (n, d) float  L2-normalised member-item embeddings (the patents' known items)
    link     (n, m) float  link[j, p] = 1 iff member j is linked to patent p
    target   (b, m) float  target[q, p] = 1 iff query q is linked to patent p and p can be predicted
                           (has a member other than q itself)
    self_idx (b,)   long   row of each query among the members, or -1 (leave-one-out: a query is never its own
                           neighbour)
    tau      float > 0     temperature

    π_qj     = softmax_j( cos(q, j) / tau )  over members j != q
    A_qp     = sum_{j linked to p} π_qj                         (soft kNN score of patent p, in [0, 1])
    L(q)     = -1/|T_q| sum_{p in T_q} log(A_qp + eps)          T_q = {p : target[q, p] = 1}
    L        = mean over queries with |T_q| >= 1                 (0, with a graph, if there is none)

Unlike the contrastive loss, nothing pushes the query away from an explicit set of negatives: the softmax runs
over all known items, and only the *order* of the query's nearest items matters — what kNN scoring uses.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SoftKNNLoss", "soft_knn_loss"]


def soft_knn_loss(queries: torch.Tensor, members: torch.Tensor, link: torch.Tensor, target: torch.Tensor,
                  self_idx: torch.Tensor, tau: float, eps: float = 1e-8) -> torch.Tensor:
    """Soft-kNN loss (module docstring); returns a scalar tensor.

    Raises:
        ValueError: on mismatched shapes or ``tau <= 0``.
    """
    b, n = queries.shape[0], members.shape[0]
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if members.shape[1] != queries.shape[1] or link.shape[0] != n or target.shape != (b, link.shape[1]) \
            or self_idx.shape != (b,):
        raise ValueError(f"shape mismatch: queries {tuple(queries.shape)}, members {tuple(members.shape)}, link "
                         f"{tuple(link.shape)}, target {tuple(target.shape)}, self_idx {tuple(self_idx.shape)}")
    logits = queries @ members.T / tau
    own = self_idx >= 0
    if bool(own.any()):
        rows = torch.arange(b, device=logits.device)[own]
        minus_inf = torch.tensor(float("-inf"), dtype=logits.dtype, device=logits.device)
        logits = logits.index_put((rows, self_idx[own]), minus_inf)
    pi = torch.softmax(logits, dim=1)
    A = pi @ link
    n_t = target.sum(dim=1)
    keep = n_t > 0
    if not bool(keep.any()):
        return queries.sum() * 0.0
    per_q = -(torch.log(A + eps) * target).sum(dim=1)[keep] / n_t[keep]
    return per_q.mean()


class SoftKNNLoss(nn.Module):
    """Soft-kNN loss: Neighbourhood Components Analysis over known member items, many labels per item.

    Each query item picks one known item as its stochastic neighbour (softmax over the cosines / τ of ALL known
    items, the query itself left out) and inherits that neighbour's patents; the loss is the mean negative log of
    the probability mass that lands on items carrying each of the query's patents. It trains directly what the
    ``knn`` / ``knn-linker`` scoring ranks with (patents known by their member items, ``set_scoring="members"``).

    Args:
        temperature: τ of the neighbour softmax (> 0).
        eps: added inside the log (a patent no neighbour carries costs ``-log eps``, not infinity).

    References:
        - Goldberger, Roweis, Hinton & Salakhutdinov, "Neighbourhood Components Analysis" (NeurIPS 2004).
        - El Bouari & de Rassenfosse, "Product-Patent linkage prediction" (the task and the kNN baseline).

    Inputs:
        +---------------+------------------+---------------------------------------------------------------+
        | argument      | shape            | meaning                                                       |
        +===============+==================+===============================================================+
        | ``queries``   | ``(b, d)`` float | L2-normalised query-item embeddings (with gradient)           |
        +---------------+------------------+---------------------------------------------------------------+
        | ``members``   | ``(n, d)`` float | L2-normalised embeddings of the known (member) items          |
        +---------------+------------------+---------------------------------------------------------------+
        | ``link``      | ``(n, m)`` float | 1 where member j is linked to patent p                        |
        +---------------+------------------+---------------------------------------------------------------+
        | ``target``    | ``(b, m)`` float | 1 where query q is linked to patent p and p is predictable    |
        +---------------+------------------+---------------------------------------------------------------+
        | ``self_idx``  | ``(b,)`` long    | row of each query among the members, ``-1`` if none           |
        +---------------+------------------+---------------------------------------------------------------+

    Returns:
        The scalar loss (module docstring formula); 0 (with a graph) when no query has a target.

    Raises:
        ValueError: ``temperature <= 0`` or mismatched shapes.

    Example:
        ::

            loss_fn = SoftKNNLoss(temperature=0.1)
            members = F.normalize(torch.randn(6, 8), dim=1)
            link = torch.eye(6)[:, :3] + torch.eye(6)[:, 3:]          # members 0/3 → p0, 1/4 → p1, 2/5 → p2
            queries = members[:2].clone().requires_grad_()
            loss = loss_fn(queries, members, link, link[:2], torch.tensor([0, 1]))
            loss.backward()
    """

    def __init__(self, temperature: float, eps: float = 1e-8):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"tau must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.eps = float(eps)

    def forward(self, queries: torch.Tensor, members: torch.Tensor, link: torch.Tensor, target: torch.Tensor,
                self_idx: torch.Tensor) -> torch.Tensor:
        return soft_knn_loss(queries, members, link, target, self_idx, self.temperature, self.eps)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, eps={self.eps}"
