"""In-batch negatives only (the paper's default): every other link of the batch is a negative, nothing is drawn."""

from __future__ import annotations

from patlink.training.config import Curriculum
from patlink.training.negatives.base import NegativeSource

__all__ = ["InBatchNegatives"]


class InBatchNegatives(NegativeSource):
    """No extra negatives in any epoch (the curriculum is ignored)."""

    name = "inbatch"

    def __init__(self, index, curriculum, item_tokens, generator, **kw):
        super().__init__(index, Curriculum(()), item_tokens, generator, **kw)
