"""The bi-encoder: a sentence-transformers model fine-tuned END TO END on the linkage task, with the linker's
splits, folds, validation and run folders.

Where the linker (El Bouari & de Rassenfosse, "Product-Patent linkage prediction") keeps the backbone frozen and
trains a small head on its token embeddings, the bi-encoder trains every weight of the backbone, the setting that
moves retrieval in "Benchmarking Patent Embeddings" (contrastive fine-tuning of 22 models). Training pairs are the
split's *training* links: (item text, patent text), read by a contrastive loss with in-batch negatives
(``MultipleNegativesRankingLoss``, van den Oord et al. "Representation Learning with Contrastive Predictive
Coding" / Henderson et al. "Efficient Natural Language Response Suggestion for Smart Reply"), or its GradCache
form (``CachedMultipleNegativesRankingLoss``, Gao et al. "Scaling Deep Contrastive Learning Batch Size under
Memory Limited Setup") for larger batches in the same memory. The batches come from sentence-transformers'
``NO_DUPLICATES`` sampler: an item with two patents, or a patent with two items, never appears twice in a batch,
where its second link would be a false negative.

Validation is the linker's (:mod:`patlink.training.validation`): after every epoch, and before the first (the
zero-shot base model, epoch 0), each validation item ranks every patent of the pool and each validation patent
every item, training links removed (the filtered setting), MRR of the top-100 run; the model with the best
``select_metric`` is kept in ``best/``, so a run never ends worse on validation than the model it starts from.

Long patents (``windows``): a text is cut into consecutive windows of ``max_length`` tokens
(:func:`patlink.data.chunking.backbone_chunks`). At inference and validation a text is the L2-normalised mean of
its first ``windows`` window embeddings ("MeanP", as ``Dense(windows=N)``). In training, with
``train_windows="all"`` (default), each link gives one (item, window) pair per window of the patent, each pair a
row of its own (the sampler keeps the rows of one item in different batches): every window learns to sit near
the item, which is what the mean of windows needs; ``train_windows="first"`` trains on the first window only
(``windows`` times fewer rows, the cost of ``windows=1``, at the price of a train/inference mismatch). Items are
trained on their first window (abstracts fit).

Run folder ``OUT`` (the linker's conventions: atomic writes, ``OUT/fold{f}`` and ``OUT/seed{s}/fold{f}`` for
cross-validation, :mod:`patlink.training.runs`)::

    config.json       the BiEncoderConfig
    split.json        train/val/test links (same format as the linker's: the leakage check of patlink eval)
    biencoder.json    marker: format, base model, views, windows, max length, routes, best epoch, fusion α
    best/             sentence-transformers folder of the best validation point (SentenceTransformer(OUT/best))
    metrics.json      per-epoch validation MRR (both directions), seconds per epoch, peak RSS, losses, finished;
                      with mined negatives the mining report (``"mining"``, MiningReport.to_dict)
    fusion.json       the BM25 fusion weight tuned on validation (runs/NAME+bm25)
    checkpoints/      sentence-transformers trainer checkpoints while the run is unfinished (--resume), removed
                      when it finishes
"""

from __future__ import annotations

import dataclasses
import json
import resource
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from patlink.training.result import TrainResult

__all__ = ["BiEncoderConfig", "BiEncoderResult", "check_biencoder_run", "train_biencoder"]

Log = Callable[[str], None]

LOSSES = ("mnrl", "cached-mnrl")
NEGATIVES = ("inbatch", "mined")
MINE_WITH = ("bm25", "dense")
MINE_STRATEGIES = ("percpos", "simans", "topk", "random")
TRAIN_WINDOWS = ("all", "first")
VAL_POOLS = ("all", "split")
SELECT_METRICS = ("mrr_item2patent", "mrr_patent2item", "mrr_mean")
#: Settings a resumed run may change.
_NOT_RESUME_KEYS = ("epochs", "progress", "threads", "device", "mixed_precision", "eval_batch_size")


def _quiet(_: str) -> None:
    pass


@dataclass
class BiEncoderConfig:
    """Settings of :func:`train_biencoder` (``patlink train --architecture biencoder``).

    Attributes:
        base_model: the sentence-transformers model fine-tuned: ``minilm`` (bundled all-MiniLM-L6-v2), any
            sentence-transformers name or folder.
        loss: ``mnrl`` (MultipleNegativesRankingLoss: in-batch negatives, the batch in memory at once) or
            ``cached-mnrl`` (CachedMultipleNegativesRankingLoss, GradCache: the same loss computed in mini-batches
            of ``mini_batch_size``, so a batch of 256 fits the memory of 16).
        scale: inverse temperature of the softmax over cosines (20 = temperature 0.05, the linker's).
        bidirectional: also rank the batch's items for each patent (``doc_to_query``, one softmax per direction,
            averaged), as the linker's bidirectional loss; ``False``: items → patents only.
        batch_size: links per step (>= 2); in-batch negatives per query = batch_size − 1.
        mini_batch_size: texts per forward pass of ``cached-mnrl`` (>= 1).
        epochs: passes over the training rows (>= 1); validation after each keeps the best. Default 1: on pap2pat
            (about 1,000 links) validation chose epoch 1 of 2, and one epoch costs ~8 min on 2 CPU cores.
        lr: AdamW learning rate; warmup_ratio: share of steps of linear warm-up, then linear decay;
            weight_decay: AdamW weight decay.
        max_length: tokens per window (the backbone's limit: 256 for MiniLM).
        windows: windows of ``max_length`` tokens read per text (1 = truncate); see the module docstring.
        train_windows: ``all`` (one training row per window of the positive patent) or ``first``.
        asymmetric: separate weights for items (the ``query`` route) and patents (the ``document`` route): a
            sentence-transformers ``Router`` of two copies of the base model (twice the parameters and memory);
            ``False``: one shared model.
        negatives: ``inbatch`` (the other links of the batch) or ``mined``: each training row also gets
            ``n_negatives`` hard negatives mined among the TRAINING patents only
            (:func:`patlink.training.mining.mine_hard_negatives` with ``mine_with`` = ``bm25`` or ``dense`` (the
            base model), ``mine_strategy``, ``mine_depth`` candidates, ``mine_margin``).
        val_pool: validation candidates: ``all`` (every item and patent of the dataset with text, training
            links removed: the linker's validation) or ``split`` (the validation links' items and patents, the
            pool ``patlink eval`` uses by default; cheaper).
        select_metric: ``mrr_mean`` | ``mrr_item2patent`` | ``mrr_patent2item``: picks ``best/``.
        tune_fusion: after training, tune the BM25 fusion weight on validation (``runs/NAME+bm25``).
        eval_batch_size: windows per forward pass in validation.
        seed: seeds the trainer, the sampler and the mining.
        device: ``cpu`` (default, reproducible), ``cuda``, ``cuda:N``, ``mps`` or ``auto``; mixed_precision:
            bf16/fp16 on CUDA (ignored elsewhere).
        threads: torch intra-op threads (0 = leave as is). progress: progress bars and one line per epoch.
    """

    base_model: str = "minilm"
    loss: str = "mnrl"
    scale: float = 20.0
    bidirectional: bool = True
    batch_size: int = 32
    mini_batch_size: int = 16
    epochs: int = 1
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 256
    windows: int = 1
    train_windows: str = "all"
    asymmetric: bool = False
    negatives: str = "inbatch"
    mine_with: str = "bm25"
    mine_strategy: str = "percpos"
    n_negatives: int = 1
    mine_depth: int = 100
    mine_margin: float = 0.95
    val_pool: str = "all"
    select_metric: str = "mrr_mean"
    tune_fusion: bool = True
    eval_batch_size: int = 64
    seed: int = 0
    device: str = "cpu"
    mixed_precision: bool = True
    threads: int = 0
    progress: bool = False

    #: what :mod:`patlink.training.runs` dispatches on
    architecture = "biencoder"

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check types, ranges and choices. Raises ``ValueError`` (one line naming the field)."""
        for f in fields(self):
            v = getattr(self, f.name)
            want = {"str": str, "float": (int, float), "int": int, "bool": bool}[str(f.type)]
            if isinstance(v, bool) and want is not bool or not isinstance(v, want):
                raise ValueError(f"biencoder config {f.name}: expected {f.type!s}, got {v!r}")
        choices = {"loss": LOSSES, "negatives": NEGATIVES, "mine_with": MINE_WITH, "mine_strategy": MINE_STRATEGIES,
                   "train_windows": TRAIN_WINDOWS, "val_pool": VAL_POOLS, "select_metric": SELECT_METRICS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"biencoder config {name}: {getattr(self, name)!r} is not one of "
                                 f"{', '.join(allowed)}")
        at_least = {"batch_size": 2, "mini_batch_size": 1, "epochs": 1, "max_length": 3, "windows": 1,
                    "n_negatives": 1, "mine_depth": 1, "eval_batch_size": 1, "threads": 0}
        for name, low in at_least.items():
            if getattr(self, name) < low:
                raise ValueError(f"biencoder config {name} must be >= {low}, got {getattr(self, name)}")
        if not self.lr > 0 or not self.scale > 0:
            raise ValueError(f"biencoder config lr and scale must be > 0, got lr={self.lr}, scale={self.scale}")
        if not 0 <= self.warmup_ratio < 1 or self.weight_decay < 0:
            raise ValueError("biencoder config warmup_ratio must be in [0, 1) and weight_decay >= 0")
        if not 0 < self.mine_margin <= 1:
            raise ValueError(f"biencoder config mine_margin must be in (0, 1], got {self.mine_margin}")
        if not self.base_model.strip():
            raise ValueError("biencoder config base_model is empty")
        from patlink.devices import check_device_spec

        check_device_spec(self.device)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"architecture": self.architecture, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BiEncoderConfig:
        """From :meth:`to_dict` output or a partial dict (missing keys keep their defaults).

        Raises:
            ValueError: an unknown key, or an ``architecture`` other than ``biencoder``.
        """
        d = dict(d)
        arch = d.pop("architecture", "biencoder")
        if arch != "biencoder":
            raise ValueError(f"not a bi-encoder config (architecture {arch!r})")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown bi-encoder config key(s) {unknown}; valid: {', '.join(sorted(names))}")
        return cls(**d)

    @classmethod
    def from_json(cls, path: str | Path) -> BiEncoderConfig:
        """Read a (partial) config file. Raises ``ValueError`` naming the file."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not a readable JSON file ({e})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{path}: expected a JSON object")  # noqa: TRY004 - a bad file is a ValueError
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None

    def replace(self, **changes: Any) -> BiEncoderConfig:
        """A copy with ``changes`` (field names)."""
        return dataclasses.replace(self, **changes)


#: What :func:`train_biencoder` returns: the same result as the linker's (``patlink train`` prints either).
BiEncoderResult = TrainResult


# ---------------------------------------------------------------------------------------------- checks
def _resume_key(cfg: BiEncoderConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.to_dict().items() if k not in _NOT_RESUME_KEYS}


def _last_checkpoint(out: Path) -> Path | None:
    """The newest COMPLETE trainer checkpoint (``trainer_state.json`` is the last file written) under
    ``out/checkpoints``."""
    root = out / "checkpoints"
    if not root.is_dir():
        return None
    done = [p for p in root.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and
            (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1])) if done else None


def has_checkpoint(out: str | Path) -> bool:
    """True when ``out`` holds a trainer checkpoint a run can resume from."""
    return _last_checkpoint(Path(out)) is not None


def check_biencoder_run(cfg: BiEncoderConfig, out: str | Path, *, resume: bool = False) -> None:
    """The checks made before any data is read or file written: ``cfg.validate()``, and with ``resume`` and a
    checkpoint in ``out``, that ``out/config.json`` holds the same config (up to epochs, device, threads, progress).

    Raises:
        ValueError: one line.
    """
    cfg.validate()
    out = Path(out)
    if not (resume and has_checkpoint(out)):
        return
    try:
        stored = BiEncoderConfig.from_dict(json.loads((out / "config.json").read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"cannot resume {out}: its config.json cannot be read as a bi-encoder config ({e}); "
                         "remove the folder or use a new --out folder") from None
    old, new = _resume_key(stored), _resume_key(cfg)
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        raise ValueError(f"cannot resume {out}: the config differs in {diff}; use the same config (only epochs may "
                         "change) or a new --out folder")


def _split_lists(split) -> dict[str, list[tuple[str, str]]]:
    d = split if isinstance(split, dict) else {k: getattr(split, k) for k in ("train", "val", "test")
                                               if hasattr(split, k)}
    return {k: [tuple(x) for x in (v or [])] for k, v in d.items()}


def _check_inputs(ds, split: dict) -> None:
    from patlink.training.checks import check_split_links

    train, val = split.get("train", []), split.get("val", [])
    check_split_links(ds, train, val, selected="the best epoch")
    it = ds.item_texts({i for i, _ in train + val})
    empty = sorted(i for i, t in it.items() if not t.strip())
    if empty:
        raise ValueError(f"{len(empty)} item(s) have no text in view {','.join(ds.item_view)}, e.g. {empty[:3]}; "
                         "choose another --item-view or drop them")
    pt = ds.patent_texts({p for _, p in train + val})
    empty = sorted(p for p, t in pt.items() if not t.strip())
    if empty:
        raise ValueError(f"{len(empty)} patent(s) have no text in view {','.join(ds.patent_view)}, e.g. "
                         f"{empty[:3]}; hydrate or summarise them, leave them out (--missing-text drop) or choose "
                         "another --patent-view")


# ---------------------------------------------------------------------------------------------- training rows
def _mined_negatives(ds, train: list[tuple[str, str]], cfg: BiEncoderConfig, device: str) -> dict[str, list[str]]:
    """Hard negatives of each training item among the TRAINING patents (never a validation or test patent)."""
    try:
        from patlink.training.mining import mine_hard_negatives
    except ImportError as e:
        raise ValueError(f"negatives='mined' needs patlink.training.mining ({e})") from None
    from patlink.methods import BM25, Dense

    items = ds.item_texts({i for i, _ in train})
    patents = ds.patent_texts({p for _, p in train})
    positives: dict[str, set[str]] = {}
    for i, p in train:
        positives.setdefault(i, set()).add(p)
    scorer = BM25() if cfg.mine_with == "bm25" else Dense(cfg.base_model, max_length=cfg.max_length,
                                                          windows=cfg.windows, device=device)
    return mine_hard_negatives(items, patents, positives, scorer=scorer, depth=cfg.mine_depth,
                               n_negatives=cfg.n_negatives, strategy=cfg.mine_strategy, margin=cfg.mine_margin,
                               seed=cfg.seed)


def _negative_columns(n: int) -> list[str]:
    return ["negative"] if n == 1 else [f"negative_{j + 1}" for j in range(n)]


def training_rows(ds, train: list[tuple[str, str]], cfg: BiEncoderConfig, negatives: dict[str, list[str]] | None
                  = None) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The trainer's columns: ``anchor`` (item text), ``positive`` (a window of the linked patent) and, with
    ``negatives`` (item → mined patent ids), ``negative`` / ``negative_1 … negative_n`` (the same window index of
    each negative patent, or its last window).

    Returns:
        ``(columns, info)``; ``info`` counts ``links``, ``rows`` and ``links_without_negatives`` (left out: every
        row needs every column).
    """
    from patlink.data.chunking import backbone_chunks

    items, patents = ds.item_texts(), ds.patent_texts()
    per_window = cfg.windows if cfg.train_windows == "all" else 1
    cut: dict[str, list[str]] = {}

    def windows_of(p: str) -> list[str]:
        if p not in cut:
            cut[p] = backbone_chunks(patents[p], cfg.base_model, cfg.max_length, per_window)
        return cut[p]

    neg_cols = _negative_columns(cfg.n_negatives) if negatives is not None else []
    cols: dict[str, list[str]] = {"anchor": [], "positive": [], **{c: [] for c in neg_cols}}
    missing = 0
    links = sorted(set(train))
    for i, p in links:
        negs = (negatives or {}).get(i, [])[: cfg.n_negatives]
        if negatives is not None and len(negs) < cfg.n_negatives:
            missing += 1
            continue
        for k, w in enumerate(windows_of(p)):
            cols["anchor"].append(items[i])
            cols["positive"].append(w)
            for c, n in zip(neg_cols, negs):
                nw = windows_of(n)
                cols[c].append(nw[min(k, len(nw) - 1)])
    return cols, {"links": len(links), "rows": len(cols["anchor"]), "links_without_negatives": missing}


# ---------------------------------------------------------------------------------------------- model
def _build_model(cfg: BiEncoderConfig, device: str):
    """The base model, or a ``Router`` of two copies of it (``asymmetric``), with ``max_length`` tokens."""
    from sentence_transformers import SentenceTransformer

    from patlink.config import resolve_model_path
    from patlink.methods.biencoder import set_max_length

    path = resolve_model_path(cfg.base_model)

    def load():
        try:
            return SentenceTransformer(path, device=device)
        except Exception as e:  # noqa: BLE001 - many loader errors; one line
            raise ValueError(f"cannot load base model {cfg.base_model!r} ({type(e).__name__}: "
                             f"{str(e).splitlines()[0][:200] if str(e) else ''}); offline, use 'minilm' (bundled) or "
                             "a local sentence-transformers folder") from None

    model = load()
    if cfg.asymmetric:
        from sentence_transformers.base.modules import Router

        doc = load()
        router = Router.for_query_document(query_modules=list(model.children()),
                                           document_modules=list(doc.children()))
        model = SentenceTransformer(modules=[router], device=device)
    set_max_length(model, cfg.max_length)
    return model


def _build_loss(cfg: BiEncoderConfig, model):
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    kw: dict[str, Any] = {"scale": cfg.scale}
    if cfg.bidirectional:
        kw.update(directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction")
    if cfg.loss == "cached-mnrl":
        return CachedMultipleNegativesRankingLoss(model, mini_batch_size=cfg.mini_batch_size, **kw)
    return MultipleNegativesRankingLoss(model, **kw)


def _peak_rss_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(r / (1024 * 1024) if sys.platform == "darwin" else r / 1024, 1)


# ---------------------------------------------------------------------------------------------- validation
class _Pool:
    """The validation candidates, queries, qrels and the training links filtered out of the rankings."""

    def __init__(self, ds, split: dict, cfg: BiEncoderConfig):
        val = sorted(set(split["val"]))
        if cfg.val_pool == "split":
            from patlink.data.pools import pools_for

            items, patents = pools_for(ds, val, "split")
        else:
            items = {k: v for k, v in ds.item_texts().items() if v.strip()}
            patents = {k: v for k, v in ds.patent_texts().items() if v.strip()}
        self.items, self.patents = items, patents
        self.item_ids, self.patent_ids = list(items), list(patents)
        ii = {x: k for k, x in enumerate(self.item_ids)}
        pi = {x: k for k, x in enumerate(self.patent_ids)}
        self.known = [(ii[i], pi[p]) for i, p in sorted(set(split["train"])) if i in ii and p in pi]
        self.qrels = {"item2patent": {}, "patent2item": {}}
        for i, p in val:
            self.qrels["item2patent"].setdefault(i, {})[p] = 1
            self.qrels["patent2item"].setdefault(p, {})[i] = 1
        self.ii, self.pi = ii, pi

    def scores(self, model, cfg: BiEncoderConfig) -> dict:
        """:func:`patlink.training.validation.two_directions` of ``model`` on this pool."""
        import numpy as np

        from patlink.methods.biencoder import encode_windows
        from patlink.training.validation import ranking_metrics, two_directions

        kw = {"windows": cfg.windows, "max_length": cfg.max_length, "tokenizer": cfg.base_model,
              "batch_size": cfg.eval_batch_size}
        I = encode_windows(model, [self.items[i] for i in self.item_ids], side="item", **kw)
        P = encode_windows(model, [self.patents[p] for p in self.patent_ids], side="patent", **kw)
        S = I @ P.T
        for r, c in self.known:
            S[r, c] = -np.inf
        res = {}
        for direction in ("item2patent", "patent2item"):
            qrels = self.qrels[direction]
            qids = sorted(qrels)
            if direction == "item2patent":
                sub, dids = S[[self.ii[q] for q in qids]], self.patent_ids
            else:
                sub, dids = S.T[[self.pi[q] for q in qids]], self.item_ids
            res[direction] = ranking_metrics(np.nan_to_num(sub, neginf=-1e9), qids, dids, qrels, full=True)
        return two_directions(res["item2patent"], res["patent2item"])


class _RunState:
    """Everything ``metrics.json`` records, and the best point so far; rebuilt from disk on resume."""

    def __init__(self, out: Path, cfg: BiEncoderConfig, info: dict):
        self.out, self.cfg, self.info = out, cfg, info
        self.evals: list[dict] = []
        self.epochs: list[dict] = []
        self.steps: list[dict] = []
        self.best, self.best_step, self.best_epoch = -1.0, -1, -1
        self.best_val: dict = {}
        self.finished = False
        self.fusion: dict | None = None
        self.pending: dict = {}   # the training record of the epoch whose validation comes next
        self.start_step = 0
        self.steps_per_epoch = 1

    def restore(self, ckpt_step: int) -> None:
        """Keep what was recorded up to the checkpoint's step; the best point is the model in ``best/``."""
        from patlink.methods.biencoder import MODEL_INFO

        try:
            old = json.loads((self.out / "metrics.json").read_text())
        except (OSError, ValueError):
            old = {}
        try:
            best = json.loads((self.out / "best" / MODEL_INFO).read_text())
        except (OSError, ValueError):
            best = {}
        bstep = int(best.get("step", -1))

        def keep(rec: dict) -> bool:
            return rec.get("step", 0) <= ckpt_step or rec.get("step") == bstep

        self.evals = [e for e in old.get("evals", []) if keep(e)]
        self.epochs = [e for e in old.get("epochs", []) if keep(e)]
        self.steps = [s for s in old.get("steps", []) if s.get("step", 0) <= ckpt_step]
        for rec in self.evals + self.epochs:
            if rec.get("step", 0) > ckpt_step:
                rec["after_last_checkpoint"] = True   # its model is best/, the epoch is trained again
        if best:
            self.best, self.best_step, self.best_epoch = float(best["metric"]), bstep, int(best["epoch"])
            self.best_val = best.get("val", {})
        self.start_step = ckpt_step

    def write(self) -> None:
        from patlink.io import atomic_write_json

        trained = [e["train_time_s"] for e in self.epochs if e.get("train_time_s") is not None]
        atomic_write_json(self.out / "metrics.json", {
            "architecture": "biencoder", "config": self.cfg.to_dict(), **self.info,
            "epochs": self.epochs, "steps": self.steps, "evals": self.evals,
            "best_epoch": self.best_epoch, "best_step": self.best_step, "best_metric": self.best,
            "select_metric": self.cfg.select_metric, "best_val": self.best_val,
            "seconds_per_epoch": (sum(trained) / len(trained)) if trained else None,
            "peak_rss_mib": _peak_rss_mib(), "fusion": self.fusion, "finished": self.finished})


def _save_best(model, state: _RunState, epoch: int, step: int, metric: float, val: dict) -> None:
    """``best/`` and its model info, atomically together (a fresh fingerprint names the new model's cache)."""
    from patlink.io import atomic_directory
    from patlink.methods.biencoder import MODEL_INFO

    with atomic_directory(state.out / "best") as tmp:
        model.save(str(tmp))
        (tmp / MODEL_INFO).write_text(json.dumps({"fingerprint": uuid.uuid4().hex, "epoch": epoch, "step": step,
                                                  "metric": metric, "val": val}, indent=2))


def _write_marker(ds, state: _RunState) -> None:
    from patlink.config import resolve_model_path
    from patlink.io import atomic_write_json
    from patlink.methods.biencoder import BIENCODER_FORMAT, BIENCODER_MARKER, ROUTES

    cfg = state.cfg
    atomic_write_json(state.out / BIENCODER_MARKER, {
        "format": BIENCODER_FORMAT, "architecture": "biencoder", "model_dir": "best", "dataset": ds.name,
        "item_view": list(ds.item_view), "patent_view": list(ds.patent_view), "base_model": cfg.base_model,
        "base_model_path": resolve_model_path(cfg.base_model), "windows": cfg.windows,
        "max_length": cfg.max_length, "asymmetric": cfg.asymmetric, "routes": ROUTES if cfg.asymmetric else None,
        "best_epoch": state.best_epoch, "best_step": state.best_step, "best_val": state.best_val,
        "fusion": state.fusion, "finished": state.finished})


def _make_evaluator(ds, pool: _Pool, state: _RunState, log: Log):
    """A sentence-transformers evaluator that validates, keeps ``best/`` and writes ``metrics.json``."""
    from sentence_transformers.base.evaluation import BaseEvaluator

    cfg = state.cfg

    class LinkValidation(BaseEvaluator):
        """Validation MRR of both directions on the run's validation links (patlink.training.validation)."""

        def __init__(self):
            super().__init__()
            self.primary_metric = cfg.select_metric
            self.last: dict[str, float] = {}

        def __call__(self, model, output_path=None, epoch: float = -1, steps: int = -1) -> dict[str, float]:
            step = max(0, int(steps))
            done = {e["step"]: e for e in state.evals}
            if step == state.start_step and step in done:   # a resumed run: this point is already validated
                e = done[step]
                return {"mrr_item2patent": e["mrr_item2patent"], "mrr_patent2item": e["mrr_patent2item"],
                        "mrr_mean": 0.5 * (e["mrr_item2patent"] + e["mrr_patent2item"])}
            ep = round(epoch) if epoch is not None and epoch >= 0 else 0
            t0 = time.perf_counter()
            val = pool.scores(model, cfg)
            dt = time.perf_counter() - t0
            metric = float(val[cfg.select_metric])
            improved = metric > state.best
            if improved:
                state.best, state.best_step, state.best_epoch = metric, step, ep
                state.best_val = {k: v for k, v in val.items() if k.startswith("mrr_")}
                _save_best(model, state, ep, step, metric, state.best_val)
            state.evals.append({"step": step, "epoch": ep, "mrr_item2patent": val["mrr_item2patent"],
                                "mrr_patent2item": val["mrr_patent2item"], "metric": metric, "improved": improved})
            rec = {"epoch": ep, "step": step, **state.pending, "val": val, "val_time_s": dt, "improved": improved,
                   "peak_rss_mib": _peak_rss_mib()}
            if cfg.device.startswith("cuda"):
                import torch

                rec["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
            state.pending = {}
            state.epochs.append(rec)
            state.write()
            _write_marker(ds, state)
            log(f"epoch {ep}: val MRR item→patent {val['mrr_item2patent']:.4f} patent→item "
                f"{val['mrr_patent2item']:.4f}" + (f" (train {rec['train_time_s']:.1f} s)" if "train_time_s" in rec
                                                   else " (base model)") + (" *" if improved else ""))
            self.last = {k: float(val[k]) for k in SELECT_METRICS}
            return dict(self.last)

    return LinkValidation()


def _make_recorder(state: _RunState):
    """Seconds per epoch and the logged losses, into ``state``."""
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        def __init__(self):
            self.t0, self.first = time.perf_counter(), 0

        def on_epoch_begin(self, args, st, control, **kw):
            self.t0, self.first = time.perf_counter(), st.global_step

        def on_epoch_end(self, args, st, control, **kw):
            state.pending = {"train_time_s": time.perf_counter() - self.t0,
                             "train_loss": _mean([s["loss"] for s in state.steps if s["step"] > self.first])}

        def on_log(self, args, st, control, logs=None, **kw):
            if logs and "loss" in logs:
                state.steps.append({"step": st.global_step, "loss": float(logs["loss"]),
                                    "lr": float(logs.get("learning_rate", float("nan"))),
                                    "grad_norm": float(logs.get("grad_norm", float("nan")))})

    return Recorder()


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


# ---------------------------------------------------------------------------------------------- fusion
def tune_biencoder_fusion(run_dir: str | Path, ds, val_links, *, device: str = "cpu") -> dict:
    """The BM25 fusion weight α of the bi-encoder (``s = α·biencoder + (1-α)·bm25``, min-max convex fusion) tuned
    on ``val_links`` in ``patlink eval``'s default pool (the validation links' items and patents), per direction
    and jointly, on the grid of :func:`patlink.training.fusion.tune_linker_fusion`. Written to ``fusion.json``;
    the caller records it in the marker. Returns the record (keys of the linker's)."""
    from patlink.data.pools import pools_for
    from patlink.io import atomic_write_json
    from patlink.methods.biencoder import BiEncoderMethod
    from patlink.methods.lexical import BM25
    from patlink.retrieval.fusion import convex_weight_curve, pick_weight
    from patlink.training.fusion import DEFAULT_GRID

    grid = [float(a) for a in DEFAULT_GRID]
    items, patents = pools_for(ds, list(val_links), "split")
    base = BiEncoderMethod(run_dir, device=device)   # its window vectors stay cached for patlink eval
    curves: dict[str, list[float]] = {}
    for direction in ("item2patent", "patent2item"):
        queries, docs = (items, patents) if direction == "item2patent" else (patents, items)
        qrels = ds.qrels(list(val_links), direction)
        queries = {q: queries[q] for q in qrels}
        be, bm = base.for_direction(direction), BM25()
        be.index(docs)
        bm.index(docs)
        k = min(1000, len(docs))
        curves[direction] = convex_weight_curve(be.search(queries, k), bm.search(queries, k), qrels, "mrr", grid)
    joint = [0.5 * (x + y) for x, y in zip(curves["item2patent"], curves["patent2item"])]
    out = {"alpha": pick_weight(grid, joint), "alpha_item2patent": pick_weight(grid, curves["item2patent"]),
           "alpha_patent2item": pick_weight(grid, curves["patent2item"]), "metric": "mrr", "grid": grid,
           "val_mrr": curves, "tuned_on": "val", "n_val_links": len(set(map(tuple, val_links)))}
    atomic_write_json(Path(run_dir) / "fusion.json", out)
    return out


# ---------------------------------------------------------------------------------------------- entry point
def _result(state: _RunState) -> BiEncoderResult:
    return BiEncoderResult(state.out, state.out / "best", state.best_epoch, state.best,
                           [e for e in state.epochs if e.get("epoch", 0) > 0], False, state.best_step,
                           state.fusion, state.best_val)


def _finished_result(out: Path) -> BiEncoderResult:
    m = json.loads((out / "metrics.json").read_text())
    return BiEncoderResult(out, out / "best", int(m["best_epoch"]), float(m["best_metric"]),
                           [e for e in m.get("epochs", []) if e.get("epoch", 0) > 0], False, int(m["best_step"]),
                           m.get("fusion"), m.get("best_val", {}))


def train_biencoder(ds, split, config: BiEncoderConfig | None = None, out: str | Path = "runs/biencoder", *,
                    resume: bool = False, log: Log = _quiet, callbacks: Sequence = ()) -> BiEncoderResult:
    """Fine-tune a sentence-transformers model end to end on the split's training links; keep the epoch with the
    best validation MRR (epoch 0 = the base model) in ``out/best``.

    Args:
        ds: :class:`patlink.data.Dataset` with the text views to use applied (``ds.with_views``).
        split: ``{"train": [(item, patent), …], "val": […], "test": […]}`` or an object with those attributes.
            Test links are stored in ``split.json``, never read.
        config: :class:`BiEncoderConfig` (defaults if None).
        out: the run folder (see the module docstring).
        resume: continue an interrupted run from its last trainer checkpoint (same config; ``epochs`` may
            change); a finished run is returned as it is.
        log: one line per epoch and per stage.
        callbacks: more ``transformers.TrainerCallback`` objects for the trainer (e.g. to stop it).

    Returns:
        :class:`BiEncoderResult`.

    Raises:
        ValueError: before any file is written: an invalid config, a config differing from the checkpoint's, no
            training or validation links, unknown ids, items or patents without text, a base model that cannot
            be loaded, no training row (mined negatives missing for every link).
    """
    from patlink.devices import amp_dtype, resolve_device

    cfg = config or BiEncoderConfig()
    cfg.validate()
    cfg = dataclasses.replace(cfg, device=resolve_device(cfg.device))   # the device used is what is recorded
    out = Path(out)
    check_biencoder_run(cfg, out, resume=resume)
    split = _split_lists(split)
    _check_inputs(ds, split)
    from patlink.training.runs import is_finished

    if resume and is_finished(out) and (out / "best").is_dir():
        log(f"{out} is a finished run; nothing to resume")
        return _finished_result(out)
    ckpt = _last_checkpoint(out) if resume else None

    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    train = sorted(set(split["train"]))
    negatives = report = None
    if cfg.negatives == "mined":
        log(f"mining {cfg.n_negatives} hard negative(s) per training item with {cfg.mine_with} "
            f"({cfg.mine_strategy}) among the {len({p for _, p in train})} training patents")
        negatives = _mined_negatives(ds, train, cfg, cfg.device)
        report = getattr(negatives, "report", None)
        if report is not None:
            log(f"mined: {report.summary()}")
    cols, info = training_rows(ds, train, cfg, negatives)
    if info["rows"] < cfg.batch_size:
        raise ValueError(f"{info['rows']} training rows for batch_size={cfg.batch_size}: no full batch; use a smaller "
                         "--batch-size" + (" (or mine negatives for more links)" if info["links_without_negatives"]
                                           else ""))
    model = _build_model(cfg, cfg.device)
    pool = _Pool(ds, split, cfg)

    # nothing was written before this point
    from patlink.io import atomic_write_json

    out.mkdir(parents=True, exist_ok=True)
    if ckpt is None:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)   # a fresh run never resumes stale checkpoints
    atomic_write_json(out / "config.json", cfg.to_dict())
    atomic_write_json(out / "split.json", {k: [list(x) for x in v] for k, v in split.items()})
    state = _RunState(out, cfg, {"n_train_links": info["links"], "n_train_rows": info["rows"],
                                 "links_without_negatives": info["links_without_negatives"],
                                 "n_val_links": len(set(split["val"])), "val_pool": {
                                     "items": len(pool.item_ids), "patents": len(pool.patent_ids)},
                                 **({"mining": report.to_dict()} if report is not None else {})})
    state.steps_per_epoch = max(1, info["rows"] // cfg.batch_size)
    if ckpt is not None:
        state.restore(int(ckpt.name.split("-")[-1]))
        log(f"resuming from {ckpt}")
    log(f"training a bi-encoder ({cfg.base_model}{', asymmetric' if cfg.asymmetric else ''}, {cfg.loss}) on "
        f"{ds.name}: {info['links']} train links → {info['rows']} rows, {len(set(split['val']))} val links, items "
        f"[{','.join(ds.item_view)}] patents [{','.join(ds.patent_view)}], windows={cfg.windows}")

    from datasets import Dataset as HFDataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    amp = amp_dtype(cfg.device) if cfg.mixed_precision else None
    neg_cols = [c for c in cols if c.startswith("negative")]
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"), num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr, warmup_steps=float(cfg.warmup_ratio), weight_decay=cfg.weight_decay, seed=cfg.seed,
        data_seed=cfg.seed, batch_sampler=BatchSamplers.NO_DUPLICATES, dataloader_drop_last=True,
        eval_strategy="epoch", eval_on_start=True, save_strategy="epoch", save_total_limit=1,
        logging_strategy="steps", logging_steps=max(1, state.steps_per_epoch // 5), report_to="none",
        use_cpu=cfg.device == "cpu", bf16=amp == torch.bfloat16, fp16=amp == torch.float16,
        disable_tqdm=not cfg.progress, dataloader_num_workers=0,
        router_mapping={"anchor": "query", "positive": "document", **{c: "document" for c in neg_cols}}
        if cfg.asymmetric else {})
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=HFDataset.from_dict(cols),
                                         loss=_build_loss(cfg, model), evaluator=_make_evaluator(ds, pool, state, log),
                                         callbacks=[_make_recorder(state), *callbacks])
    if not cfg.progress:
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt is not None else None)
    if cfg.tune_fusion and state.best_step >= 0:
        state.fusion = tune_biencoder_fusion(out, ds, sorted(set(split["val"])), device=cfg.device)
        log(f"BM25 fusion tuned on validation: alpha={state.fusion['alpha']} (item→patent "
            f"{state.fusion['alpha_item2patent']}, patent→item {state.fusion['alpha_patent2item']})")
    state.finished = True
    state.write()
    _write_marker(ds, state)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)   # a finished run is final (a rerun retrains)
    return _result(state)
