"""Training runs on disk: one run, one run per cross-validation fold, one per fold of several partitions.

``patlink train`` calls these; the folder layout is what :meth:`patlink.methods.Method.with_subfolder` reads
back in cross-validation: ``OUT/fold{f}`` for ``folds=K``, ``OUT/seed{s}/fold{f}`` for ``repeats=R``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["is_finished", "train_folds", "train_repeated", "train_run"]

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def is_finished(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a complete training run (its ``metrics.json`` says ``finished``)."""
    try:
        return bool(json.loads((Path(run_dir) / "metrics.json").read_text()).get("finished"))
    except (OSError, ValueError):
        return False


def train_run(ds, cfg, out: str | Path, split: dict, *, protocol: str = "graph", resume: bool = False,
              plots: bool = True, log: Log = _quiet):
    """Train one linker on ``split`` (``{"train", "val", "test"}`` links) into ``out``: ``config.json``, the
    trainer's files (:func:`patlink.training.trainer.train_linker`) and, with ``plots``, ``training.png``.

    Returns:
        :class:`patlink.training.trainer.TrainResult`.
    """
    from patlink.io import atomic_write_json
    from patlink.training.trainer import train_linker

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", cfg.to_dict())
    log(f"training on {ds.name} ({protocol} split): {len(split['train'])} train / {len(split['val'])} val links, "
        f"items [{','.join(ds.item_view)}] patents [{','.join(ds.patent_view)}], negatives={cfg.negatives.source}, "
        f"patents as {cfg.patents.representation}")
    res = train_linker(ds, split, cfg, out, resume=resume)
    if plots:
        from patlink.training.plots import plot_run

        plot_run(out)
    return res


def train_folds(ds, cfg, out: str | Path, folds: int, *, protocol: str = "graph", only: Sequence[int] | None = None,
                resume: bool = False, plots: bool = True, log: Log = _quiet) -> list:
    """Train one linker per fold of :func:`patlink.graph.kfold_splits` (seed ``cfg.seed``) into ``out/fold{f}``.

    Finished folds are skipped; an interrupted fold resumes from its checkpoint.

    Args:
        only: train only these folds (e.g. to run folds in parallel).

    Returns:
        The :class:`~patlink.training.trainer.TrainResult` of each fold trained now.

    Raises:
        ValueError: ``folds < 2``, a fold index out of range, or folds that cannot be made.
    """
    from patlink.graph import kfold_splits

    if folds < 2:
        raise ValueError("cross-validation needs --folds K with K >= 2")
    out = Path(out)
    parts = kfold_splits(ds, k=folds, seed=cfg.seed, protocol=protocol)
    todo = sorted(set(only)) if only else list(range(folds))
    bad = [f for f in todo if not 0 <= f < folds]
    if bad:
        raise ValueError(f"--fold {bad[0]} out of range: folds are 0 … {folds - 1}")
    results = []
    for f in todo:
        sub = out / f"fold{f}"
        if is_finished(sub):
            log(f"fold {f}: already trained ({sub}), skipped")
            continue
        sp = parts[f]
        log(f"fold {f + 1}/{folds}")
        results.append(train_run(ds, cfg, sub, {"train": sp.train, "val": sp.val, "test": sp.test},
                                 protocol=protocol, resume=resume or (sub / "checkpoint.pt").is_file(), plots=plots,
                                 log=log))
    return results


def train_repeated(ds, cfg, out: str | Path, folds: int, repeats: int, *, protocol: str = "graph",
                   only: Sequence[int] | None = None, resume: bool = False, plots: bool = True,
                   log: Log = _quiet) -> list:
    """:func:`train_folds` on partitions ``cfg.seed … cfg.seed + repeats - 1`` into ``out/seed{s}/fold{f}``
    (repeated k-fold cross-validation). Returns every fold's result."""
    if repeats < 1:
        raise ValueError("--repeats R needs R >= 1")
    results = []
    for r in range(repeats):
        s = cfg.seed + r
        log(f"partition {r + 1}/{repeats} (seed {s})")
        results += train_folds(ds, dataclasses.replace(cfg, seed=s), Path(out) / f"seed{s}", folds,
                               protocol=protocol, only=only, resume=resume, plots=plots, log=log)
    return results
