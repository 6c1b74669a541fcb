"""Random extra negatives: uniform without replacement over the training documents a query may draw."""

from __future__ import annotations

from patlink.training.negatives.base import NegativeSource

__all__ = ["RandomNegatives"]


class RandomNegatives(NegativeSource):
    """Zero logits: Gumbel top-k draws uniformly among the allowed items / patents (the base class's logits)."""

    name = "random"
