"""What a training run returns, whatever the architecture (the paper's linker, the fine-tuned bi-encoder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TrainResult"]


@dataclass
class TrainResult:
    """What :func:`patlink.training.trainer.train_linker` and :func:`patlink.training.biencoder.train_biencoder`
    return.

    Attributes:
        out_dir: the run folder. model_dir: its ``best/`` model.
        best_epoch / best_step: where the kept model was validated. best_metric: its selection metric.
        history: one entry per validation point. stopped_early: training stopped before its last epoch.
        fusion: the BM25 fusion weight tuned on validation (``fusion.json``), or ``None``.
        best_val: the kept model's validation metrics.
    """

    out_dir: Path
    model_dir: Path
    best_epoch: int
    best_metric: float
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    best_step: int = -1
    fusion: dict | None = None
    best_val: dict = field(default_factory=dict)
