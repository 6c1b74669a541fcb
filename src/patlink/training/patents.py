"""How the trainer represents a patent: its own text, or the set of its training items (pooled, or as members).

The trainer asks a :class:`PatentRepresentation` for everything that depends on it: the patent embeddings of a
batch, the embeddings of extra negative patents, which patents cannot be negatives, what the no-grad bank holds,
the texts BM25 mines negatives from, and the validation metrics.

- :class:`TextPatents` (``patents.representation="text"``, the paper): the patent encoder reads the patent's text.
- :class:`PooledItemSets` (``item_set`` + ``scoring="pool"``): a patent is ONE vector, the patent encoder's
  attention pooling over the concatenated tokens of its linked training items (patents without text, e.g.
  honeywell-vpm). In a step a patent's set never contains an item of the same batch (leave-batch-out: no identity
  shortcut) and is sampled down to ``patents.set_max_items`` items.
- :class:`MemberItemSets` (``item_set`` + ``scoring="members"``): a patent is scored by its members, kNN style;
  in a step it is represented by ONE sampled member outside the batch, and an extra negative patent by one of its
  items outside the batch.

Member sampling is deterministic in ``(seed, step, stream)`` so a resumed run draws the same sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from patlink.models.token_cache import pad_batch
from patlink.training.sampler import LinkIndex
from patlink.training.validation import member_knn_scores, ranking_metrics, two_directions, validation_scores

__all__ = ["MemberItemSets", "PatentBatch", "PatentRepresentation", "PooledItemSets", "TextPatents",
           "patent_representation"]


@dataclass
class PatentBatch:
    """The patents of one training step, as the representation encoded them.

    Attributes:
        patents: ``(m,)`` training patent indices kept (with item sets, those with an item outside the batch).
        embeddings: ``(m, out_dim)`` patent embeddings, with gradient.
        members: with item sets, the training items that encoded each kept patent (else empty).
    """

    patents: np.ndarray
    embeddings: torch.Tensor
    members: list[list[int]] = field(default_factory=list)


class PatentRepresentation:
    """Base class; see the module docstring. Subclasses set :attr:`name` and :attr:`has_text`.

    Args:
        config: the :class:`~patlink.training.config.TrainConfig`. index: the training graph.
        item_tokens: token arrays of the training items, in ``index.items`` order.
        patent_arrays / patent_texts: id → token array / text of every patent with text (text patents only).
    """

    name = ""
    has_text = False

    def __init__(self, config, index: LinkIndex, item_tokens: Sequence[np.ndarray],
                 patent_arrays: dict[str, np.ndarray] | None = None, patent_texts: dict[str, str] | None = None):
        self.cfg, self.idx, self.item_tokens = config, index, list(item_tokens)

    # ------------------------------------------------------------------ training
    @classmethod
    def trainable_pairs(cls, index: LinkIndex) -> np.ndarray:
        """The ``(n, 2)`` (item, patent) links of ``index`` a step can learn from (all of them by default)."""
        return index.pairs

    def encode_batch(self, model, patents: np.ndarray, items: np.ndarray, step: int) -> PatentBatch:
        """Embeddings (with gradient) of the batch's ``patents`` given its ``items`` at optimizer ``step``."""
        raise NotImplementedError

    def blocked(self, items: np.ndarray) -> list[int]:
        """Patents (besides the batch's own) that cannot be drawn as negatives for a batch of ``items``."""
        return []

    def encode_negatives(self, model, patents: np.ndarray, items: np.ndarray, step: int,
                         bank: torch.Tensor | None) -> torch.Tensor:
        """Embeddings ``(len(patents), out_dim)`` of extra negative ``patents``: rows of the patent ``bank``
        (:meth:`bank_tokens` under the patent encoder) or re-encoded with gradient when ``bank`` is None."""
        raise NotImplementedError

    def bank_tokens(self) -> list[np.ndarray]:
        """The token arrays the patent side of the negative bank encodes, one bank row each."""
        raise NotImplementedError

    def bank_rows(self, batch: PatentBatch) -> np.ndarray:
        """The rows of the patent bank that the batch's fresh embeddings replace."""
        raise NotImplementedError

    def bm25_documents(self, item_texts: Sequence[str]) -> list[str]:
        """One text per training patent for BM25-mined negatives (``item_texts`` in ``index.items`` order)."""
        raise NotImplementedError

    def probe_tokens(self) -> np.ndarray:
        """Token array of training patent 0 (the policy heat-map's probe)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ validation
    def validate(self, model, item_arrays: dict[str, np.ndarray], val_links: list[tuple[str, str]],
                 train_links: list[tuple[str, str]], lexical=None) -> dict[str, Any]:
        """Validation metrics (:func:`patlink.training.validation.two_directions`)."""
        raise NotImplementedError


class TextPatents(PatentRepresentation):
    """A patent is encoded from its own text (the paper's setting).

    Args:
        patent_arrays: id → token array of every patent of the dataset with text (validation candidates).
    """

    name = "text"
    has_text = True

    def __init__(self, config, index: LinkIndex, item_tokens: Sequence[np.ndarray],
                 patent_arrays: dict[str, np.ndarray] | None = None, patent_texts: dict[str, str] | None = None):
        super().__init__(config, index, item_tokens)
        if patent_arrays is None or patent_texts is None:
            raise ValueError("patents represented by their text need their token arrays and texts")
        self.patent_arrays = patent_arrays
        self.patent_texts = patent_texts
        self.patent_tokens = [patent_arrays[p] for p in index.patents]

    def _encode(self, model, patents: np.ndarray) -> torch.Tensor:
        x, m = pad_batch([self.patent_tokens[int(p)] for p in patents])
        return model.patent_encoder(x, m)

    def encode_batch(self, model, patents, items, step):
        return PatentBatch(patents, self._encode(model, patents))

    def encode_negatives(self, model, patents, items, step, bank):
        if bank is not None:
            return bank[torch.as_tensor(patents, dtype=torch.long)]
        return self._encode(model, patents)

    def bank_tokens(self):
        return self.patent_tokens

    def bank_rows(self, batch):
        return batch.patents

    def bm25_documents(self, item_texts):
        return [self.patent_texts[p] for p in self.idx.patents]

    def probe_tokens(self):
        return self.patent_tokens[0]

    def validate(self, model, item_arrays, val_links, train_links, lexical=None):
        v, lo = self.cfg.validation, self.cfg.loss
        return validation_scores(model, item_arrays, self.patent_arrays, val_links, train_links, v.batch_size,
                                 v.full_metrics, lexical, lo.lexical_residual * lo.temperature)


class _ItemSets(PatentRepresentation):
    """A patent is known by its linked training items (no text of its own), so every patent of the index needs
    one: a link-less patent (``LinkIndex.from_links(..., extra_patents=...)``) is a ValueError."""

    has_text = False
    cap = 1   # items sampled per patent and step

    def __init__(self, config, index: LinkIndex, item_tokens: Sequence[np.ndarray],
                 patent_arrays: dict[str, np.ndarray] | None = None, patent_texts: dict[str, str] | None = None):
        super().__init__(config, index, item_tokens)
        bare = [p for p, ps in zip(index.patents, index.patent_pos) if not ps]
        if bare:
            raise ValueError(f"{len(bare)} patent(s) of the training graph have no training item, e.g. {bare[:3]}; "
                             "patents represented by their item sets cannot encode them")

    @classmethod
    def trainable_pairs(cls, index):
        # only links whose patent has another training item (a patent is encoded from its OTHER items)
        pairs = index.pairs
        keep = np.array([len(index.patent_pos[int(p)]) >= 2 for p in pairs[:, 1]], dtype=bool)
        return pairs[keep]

    def blocked(self, items):
        """Training patents whose every item is in the batch ``items`` (no member left to represent them)."""
        cnt: dict[int, int] = {}
        for i in items:
            for p in self.idx.item_pos[int(i)]:
                cnt[p] = cnt.get(p, 0) + 1
        return [p for p, c in cnt.items() if c == len(self.idx.patent_pos[p])]

    def set_array(self, members: Sequence[int]) -> np.ndarray:
        """Concatenated token arrays of training items ``members`` (capped at ``encoder.max_set_tokens``)."""
        cat = np.concatenate([self.item_tokens[int(j)] for j in members], axis=0)
        return cat[: self.cfg.encoder.max_set_tokens]

    def choose_members(self, patents: np.ndarray, items: np.ndarray, step: int, stream: int = 0
                       ) -> tuple[list[list[int]], np.ndarray]:
        """For each patent, its training items outside the batch ``items`` (leave-batch-out), sampled down to
        :attr:`cap`. Returns ``(member lists, kept patent indices)``; patents with no item outside the batch are
        dropped. Deterministic in ``(seed, step, stream)``."""
        rng = np.random.default_rng([self.cfg.seed, step, stream])
        in_batch = {int(i) for i in items}
        chosen, kept = [], []
        for p in patents:
            others = [j for j in self.idx.patent_pos[int(p)] if j not in in_batch]
            if not others:
                continue
            if len(others) > self.cap:
                others = rng.choice(others, self.cap, replace=False).tolist()
            chosen.append([int(j) for j in others])
            kept.append(int(p))
        return chosen, np.asarray(kept, dtype=np.int64)

    def encode_batch(self, model, patents, items, step):
        """The batch's patents from their OTHER training items (leave-batch-out, sampled); patents with no item
        left outside the batch are dropped (their links then only act through the items' rows)."""
        chosen, kept = self.choose_members(patents, items, step)
        if not len(kept):
            return PatentBatch(kept, torch.zeros(0, self.cfg.encoder.out_dim), chosen)
        x, m = pad_batch([self.set_array(ms) for ms in chosen])
        return PatentBatch(kept, model.patent_encoder(x, m), chosen)

    def bm25_documents(self, item_texts):
        # a patent's profile: the texts of its training items
        return [" ".join(item_texts[j] for j in self.idx.patent_pos[k]) for k in range(len(self.idx.patents))]

    def probe_tokens(self):
        return self.item_tokens[self.idx.patent_pos[0][0]]

    def _val_setup(self, item_arrays, val_links):
        val_items = sorted({i for i, _ in val_links if i in item_arrays})
        pi = {p: k for k, p in enumerate(self.idx.patents)}
        q_i2p: dict[str, dict[str, int]] = {}
        q_p2i: dict[str, dict[str, int]] = {}
        for i, p in val_links:
            q_i2p.setdefault(i, {})[p] = 1
            if p in pi:
                q_p2i.setdefault(p, {})[i] = 1
        return val_items, pi, q_i2p, q_p2i

    def _patent_scores(self, model, I: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def validate(self, model, item_arrays, val_links, train_links, lexical=None):
        """New-product protocol: each validation item ranks the training patents (known by ALL their training
        items), each validation patent ranks the validation items."""
        v = self.cfg.validation
        val_items, pi, q_i2p, q_p2i = self._val_setup(item_arrays, val_links)
        I = model.encode_arrays("item", [item_arrays[i] for i in val_items], v.batch_size)
        S = self._patent_scores(model, I)
        i2p = ranking_metrics(S, val_items, self.idx.patents, q_i2p, full=v.full_metrics)
        qp = sorted(q_p2i)
        p2i = ranking_metrics(S.T[[pi[p] for p in qp]], qp, val_items, q_p2i, full=v.full_metrics)
        return two_directions(i2p, p2i)


class PooledItemSets(_ItemSets):
    """A patent is ONE vector: the attention pooling of its items' tokens (``profile-linker``)."""

    name = "item_set/pool"

    def __init__(self, config, index, item_tokens, patent_arrays=None, patent_texts=None):
        super().__init__(config, index, item_tokens)
        self.cap = config.patents.set_max_items

    def _patent_scores(self, model, I):
        n, v = len(self.idx.patents), self.cfg.validation
        Pt = np.zeros((n, self.cfg.encoder.out_dim), dtype=np.float32)
        chunk = max(1, v.batch_size // 4)
        for s in range(0, n, chunk):    # bounded memory: sets are concatenated chunk by chunk
            arrays = [self.set_array(self.idx.patent_pos[k]) for k in range(s, min(s + chunk, n))]
            Pt[s:s + len(arrays)] = model.encode_arrays("patent", arrays, chunk)
        return I @ Pt.T


class MemberItemSets(_ItemSets):
    """A patent is scored by its members, kNN style (``knn-linker``): each known item encoded alone."""

    name = "item_set/members"

    def encode_negatives(self, model, patents, items, step, bank):
        """A negative patent is ONE of its items outside the batch: its row of the member bank (the patent
        encoder applied to every training item), or re-encoded with gradient."""
        chosen, kept = self.choose_members(patents, items, step, stream=1)
        if len(kept) != len(patents):
            raise RuntimeError("an extra negative patent has no item outside the batch (it should be masked)")
        members = np.asarray([ms[0] for ms in chosen], dtype=np.int64)
        if bank is not None:
            return bank[torch.as_tensor(members)]
        x, m = pad_batch([self.item_tokens[int(j)] for j in members])
        return model.patent_encoder(x, m)

    def bank_tokens(self):
        return self.item_tokens

    def bank_rows(self, batch):
        # the member bank is indexed by item: the members that encoded the batch's patents
        return np.asarray([ms[0] for ms in batch.members], dtype=np.int64)

    def _patent_scores(self, model, I):
        M = model.encode_arrays("patent", self.item_tokens, self.cfg.validation.batch_size)  # each item alone
        return member_knn_scores(I, M, self.idx.patent_pos, self.cfg.patents.members_k)

    def soft_knn_inputs(self, model) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For the soft-kNN loss: the fixed member bank ``(n_items, out_dim)`` (the patent encoder on every
        training item), the item→patent link matrix ``(n_items, n_patents)`` and the ``(n_patents,)`` mask of
        patents with at least two items (predictable from another member)."""
        bank = torch.from_numpy(model.encode_arrays("patent", self.item_tokens))
        link = self.idx.pos_matrix(np.arange(len(self.idx.items)), np.arange(len(self.idx.patents))).float()
        return bank, link, (link.sum(dim=0) >= 2).float()


def patent_representation(config) -> type[PatentRepresentation]:
    """The class ``config.patents`` asks for: :class:`TextPatents`, :class:`PooledItemSets` or
    :class:`MemberItemSets` (all built as ``cls(config, index, item_tokens, patent_arrays, patent_texts)``)."""
    p = config.patents
    if p.representation == "text":
        return TextPatents
    return MemberItemSets if p.scoring == "members" else PooledItemSets
