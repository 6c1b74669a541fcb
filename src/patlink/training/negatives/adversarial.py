"""Adversarial extra negatives: two REINFORCE policies learn to draw the negatives the linker finds hardest
(El Bouari & de Rassenfosse, "Product-Patent linkage prediction" §3.4; :mod:`patlink.models.adversary`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from patlink.models.adversary import Adversary, reinforce_loss
from patlink.training.negatives.base import Batch, Negatives, NegativeSource

__all__ = ["AdversarialNegatives"]


class AdversarialNegatives(NegativeSource):
    """The item adversary (patent query → logits over the training items) and the patent adversary (item query →
    logits over the training patents), trained after every step with REINFORCE on the rewards ``R = cos`` of
    what they drew (per-query mean baseline).

    Args:
        out_dim: embedding size of the encoders (the policies' input). hidden / lr: ``negatives.adversary``.
        The rest as :class:`~patlink.training.negatives.base.NegativeSource`.
    """

    name = "adversarial"

    def __init__(self, index, curriculum, item_tokens, generator, *, out_dim: int, hidden: int, lr: float, **kw):
        super().__init__(index, curriculum, item_tokens, generator, **kw)
        self.adv_items = Adversary(out_dim, len(index.items), hidden)      # patent → items
        self.adv_patents = Adversary(out_dim, len(index.patents), hidden)  # item → patents
        self.opt = torch.optim.AdamW(list(self.adv_items.parameters()) + list(self.adv_patents.parameters()),
                                     lr=lr, weight_decay=0.0)

    def logits(self, side, queries, query_idx, mask):
        adv = self.adv_items if side == "item" else self.adv_patents
        return adv(queries.detach().to("cpu", torch.float32)), mask   # the policies and the sampler run on the CPU

    def update(self, batch: Batch, negatives: Negatives | None, items, patents) -> dict[str, float]:
        """REINFORCE step of both policies; records ``adv_loss`` and the mean ``reward``."""
        if negatives is None:
            return {}
        R = self.rewards(batch, negatives, items, patents)
        losses, rs = zip(*(reinforce_loss(d.logits, d.mask, d.sampled, r) for d, r in zip(negatives.draws, R)))
        self.opt.zero_grad(set_to_none=True)
        sum(losses).backward()
        self.opt.step()
        return {"adv_loss": float(sum(x.detach() for x in losses)), "reward": float(sum(rs) / len(rs))}

    def snapshot(self, model, item_probe: np.ndarray, patent_probe: np.ndarray, step: int) -> None:
        """Policy over the patents of the probe item and over the items of the probe patent (Fig. 2 heat-map)."""
        with torch.no_grad():
            q_item = torch.from_numpy(model.encode_arrays("item", [item_probe]))
            q_pat = torch.from_numpy(model.encode_arrays("patent", [patent_probe]))
            pi = torch.softmax(self.adv_patents(q_item), dim=1)[0]   # item 0 → patents
            pp = torch.softmax(self.adv_items(q_pat), dim=1)[0]      # patent 0 → items
        self.policy["patent_policy"].append(pi.tolist())
        self.policy["item_policy"].append(pp.tolist())
        self.policy["step"].append(step)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "adv_items": self.adv_items.state_dict(),
                "adv_patents": self.adv_patents.state_dict(), "adv_opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if "adv_opt" in state:
            self.adv_items.load_state_dict(state["adv_items"])
            self.adv_patents.load_state_dict(state["adv_patents"])
            self.opt.load_state_dict(state["adv_opt"])
