"""Training loop of the linker (El Bouari & de Rassenfosse, "Product-Patent linkage prediction", §3.3–3.4).

The loop is the trainer's; everything that varies is a part it is given by the configuration:

- the loss (:mod:`patlink.losses`): :class:`~patlink.losses.supcon.SupConLoss` (bidirectional supervised
  contrastive, in-batch and extra negatives) or :class:`~patlink.losses.soft_knn.SoftKNNLoss` (patents scored by
  their members);
- the patent representation (:mod:`patlink.training.patents`): own text, item set pooled, item set members;
- the extra-negative source (:mod:`patlink.training.negatives`): in-batch only, random, BM25-mined, known (the
  dataset's judged non-relevant pairs), adversarial (REINFORCE policies), with the curriculum of
  :class:`~patlink.training.config.Curriculum`.

The trainer keeps batching, AdamW with linear warm-up + cosine decay, the L2-SP anchor, ZClip adaptive gradient
clipping (``zclip`` package), validation (:mod:`patlink.training.validation`; the checkpoint is *selected on
validation MRR*, not loss), early stopping, and resumable checkpoints written atomically.

The encoders train on ``config.device`` (:func:`patlink.devices.resolve_device`; ``cpu`` by default), with mixed
precision on CUDA (:func:`patlink.devices.autocast`, and a gradient scaler for float16); token arrays are padded
on the CPU and moved to the encoders' device by the encoders, and the extra-negative sampler runs on the CPU.
On the CPU every step is bitwise what it is without a device.

Output folder ``out_dir``::

    best/             best model (Linker.save: model.safetensors + linker.json)
    run.json          dataset, views, direction info for LinkerRetriever; with mined negatives the mining report
                      (``"mining"``: queries, negatives kept, dropped above the margin, skipped, per side)
    split.json        the train/val(/test) links used
    metrics.json      config, per-epoch metrics, per-step losses/rewards, best epoch (rewritten every epoch);
                      ``"finished": true`` once the run (and its fusion tuning) is complete
    checkpoint.pt     last epoch: model + optimizers + scheduler + ZClip + RNG state (torch.load weights_only)
    policy.npz        adversary policy snapshots of one probe item and patent (for the Fig. 2 heat-map)
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from patlink.devices import amp_dtype, autocast, grad_scaler, resolve_device
from patlink.io import atomic_write_json, atomic_writer
from patlink.losses.soft_knn import SoftKNNLoss
from patlink.losses.supcon import SupConLoss
from patlink.models.linker import Linker
from patlink.models.token_cache import pad_batch
from patlink.training.config import TrainConfig
from patlink.training.negatives import Batch, build_negatives
from patlink.training.negatives.known import known_pools, negative_only_patents
from patlink.training.patents import patent_representation
from patlink.training.result import TrainResult
from patlink.training.sampler import LinkIndex, epoch_batches
from patlink.training.validation import member_knn_scores, validation_scores

__all__ = ["TrainResult", "member_knn_scores", "token_width", "train_linker", "validation_scores"]


# ---------------------------------------------------------------------------------------------- helpers
def _split_lists(split) -> dict[str, list[tuple[str, str]]]:
    if isinstance(split, dict):
        d = split
    else:
        d = {k: getattr(split, k) for k in ("train", "val", "test") if hasattr(split, k)}
    return {k: [tuple(x) for x in (v or [])] for k, v in d.items()}


def token_width(store, backbone: str) -> int | None:
    """Token embedding size of ``store`` before it embeds anything: its ``dim``/``d`` when it knows it, else the
    ``hidden_size`` in the backbone folder's ``config.json`` (384 for MiniLM); ``None`` when neither is known (then
    the size is checked when the encoders are built)."""
    for name in ("dim", "d"):
        v = getattr(store, name, None)
        if isinstance(v, int) and v > 0:
            return v
    from patlink.config import resolve_model_path

    path = Path(resolve_model_path(backbone)) / "config.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    width = meta.get("hidden_size") or meta.get("d_model") or meta.get("dim")
    return int(width) if isinstance(width, int) else None


_NOT_RESUME_KEYS = ("epochs", "progress", "threads", "device", "mixed_precision", "validation.patience",
                    "validation.batch_size", "validation.full_metrics", "validation.tune_fusion")


def _resume_key(cfg: TrainConfig) -> dict[str, Any]:
    """The config as ``{"section.field": value}`` without the settings a resumed run may change."""
    out: dict[str, Any] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            elif f"{prefix}{k}" not in _NOT_RESUME_KEYS:
                out[f"{prefix}{k}"] = v
    walk(cfg.to_dict(), "")
    return out


def _lr_lambda(total: int, warmup: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        prog = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, prog)))
    return f


def _check_inputs(ds, split: dict, config: TrainConfig) -> None:
    from patlink.training.checks import check_split_links

    train, val = split.get("train", []), split.get("val", [])
    check_split_links(ds, train, val, selected="the checkpoint")
    used_items = {i for i, _ in train + val}
    used_patents = {p for _, p in train + val}
    if config.negatives.source == "known":
        known = getattr(ds, "negative_links", None) or []
        if not known:
            raise ValueError(f"negatives.source='known' but dataset {ds.name!r} has no known negatives (qrels rows "
                             "with score 0, Dataset.negative_links); use --negatives bm25 or export reviewed decisions")
        added, left_out = _negative_only(ds, split, config)
        if known_pools(LinkIndex.from_links(sorted({tuple(x) for x in train}), added), known)[2] == 0:
            why = ""
            if left_out.get("item_set"):
                why = (f" ({left_out['item_set']} link-less patents among them, which patent_repr='item_set' "
                       "cannot represent: a patent is known by its training items)")
            elif left_out.get("no_text"):
                why = (f" ({left_out['no_text']} link-less patents among them without text in view "
                       f"{','.join(ds.patent_view)})")
            raise ValueError(f"negatives.source='known': none of the {len(known)} known negatives of {ds.name!r} "
                             f"pairs a training item with a patent of the training graph{why}; use --negatives "
                             "bm25 or review candidates of the training items")
    it = ds.item_texts(used_items)
    empty = sorted(i for i, t in it.items() if not t.strip())
    if empty:
        raise ValueError(f"{len(empty)} item(s) have no text in view {','.join(ds.item_view)}, e.g. {empty[:3]}; "
                         "choose another --item-view or drop them")
    if config.patents.representation == "item_set":
        deg: dict[str, int] = {}
        for _, p in set(map(tuple, train)):
            deg[p] = deg.get(p, 0) + 1
        if not any(d >= 2 for d in deg.values()):
            raise ValueError("patent_repr='item_set' needs patents with >= 2 training items (a patent is encoded "
                             "from its OTHER items); no training patent has two")
        return
    pt = ds.patent_texts(used_patents)
    emptyp = sorted(p for p, t in pt.items() if not t.strip())
    if emptyp:
        raise ValueError(f"{len(emptyp)} patent(s) have no text in view {','.join(ds.patent_view)}, e.g. "
                         f"{emptyp[:3]}; "
                         + ("summarise them (`patlink summarise`)" if "summary" in ds.patent_view else
                            "hydrate patent texts (`patlink hydrate`, then --texts STORE)")
                         + ", leave them out (--missing-text drop) or choose another --patent-view")
    if config.curriculum.ever():
        n_items, n_pat = len({i for i, _ in train}), len({p for _, p in train})
        if min(n_items, n_pat) <= 2:
            raise ValueError("extra negatives need more than 2 training items and patents")


def _negative_only(ds, split: dict, config: TrainConfig) -> tuple[list[str], dict[str, int]]:
    """The link-less patents the training graph gets: with ``negatives.source="known"`` only, the patents judged
    non-relevant to a training item that are in no link of the split (train, val, test) nor of the dataset
    (:func:`~patlink.training.negatives.known.negative_only_patents`), when they can be represented: with
    ``patents.representation="text"`` those with text (they are embedded like every other patent); with
    ``item_set`` none (a patent without linked items has nothing to be encoded from). Every other source gets none,
    so its training graph and numbers are exactly those of the training links.

    Returns:
        ``(sorted patent ids added, {reason: count} of those left out)``: reasons ``item_set`` and ``no_text``.
    """
    if config.negatives.source != "known":
        return [], {}
    held_out = [tuple(x) for k, v in split.items() if k != "train" for x in v] + [tuple(x) for x in ds.links]
    cands = negative_only_patents(getattr(ds, "negative_links", None) or [], split.get("train", []), held_out)
    if not cands:
        return [], {}
    if config.patents.representation == "item_set":
        return [], {"item_set": len(cands)}
    texts = ds.patent_texts(cands)
    added = [p for p in cands if texts.get(p, "").strip()]
    return added, ({"no_text": len(cands) - len(added)} if len(added) < len(cands) else {})


# ---------------------------------------------------------------------------------------------- trainer
class _Trainer:
    """One training run: the parts the config selects (loss, patent representation, negative source) and the
    loop's state (optimizer, scheduler, ZClip, evaluations, early stopping). Checks run before any token embedding
    is computed or file written."""

    def __init__(self, ds, split: dict, config: TrainConfig, out_dir: Path, store=None, resume: bool = False):
        config.validate()
        # the device actually used is what the run records (``auto`` resolved)
        config = dataclasses.replace(config, device=resolve_device(config.device))
        _check_inputs(ds, split, config)
        self.cfg, self.ds, self.split, self.out = config, ds, split, Path(out_dir)
        self.train_links = sorted({tuple(x) for x in split["train"]})
        self.val_links = sorted({tuple(x) for x in split["val"]})
        # known negatives: the patents known only as negatives join the graph as link-less patents (_negative_only)
        self.negative_only, self.negative_only_left_out = _negative_only(ds, split, config)
        self.idx = LinkIndex.from_links(self.train_links, self.negative_only)
        Representation = patent_representation(config)
        self.pairs = Representation.trainable_pairs(self.idx)
        self.n_batches = len(epoch_batches(len(self.pairs), config.batch_size, config.seed, 0))
        if self.n_batches == 0:
            raise ValueError(f"batch_size={config.batch_size} leaves no batch of >= 2 links")
        self.device = config.device
        self.amp = amp_dtype(self.device) if config.mixed_precision else None   # None: float32
        self.scaler = grad_scaler(self.device, self.amp)
        self.store = store if store is not None else _default_store(config)
        width = token_width(self.store, config.encoder.backbone)
        if width is not None:   # sizes against the backbone before any embedding is computed or file written
            config.check_token_width(width)
        self.out.mkdir(parents=True, exist_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        self.gen = torch.Generator().manual_seed(config.seed)

        itexts, ptexts = self._embed(ds, Representation.has_text)
        self.patents = Representation(config, self.idx, self.tr_items, self.patent_arrays, ptexts)
        d_in = int(next(iter(self.item_arrays.values())).shape[1])
        config.check_token_width(d_in)
        self.model = Linker(config.encoder, d_in, config.loss.temperature, store=self.store).to(self.device)
        self._build_loss()
        self._build_optimiser()
        self.negatives = build_negatives(config, self.idx, self.tr_items, [itexts[i] for i in self.idx.items],
                                         self.patents, self.gen, negative_links=getattr(ds, "negative_links", ()))
        self.epoch = self.global_step = self.bad_epochs = 0
        self.best, self.best_epoch, self.best_step = -1.0, -1, -1
        self.finished = False
        self.best_val: dict = {}
        self.evals: list[dict] = []
        self.history: list[dict] = []
        self.steps: list[dict] = []
        self.ckpt = self.out / "checkpoint.pt"
        if resume and self.ckpt.exists():
            self._load_checkpoint()
        self._write_static()

    # ------------------------------------------------------------------ parts
    def _embed(self, ds, patent_text: bool) -> tuple[dict[str, str], dict[str, str]]:
        """Token arrays of every item (and, with patent text, every patent) of the dataset with text: the
        validation candidates; the BM25 prior of residual training over the same texts."""
        itexts = {k: v for k, v in ds.item_texts().items() if v.strip()}
        ptexts = {k: v for k, v in ds.patent_texts().items() if v.strip()} if patent_text else {}
        self.item_arrays = dict(zip(itexts, self.store.encode(list(itexts.values()))))
        self.patent_arrays = dict(zip(ptexts, self.store.encode(list(ptexts.values())) if ptexts else []))
        self.tr_items = [self.item_arrays[i] for i in self.idx.items]
        self.lexical = None
        if self.cfg.loss.lexical_residual > 0:
            from patlink.training.lexical import LexicalPrior

            self.lexical = LexicalPrior(itexts, ptexts)   # BM25 over the full texts, both directions
        return itexts, ptexts

    def _build_loss(self) -> None:
        lo = self.cfg.loss
        self.soft_knn = self.supcon = None
        self._member_bank = None   # soft-kNN: the fixed embeddings of the known items, computed at the first step
        if lo.name == "nca":   # only the query (item) encoder learns; the known items are a fixed bank
            self.soft_knn = SoftKNNLoss(lo.temperature)
            for p in self.model.patent_encoder.parameters():
                p.requires_grad_(False)
        else:
            self.supcon = SupConLoss(lo.temperature, lo.denominator)

    def _build_optimiser(self) -> None:
        o, total = self.cfg.optim, self.n_batches * self.cfg.epochs
        # L2-SP anchor: the initial parameters (deterministic given the seed, so a resumed run rebuilds them)
        self.anchor = [p.detach().clone() for p in self.model.parameters()] if o.anchor > 0 else None
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=o.lr,
                                     weight_decay=o.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, _lr_lambda(total, int(o.warmup_ratio * total)))
        self.zclip = None
        if o.zclip:
            from zclip import ZClip

            self.zclip = ZClip(max_grad_norm=o.zclip_max_norm)

    # ------------------------------------------------------------------ persistence
    def _write_static(self) -> None:
        atomic_write_json(self.out / "split.json", {k: [list(x) for x in v] for k, v in self.split.items()})
        atomic_write_json(self.out / "run.json", {
            "format": "patlink-linker-run/1", "dataset": self.ds.name, "item_view": list(self.ds.item_view),
            "patent_view": list(self.ds.patent_view), "model_dir": "best", "negatives": self.cfg.negatives.source,
            "n_train_links": len(self.train_links), "n_val_links": len(self.val_links),
            "n_parameters": self.model.n_parameters(), "patent_repr": self.cfg.patents.representation,
            "n_trainable_links": len(self.pairs), "lexical_residual": self.cfg.loss.lexical_residual,
            "max_chunks": self.cfg.encoder.max_chunks,
            **({"n_known_negatives": self.negatives.n_known,   # usable: both ids in the training graph
                "n_dataset_negative_links": len(self.ds.negative_links),
                "n_negative_only_patents": len(self.negative_only),   # link-less patents added to the graph
                "negative_only_patents_left_out": self.negative_only_left_out}
               if hasattr(self.negatives, "n_known") else {}),
            # mined negatives: what the teacher's candidates kept and dropped, per side (patent negatives of item
            # queries, item negatives of patent queries; MiningReport.to_dict)
            **({"mining": {"teacher": self.cfg.negatives.mining.scorer,
                           "patent": self.negatives.reports["patent"].to_dict(self.idx.items),
                           "item": self.negatives.reports["item"].to_dict(self.idx.patents)}}
               if hasattr(self.negatives, "reports") else {})})

    def _state(self) -> dict:
        st = {"epoch": self.epoch, "best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
              "global_step": self.global_step, "best_step": self.best_step, "evals_json": json.dumps(self.evals),
              "best_val_json": json.dumps(self.best_val), "model": self.model.state_dict(),
              "opt": self.opt.state_dict(), "sched": self.sched.state_dict(), "torch_rng": torch.get_rng_state(),
              "gen": self.gen.get_state(), "history_json": json.dumps(self.history),
              "steps_json": json.dumps(self.steps), "policy_json": json.dumps(self.negatives.policy),
              "config_json": json.dumps(self.cfg.to_dict())}
        if self.zclip is not None:
            z = self.zclip
            st["zclip_json"] = json.dumps({"buffer": z.buffer, "initialized": z.initialized,
                                           "mean": z.mean, "var": z.var})
        st.update(self.negatives.state_dict())   # the bank (a resumed run continues with it) and the policies
        return st

    def _save_checkpoint(self) -> None:
        with atomic_writer(self.ckpt) as f:
            torch.save(self._state(), f)

    def _load_checkpoint(self) -> None:
        try:   # tensors move to the device below
            st = torch.load(self.ckpt, weights_only=True, map_location="cpu")
        except PermissionError:
            raise
        except Exception:  # noqa: BLE001 - a cut-off file gives OSError, RuntimeError, EOFError, UnpicklingError ...
            st = None
        if not isinstance(st, dict) or not {"model", "opt", "epoch"} <= set(st):
            raise ValueError(f"{self.ckpt} is truncated or corrupt: delete it or train without --resume")
        stored = json.loads(st.get("config_json", "{}"))
        if stored:   # the nested config, or the flat one of a checkpoint written before it
            old, new = _resume_key(TrainConfig.from_dict(stored)), _resume_key(self.cfg)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if diff:
                raise ValueError(f"cannot resume {self.ckpt}: the config differs in {diff}; use the same config "
                                 "(only epochs/patience may change) or a new --out folder")
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["opt"])
        self.sched.load_state_dict(st["sched"])
        torch.set_rng_state(st["torch_rng"])
        self.gen.set_state(st["gen"])
        self.epoch, self.best, self.best_epoch = int(st["epoch"]), float(st["best"]), int(st["best_epoch"])
        self.bad_epochs, self.global_step = int(st["bad_epochs"]), int(st["global_step"])
        self.history = json.loads(st["history_json"])
        self.best_step = int(st.get("best_step", -1))
        self.best_val = json.loads(st.get("best_val_json", "{}"))
        self.evals = json.loads(st.get("evals_json", "[]"))
        self.steps = json.loads(st["steps_json"])
        self.negatives.policy = json.loads(st["policy_json"])
        if self.zclip is not None and "zclip_json" in st:
            for k, v in json.loads(st["zclip_json"]).items():
                setattr(self.zclip, k, v)
        self.negatives.load_state_dict(st)
        if self.negatives.bank is not None:
            self.negatives.bank = self.negatives.bank.to(self.device)

    def _write_metrics(self) -> None:
        atomic_write_json(self.out / "metrics.json", {
            "config": self.cfg.to_dict(), "epochs": self.history, "steps": self.steps,
            "best_epoch": self.best_epoch, "best_step": self.best_step, "best_metric": self.best,
            "select_metric": self.cfg.validation.select_metric, "best_val": self.best_val, "evals": self.evals,
            "finished": self.finished})
        policy = self.negatives.policy
        if policy["step"]:
            with atomic_writer(self.out / "policy.npz") as f:
                np.savez(f, step=np.array(policy["step"]), item_policy=np.array(policy["item_policy"]),
                         patent_policy=np.array(policy["patent_policy"]))

    # ------------------------------------------------------------------ one step
    def _autocast(self):
        """Mixed precision for a step's forward pass (a no-op off CUDA or with ``mixed_precision=False``)."""
        return autocast(self.device, enabled=self.amp is not None, dtype=self.amp)

    def _encode_items(self, idx: np.ndarray) -> torch.Tensor:
        x, m = pad_batch([self.tr_items[int(i)] for i in idx])
        return self.model.item_encoder(x, m)

    def _step(self, batch: np.ndarray, epoch: int) -> dict:
        """One optimizer step on the links ``self.pairs[batch]``; returns what the step records."""
        pairs = self.pairs[batch]
        if self.soft_knn is not None:
            with self._autocast():
                loss = self._soft_knn_loss(np.unique(pairs[:, 0]))
            return self._optimise(loss, {})
        bi, bp = np.unique(pairs[:, 0]), np.unique(pairs[:, 1])
        with self._autocast():
            P = self._encode_items(bi)
            pb = self.patents.encode_batch(self.model, bp, bi, self.global_step)
        if not len(pb.patents):   # every patent of the batch has only batch items: nothing to contrast
            self.sched.step()
            return {"loss": 0.0, "skipped": 1.0}
        b = Batch(bi, P, pb, self.global_step)
        with self._autocast():
            neg = self.negatives.extra_negatives(b, epoch, self.model, self.patents)
            items, patents, Q = bi, pb.patents, pb.embeddings
            if neg is not None:
                P, Q = torch.cat([P, neg.item_embeddings]), torch.cat([Q, neg.patent_embeddings])
                items, patents = np.concatenate([bi, neg.items]), np.concatenate([patents, neg.patents])
            pos = self.idx.pos_matrix(items, patents).to(self.device)
            loss = self.supcon(P, Q, pos, *self._priors(items, patents))
        rec: dict[str, float] = {}
        self._optimise(loss, rec)
        rec.update(self.negatives.update(b, neg, P, Q))
        self.negatives.write_back(b, self.patents)
        return rec

    def _priors(self, items: np.ndarray, patents: np.ndarray) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Residual training: the BM25 prior added to the logits of each direction (``(None, None)`` when off)."""
        if self.lexical is None:
            return None, None
        lam = self.cfg.loss.lexical_residual
        B, Bt = self.lexical.block([self.idx.items[int(i)] for i in items], [self.idx.patents[int(p)] for p in patents])
        return lam * B.to(self.device), lam * Bt.T.to(self.device)

    def _soft_knn_loss(self, bi: np.ndarray) -> torch.Tensor:
        """Soft-kNN loss of the batch's items against every training item, each query leaving itself out;
        targets are its patents that have another training item."""
        if self._member_bank is None:
            self._member_bank = tuple(t.to(self.device) for t in self.patents.soft_knn_inputs(self.model))
        bank, link, predictable = self._member_bank
        rows = torch.as_tensor(bi, dtype=torch.long, device=self.device)
        return self.soft_knn(self._encode_items(bi), bank, link, link[rows] * predictable, rows)

    def _optimise(self, loss: torch.Tensor, rec: dict) -> dict:
        """One optimizer step on ``loss`` (+ the L2-SP anchor), ZClip, scheduler; records into ``rec``. With
        float16 on CUDA the gradients are scaled (:func:`patlink.devices.grad_scaler`) and unscaled before ZClip;
        elsewhere the scaler passes everything through unchanged."""
        total = loss
        if self.anchor is not None:
            drift = sum(((p - p0) ** 2).sum() for p, p0 in zip(self.model.parameters(), self.anchor))
            total = total + self.cfg.optim.anchor * drift
            rec["drift"] = float(drift.detach())
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.opt)
        if self.zclip is not None:
            rec["grad_norm"] = float(self.zclip.step(self.model))
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        rec["loss"] = float(loss.detach())
        return rec

    # ------------------------------------------------------------------ validation + selection
    def _validate(self) -> tuple[dict, bool]:
        """Validation metrics now; saves ``best/`` when ``select_metric`` improved. Returns (metrics, improved)."""
        val = self.patents.validate(self.model, self.item_arrays, self.val_links, self.train_links, self.lexical)
        metric = float(val[self.cfg.validation.select_metric])
        improved = metric > self.best
        if improved:
            self.best, self.best_epoch, self.bad_epochs = metric, self.epoch + (1 if self.global_step else 0), 0
            self.best_step = self.global_step
            self.best_val = {k: v for k, v in val.items() if k.startswith("mrr_")}
            self.model.save(self.out / "best", item_view=self.ds.item_view, patent_view=self.ds.patent_view)
        else:
            self.bad_epochs += 1
        self.evals.append({"step": self.global_step, "epoch": self.epoch + 1, "mrr_item2patent":
                           val["mrr_item2patent"], "mrr_patent2item": val["mrr_patent2item"],
                           "metric": metric, "improved": improved})
        return val, improved

    def _eval_points(self, n: int) -> set[int]:
        """Batches (1-based) of this epoch after which to validate (the epoch's end is validated anyway)."""
        v = self.cfg.validation
        if v.eval_every:
            return {b + 1 for b in range(n) if (self.global_step + b + 1) % v.eval_every == 0}
        return {round(n * (j + 1) / v.evals_per_epoch) for j in range(v.evals_per_epoch)}

    def _out_of_patience(self) -> bool:
        return bool(self.cfg.validation.patience) and self.bad_epochs >= self.cfg.validation.patience

    # ------------------------------------------------------------------ loop
    def _epoch(self, e: int) -> tuple[list[dict], float]:
        """Train one epoch (validating at its evaluation points); returns the step records and the seconds spent
        on mid-epoch validation."""
        from tqdm.auto import tqdm

        cfg = self.cfg
        k = self.negatives.start_epoch(e, self.model, self.patents)
        self.model.train()
        batches = epoch_batches(len(self.pairs), cfg.batch_size, cfg.seed, e)
        every = max(1, len(batches) // 5)
        recs: list[dict] = []
        eval_time = 0.0
        eval_points = self._eval_points(len(batches))
        bar = tqdm(batches, desc=f"epoch {e + 1}/{cfg.epochs} (k={k})", disable=not cfg.progress, leave=False)
        for b, batch in enumerate(bar):
            rec = self._step(batch, e)
            self.global_step += 1
            rec["step"] = self.global_step
            rec["epoch"] = e + 1
            recs.append(rec)
            self.steps.append(rec)
            bar.set_postfix(loss=f"{rec['loss']:.3f}")
            if k > 0 and b % every == 0:
                self.negatives.snapshot(self.model, self.tr_items[0], self.patents.probe_tokens(), self.global_step)
            if b < len(batches) - 1 and (b + 1) in eval_points:
                te = time.perf_counter()
                self._validate()
                self._write_metrics()    # mid-epoch evaluations are visible (and kept) before the epoch ends
                eval_time += time.perf_counter() - te
                if self._out_of_patience():
                    break   # stop mid-epoch; the end-of-epoch evaluation still runs
        return recs, eval_time

    def run(self) -> TrainResult:
        cfg = self.cfg
        stopped = False
        if cfg.validation.eval_at_start and self.global_step == 0 and not self.evals:
            # step 0 = the initial model (the zero-shot backbone with init="backbone"): if training never beats
            # it on validation, the saved model stays the backbone
            self._validate()
            self._write_metrics()
        while self.epoch < cfg.epochs:
            e = self.epoch
            t0 = time.perf_counter()
            recs, eval_time = self._epoch(e)
            train_time = time.perf_counter() - t0 - eval_time
            val, improved = self._validate()
            rewards = [r["reward"] for r in recs if "reward" in r]
            self.history.append({
                "epoch": e + 1, "hard_negatives": self.negatives.count(e),
                "train_loss": float(np.mean([r["loss"] for r in recs])),
                "reward": float(np.mean(rewards)) if rewards else None, "train_time_s": train_time,
                "lr": self.sched.get_last_lr()[0], "val": val, "improved": improved,
                "mid_epoch_eval_s": eval_time})
            self.epoch = e + 1
            if cfg.progress:
                print(f"epoch {e + 1}: loss {self.history[-1]['train_loss']:.4f}  val MRR i→p "
                      f"{val['mrr_item2patent']:.4f} p→i {val['mrr_patent2item']:.4f}  ({train_time:.1f}s)",
                      flush=True)
            stopped = self._out_of_patience()
            self._write_metrics()
            self._save_checkpoint()
            if stopped:
                break
        self.fusion = None
        if cfg.validation.tune_fusion and self.best_step >= 0 and self.patents.has_text:
            from patlink.training.fusion import tune_linker_fusion

            self.fusion = tune_linker_fusion(self.out, self.ds, self.val_links, store=self.store, device=self.device)
            if cfg.progress:
                print(f"BM25 fusion tuned on validation: alpha={self.fusion['alpha']} (item→patent "
                      f"{self.fusion['alpha_item2patent']}, patent→item {self.fusion['alpha_patent2item']})",
                      flush=True)
        self.finished = True  # marks a complete run (`patlink train --folds` skips finished folds)
        self._write_metrics()
        return TrainResult(self.out, self.out / "best", self.best_epoch, self.best, self.history, stopped,
                           self.best_step, self.fusion, self.best_val)


def _default_store(config: TrainConfig):
    from patlink.models.token_cache import TokenEmbeddingStore

    e = config.encoder
    return TokenEmbeddingStore(e.backbone, e.max_length, show_progress=config.progress, max_chunks=e.max_chunks,
                               device=config.device)


def train_linker(ds, split, config: TrainConfig | None = None, out_dir: str | Path = "runs/linker", *,
                 store=None, resume: bool = False) -> TrainResult:
    """Train the dual-encoder linker and keep the checkpoint with the best validation MRR.

    Args:
        ds: :class:`patlink.data.Dataset` with the text views to use already applied (``ds.with_views``).
        split: ``{"train": [(item, patent), ...], "val": [...], "test": [...]}`` or an object with ``.train``,
            ``.val`` (e.g. :func:`patlink.graph.split_dataset`). Test links are stored, never used.
        config: :class:`TrainConfig` (defaults if None).
        out_dir: output folder (see the module docstring).
        store: token-embedding provider (default: :class:`~patlink.models.token_cache.TokenEmbeddingStore` of the
            configured backbone).
        resume: continue from ``out_dir/checkpoint.pt`` if it exists (same config and split expected).

    With ``negatives.source="known"`` the training graph also holds, as link-less patents, the patents judged
    non-relevant to a training item that are in no link of the split or the dataset (text representation, with
    text; never with ``item_set``): ``run.json`` records ``n_negative_only_patents`` and
    ``negative_only_patents_left_out``. Every other source trains on the training links' graph alone.

    Returns:
        :class:`TrainResult` (best epoch, best validation metric, per-epoch history).

    Raises:
        ValueError: before any token embedding or file, for a wrong config (types, ranges, combinations, sizes
            against the backbone width), no validation links, items/patents with no text, unknown ids, or a
            batch size that leaves no batch.
    """
    config = config or TrainConfig()
    return _Trainer(ds, _split_lists(split), config, Path(out_dir), store=store, resume=resume).run()
