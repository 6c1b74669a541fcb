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

__all__ = ["soft_knn_loss"]


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
        logits = logits.index_put((rows, self_idx[own]), torch.tensor(float("-inf"), dtype=logits.dtype, device=logits.device))
    pi = torch.softmax(logits, dim=1)
    A = pi @ link
    n_t = target.sum(dim=1)
    keep = n_t > 0
    if not bool(keep.any()):
        return queries.sum() * 0.0
    per_q = -(torch.log(A + eps) * target).sum(dim=1)[keep] / n_t[keep]
    return per_q.mean()
