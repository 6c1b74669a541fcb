"""The interface every extra-negative source implements, the draw they share, and the no-grad embedding bank.

A source decides *which* training items and patents become extra negatives of a batch; all of them go through the
same masked sampler (:func:`patlink.models.adversary.gumbel_topk`, Gumbel top-k without replacement) and differ
only in the logits they give it: zero logits for :class:`~patlink.training.negatives.random.RandomNegatives`
(uniform over the allowed documents), zero logits restricted to each query's BM25 candidates for
:class:`~patlink.training.negatives.bm25.BM25Negatives`, the policies' logits for
:class:`~patlink.training.negatives.adversarial.AdversarialNegatives`. A query never draws its own positives nor a
document of the batch. How many per query comes from the curriculum (:class:`patlink.training.config.Curriculum`,
El Bouari & de Rassenfosse, "Product-Patent linkage prediction" §3.4).

Per step the trainer calls :meth:`NegativeSource.extra_negatives` (indices and embeddings, or ``None``), computes
the loss on the batch plus these negatives, then :meth:`NegativeSource.update` (rewards; the adversary learns) and
:meth:`NegativeSource.write_back` (fresh batch embeddings into the bank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from patlink.models.adversary import build_mask, gumbel_topk
from patlink.models.token_cache import pad_batch
from patlink.training.config import Curriculum
from patlink.training.patents import PatentBatch, PatentRepresentation
from patlink.training.sampler import LinkIndex

__all__ = ["Batch", "EmbeddingBank", "NegativeDraw", "NegativeSource", "Negatives"]


@dataclass
class Batch:
    """One training step's items and patents with their embeddings (with gradient).

    Attributes:
        items: ``(n,)`` training item indices. item_embeddings: ``(n, out_dim)``.
        patents: the :class:`~patlink.training.patents.PatentBatch` (kept patent indices, embeddings, members).
        step: the optimizer step (seeds the member sampling).
    """

    items: np.ndarray
    item_embeddings: torch.Tensor
    patents: PatentBatch
    step: int


@dataclass
class NegativeDraw:
    """The draw of one side: ``side="item"`` — patent queries drew item negatives; ``"patent"`` — the reverse.

    Attributes:
        logits / mask: ``(n_queries, n_actions)`` the sampler's logits and allowed actions.
        sampled: ``(n_queries, k)`` drawn action indices, ``-1`` where a query ran out of allowed actions.
        unique: the distinct drawn actions, in the order their embeddings are appended.
    """

    side: str
    logits: torch.Tensor
    mask: torch.Tensor
    sampled: torch.Tensor
    unique: np.ndarray


@dataclass
class Negatives:
    """Extra negatives of one batch: indices and embeddings of each side, and the draws that chose them."""

    items: np.ndarray
    patents: np.ndarray
    item_embeddings: torch.Tensor
    patent_embeddings: torch.Tensor
    draws: list[NegativeDraw] = field(default_factory=list)


class EmbeddingBank:
    """No-grad embeddings of every training item (item encoder) and of every patent-bank row (patent encoder:
    the patents' texts, or every training item when patents are known by their members).

    Attributes:
        item: ``(n_items, out_dim)`` float32. patent: ``(n_rows, out_dim)`` float32.
    """

    def __init__(self, item: torch.Tensor, patent: torch.Tensor):
        self.item, self.patent = item, patent

    @classmethod
    def compute(cls, model, item_tokens: Sequence[np.ndarray], patent_tokens: Sequence[np.ndarray]) -> EmbeddingBank:
        """Encode every row now (eval mode, no gradient), on the model's device."""
        return cls(torch.from_numpy(model.encode_arrays("item", item_tokens)),
                   torch.from_numpy(model.encode_arrays("patent", patent_tokens))).to(getattr(model, "device", "cpu"))

    def to(self, device: str) -> EmbeddingBank:
        """This bank with its rows on ``device`` (itself when they already are there, e.g. on the CPU)."""
        item, patent = self.item.to(device), self.patent.to(device)
        return self if item is self.item and patent is self.patent else EmbeddingBank(item, patent)


class NegativeSource:
    """Base class of the extra-negative strategies (module docstring).

    Args:
        index: the training graph (its items/patents are the action sets).
        curriculum: extra negatives per query and epoch.
        item_tokens: token arrays of the training items (``index.items`` order), to re-encode item negatives.
        generator: the torch RNG of the sampler (checkpointed by the trainer).
        exclusive: a negative drawn for one query is masked for the next queries of the batch.
        embeddings: ``bank`` (no-grad bank, refreshed per ``bank_refresh``) or ``encode`` (with gradient).
        bank_refresh: ``once`` (at the first epoch with negatives, then written back every step) or ``epoch``.
    """

    name = ""

    def __init__(self, index: LinkIndex, curriculum: Curriculum, item_tokens: Sequence[np.ndarray],
                 generator: torch.Generator, *, exclusive: bool = True, embeddings: str = "bank",
                 bank_refresh: str = "once"):
        self.idx, self.curriculum, self.item_tokens, self.gen = index, curriculum, list(item_tokens), generator
        self.exclusive, self.embeddings, self.bank_refresh = exclusive, embeddings, bank_refresh
        self.bank: EmbeddingBank | None = None
        self.policy: dict[str, list] = {"item_policy": [], "patent_policy": [], "step": []}

    # ------------------------------------------------------------------ per epoch
    def count(self, epoch: int) -> int:
        """Extra negatives per query in (0-based) ``epoch``."""
        return self.curriculum.at(epoch)

    def start_epoch(self, epoch: int, model, patents: PatentRepresentation) -> int:
        """Refresh the bank when this epoch needs it; returns :meth:`count` of ``epoch``."""
        k = self.count(epoch)
        if k > 0 and self.embeddings == "bank" and (self.bank is None or self.bank_refresh == "epoch"):
            self.bank = EmbeddingBank.compute(model, self.item_tokens, patents.bank_tokens())
        return k

    # ------------------------------------------------------------------ per step
    def logits(self, side: str, queries: torch.Tensor, query_idx: np.ndarray, mask: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampler logits ``(n_queries, n_actions)`` over the ``side`` actions, and the allowed mask (possibly
        narrowed). The base class: uniform over the allowed actions."""
        return torch.zeros(len(query_idx), mask.shape[1]), mask

    def extra_negatives(self, batch: Batch, epoch: int, model, patents: PatentRepresentation) -> Negatives | None:
        """Draw this epoch's extra negatives for ``batch``: items for its patents, patents for its items.

        Returns ``None`` when the curriculum gives none this epoch, else :class:`Negatives` whose embeddings come
        from the bank or are re-encoded with gradient (item negatives first, then patents).
        """
        k = self.count(epoch)
        if k <= 0:
            return None
        bi, bp = batch.items, batch.patents.patents
        n_i, n_p = len(self.idx.items), len(self.idx.patents)
        # patent queries → item negatives; item queries → patent negatives. Patents that nothing outside the
        # batch can represent (item sets) are blocked like the batch's own.
        m_i = build_mask(len(bp), n_i, [self.idx.patent_pos[int(p)] for p in bp], bi)
        blocked = np.concatenate([bp, np.asarray(patents.blocked(bi), dtype=np.int64)]).astype(np.int64)
        m_p = build_mask(len(bi), n_p, [self.idx.item_pos[int(i)] for i in bi], blocked)
        lg_i, m_i = self.logits("item", batch.patents.embeddings, bp, m_i)
        lg_p, m_p = self.logits("patent", batch.item_embeddings, bi, m_p)
        neg_i = gumbel_topk(lg_i, m_i, k, self.exclusive, self.gen)    # (len(bp), k)
        neg_p = gumbel_topk(lg_p, m_p, k, self.exclusive, self.gen)    # (len(bi), k)
        ui = np.unique(neg_i[neg_i >= 0].numpy())
        up = np.unique(neg_p[neg_p >= 0].numpy())
        P, Q = batch.item_embeddings, batch.patents.embeddings
        if self.bank is not None:
            Pn = self.bank.item[torch.as_tensor(ui, dtype=torch.long)]
        elif len(ui):
            x, m = pad_batch([self.item_tokens[int(i)] for i in ui])
            Pn = model.item_encoder(x, m)
        else:
            Pn = P[:0]
        Qn = (patents.encode_negatives(model, up, bi, batch.step, None if self.bank is None else self.bank.patent)
              if len(up) else Q[:0])
        draws = [NegativeDraw("item", lg_i, m_i, neg_i, ui), NegativeDraw("patent", lg_p, m_p, neg_p, up)]
        return Negatives(ui, up, Pn, Qn, draws)

    def rewards(self, batch: Batch, negatives: Negatives, items: torch.Tensor, patents: torch.Tensor
                ) -> list[torch.Tensor]:
        """``R_i(j) = cos`` of each drawn negative with its query, ``(n_queries, k)`` per draw (0 where none was
        drawn). ``items`` / ``patents``: the step's embeddings, batch rows first, then the negatives."""
        with torch.no_grad():
            Sd = (items @ patents.T).float().cpu()   # cosine similarities = rewards (on the CPU, as the draws)
        out = []
        for d in negatives.draws:
            pos_of = {int(a): r for r, a in enumerate(d.unique)}
            off = len(batch.items) if d.side == "item" else len(batch.patents.patents)
            rows = d.sampled.clone()
            rows[d.sampled >= 0] = torch.as_tensor([off + pos_of[int(a)] for a in d.sampled[d.sampled >= 0].tolist()],
                                                   dtype=torch.long)
            q = torch.arange(d.sampled.shape[0])[:, None].expand_as(d.sampled)
            # item negatives are rows of S (query = patent column q); patent negatives are columns
            out.append(Sd[rows.clamp(min=0), q] if d.side == "item" else Sd[q, rows.clamp(min=0)])
        return out

    def update(self, batch: Batch, negatives: Negatives | None, items: torch.Tensor, patents: torch.Tensor
               ) -> dict[str, float]:
        """After the encoders' step: what to record (``reward``, the mean cosine of the drawn negatives)."""
        if negatives is None:
            return {}
        vals = [R[d.sampled >= 0] for d, R in zip(negatives.draws, self.rewards(batch, negatives, items, patents))]
        return {"reward": float(torch.cat(vals).mean()) if sum(v.numel() for v in vals) else 0.0}

    def write_back(self, batch: Batch, patents: PatentRepresentation) -> None:
        """Replace the bank rows of the batch's items and patents by their fresh embeddings (no gradient)."""
        if self.bank is None:
            return
        with torch.no_grad():
            item, patent = self.bank.item, self.bank.patent
            item[torch.as_tensor(batch.items, device=item.device)] = \
                batch.item_embeddings[: len(batch.items)].detach().to(item.dtype)
            rows = torch.as_tensor(patents.bank_rows(batch.patents), dtype=torch.long, device=patent.device)
            patent[rows] = batch.patents.embeddings[: len(batch.patents.patents)].detach().to(patent.dtype)

    def snapshot(self, model, item_probe: np.ndarray, patent_probe: np.ndarray, step: int) -> None:
        """Record the policies on a probe item and patent (the adversary only)."""

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Tensors a resumed run needs (the bank; the adversary adds its policies and optimizer)."""
        if self.bank is None:
            return {}
        return {"bank_item": self.bank.item, "bank_patent": self.bank.patent}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "bank_item" in state:
            self.bank = EmbeddingBank(state["bank_item"], state["bank_patent"])
