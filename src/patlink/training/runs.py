"""Training runs on disk: one run, one run per cross-validation fold, one per fold of several partitions.

``patlink train`` calls these; the folder layout is what :meth:`patlink.methods.Method.with_subfolder` reads
back in cross-validation: ``OUT/fold{f}`` for ``folds=K``, ``OUT/seed{s}/fold{f}`` for ``repeats=R``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["check_run", "is_finished", "train_folds", "train_repeated", "train_run"]

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def is_finished(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a complete training run (its ``metrics.json`` says ``finished``)."""
    try:
        return bool(json.loads((Path(run_dir) / "metrics.json").read_text()).get("finished"))
    except (OSError, ValueError):
        return False


def _interrupted(run_dir: Path) -> bool:
    """True when ``run_dir`` holds the checkpoint of an unfinished run: the linker's ``checkpoint.pt`` or the
    bi-encoder's trainer checkpoints."""
    from patlink.training.biencoder import has_checkpoint

    return (run_dir / "checkpoint.pt").is_file() or has_checkpoint(run_dir)


def check_run(cfg, out: str | Path, *, resume: bool = False) -> None:
    """The checks of a run that need no data, made before anything is embedded or written: ``cfg.validate()``, the
    encoder against the backbone's token width (read from the model folder's ``config.json``, nothing loaded;
    skipped when the folder does not say), and, with ``resume`` and an ``out/checkpoint.pt``, that the checkpoint
    was written with the same config (up to the settings a resumed run may change: epochs, patience …).

    Raises:
        ValueError: one line: an invalid config, ``encoder.n_heads`` not dividing the backbone's width, a
            checkpoint of another config or one that cannot be read.
    """
    if getattr(cfg, "architecture", "linker") == "biencoder":
        from patlink.training.biencoder import check_biencoder_run

        check_biencoder_run(cfg, out, resume=resume)
        return
    from patlink.training.trainer import _resume_key, token_width

    cfg.validate()
    width = token_width(None, cfg.encoder.backbone)
    if width is not None:
        cfg.check_token_width(width)
    ckpt = Path(out) / "checkpoint.pt"
    if not (resume and ckpt.is_file()):
        return
    import torch

    from patlink.training.config import TrainConfig

    try:
        stored = json.loads(torch.load(ckpt, weights_only=True, map_location="cpu", mmap=True).get("config_json")
                            or "{}")
    except Exception as e:  # noqa: BLE001 — torch raises RuntimeError, pickle errors, EOFError … for a bad file
        raise ValueError(f"cannot resume {ckpt}: not a readable checkpoint ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}); remove it or use a new --out folder") from None
    if stored:   # the nested config, or the flat one of a checkpoint written before it
        old, new = _resume_key(TrainConfig.from_dict(stored)), _resume_key(cfg)
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if diff:
            raise ValueError(f"cannot resume {ckpt}: the config differs in {diff}; use the same config "
                             "(only epochs/patience may change) or a new --out folder")


def train_run(ds, cfg, out: str | Path, split: dict, *, protocol: str = "graph", resume: bool = False,
              plots: bool = True, log: Log = _quiet):
    """Train one linker on ``split`` (``{"train", "val", "test"}`` links) into ``out``: ``config.json``, the
    trainer's files (:func:`patlink.training.trainer.train_linker`) and, with ``plots``, ``training.png``.
    With a :class:`~patlink.training.biencoder.BiEncoderConfig` the run is a fine-tuned bi-encoder
    (:func:`patlink.training.biencoder.train_biencoder`, no plots) in the same layout.

    :func:`check_run` runs first: a refused config or ``resume`` leaves every file of ``out`` as it was.

    Returns:
        :class:`patlink.training.trainer.TrainResult`.

    Raises:
        ValueError: as :func:`check_run`, or as :func:`~patlink.training.trainer.train_linker`.
    """
    if getattr(cfg, "architecture", "linker") == "biencoder":   # a BiEncoderConfig: the fine-tuned bi-encoder
        from patlink.training.biencoder import train_biencoder

        return train_biencoder(ds, split, cfg, out, resume=resume, log=log)
    from patlink.io import atomic_write_json
    from patlink.training.trainer import train_linker

    out = Path(out)
    check_run(cfg, out, resume=resume)
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
                                 protocol=protocol, resume=resume or _interrupted(sub), plots=plots, log=log))
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
