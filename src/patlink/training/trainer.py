"""Training loop of the linker (``000_be1f183eef23b85e.txt`` §3.3–3.4).

AdamW with linear warm-up + cosine decay, ZClip adaptive gradient clipping (``zclip`` package), bidirectional
SupCon loss, optional extra negatives (random / BM25-mined / adversarial REINFORCE policies with the 0/5/10
curriculum), validation MRR after every epoch (checkpoint *selected on validation MRR*, not loss), early stopping,
resumable checkpoints written atomically.

Output folder ``out_dir``::

    best/             best model (Linker.save: model.safetensors + linker.json)
    run.json          dataset, views, direction info for LinkerRetriever
    split.json        the train/val(/test) links used
    metrics.json      config, per-epoch metrics, per-step losses/rewards, best epoch (rewritten every epoch);
                      ``"finished": true`` once the run (and its fusion tuning) is complete
    checkpoint.pt     last epoch: model + optimizers + scheduler + ZClip + RNG state (torch.load weights_only)
    policy.npz        adversary policy snapshots of one probe item and patent (for the Fig. 2 heat-map)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from patlink.retrieval.measures import exact_mrr
from patlink.losses.soft_knn import soft_knn_loss
from patlink.losses.supcon import supcon_from_logits
from patlink.models.adversary import Adversary, build_mask, gumbel_topk, reinforce_loss
from patlink.models.linker import Linker
from patlink.models.token_cache import pad_batch
from patlink.training.config import TrainConfig
from patlink.training.sampler import LinkIndex, bm25_pools, epoch_batches, pool_mask
from patlink.io import atomic_write_json, atomic_writer

__all__ = ["TrainResult", "member_knn_scores", "train_linker", "validation_scores"]


@dataclass
class TrainResult:
    """What :func:`train_linker` returns."""

    out_dir: Path
    model_dir: Path
    best_epoch: int
    best_metric: float
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    best_step: int = -1
    fusion: dict | None = None
    best_val: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- helpers
def _split_lists(split) -> dict[str, list[tuple[str, str]]]:
    if isinstance(split, dict):
        d = split
    else:
        d = {k: getattr(split, k) for k in ("train", "val", "test") if hasattr(split, k)}
    return {k: [tuple(x) for x in (v or [])] for k, v in d.items()}


_mrr_private = exact_mrr  # kept for callers of the old private name


def _evaluate(scores: np.ndarray, qids: list[str], dids: list[str], qrels: dict[str, dict[str, int]],
              top_k: int = 100, full: bool = True) -> dict:
    """MRR (and more when ``patlink.evaluation.evaluate_run`` is importable) of a score matrix."""
    didx = {d: k for k, d in enumerate(dids)}
    relevant = [[didx[d] for d in qrels.get(q, {}) if d in didx] for q in qids]
    out = {"mrr_exact": _mrr_private(scores, relevant), "n_queries": sum(1 for r in relevant if r)}
    if not full:
        out["mrr"] = out["mrr_exact"]
        return out
    try:
        from patlink.evaluation import evaluate_run  # the lead's evaluation (optional)
    except Exception:  # noqa: BLE001
        out["mrr"] = out["mrr_exact"]
        return out
    try:
        k = min(top_k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        run = {q: {dids[j]: float(scores[r, j]) for j in top[r]} for r, q in enumerate(qids) if relevant[r]}
        res = evaluate_run({q: qrels[q] for q in run}, run, n_bootstrap=0)
        out.update({k2: v for k2, v in res.items() if isinstance(v, (int, float))})
        out.setdefault("mrr", out["mrr_exact"])
    except Exception as e:  # noqa: BLE001 - the lead's API may still change: fall back, say so
        out["mrr"] = out["mrr_exact"]
        out["evaluate_run_error"] = f"{type(e).__name__}: {str(e)[:120]}"
    return out


def validation_scores(model: Linker, item_arrays: dict[str, np.ndarray], patent_arrays: dict[str, np.ndarray],
                      val_links: list[tuple[str, str]], train_links: list[tuple[str, str]],
                      batch_size: int = 256, full: bool = True, lexical=None, lexical_weight: float = 0.0) -> dict:
    """Validation metrics in both directions, in the *filtered* setting.

    item→patent: each validation item ranks every patent of the dataset; patent→item: each validation patent ranks
    every item. Training links are removed from the rankings (they are known, not predictions). With ``lexical``
    (a :class:`~patlink.training.lexical.LexicalPrior`) the scores are ``cos + lexical_weight · B`` per direction,
    the function residual training optimises. Returns
    ``{"item2patent": {...}, "patent2item": {...}, "mrr_item2patent", "mrr_patent2item", "mrr_mean"}``.
    """
    all_items, all_patents = list(item_arrays), list(patent_arrays)
    I = model.encode_arrays("item", [item_arrays[i] for i in all_items], batch_size)
    Pt = model.encode_arrays("patent", [patent_arrays[p] for p in all_patents], batch_size)
    S = I @ Pt.T
    ii = {x: k for k, x in enumerate(all_items)}
    pi = {x: k for k, x in enumerate(all_patents)}
    ST = S.T   # a view: without a prior both directions share one matrix
    if lexical is not None and lexical_weight:
        B, Bt = lexical.block(all_items, all_patents)
        S, ST = S + lexical_weight * B.numpy(), ST + lexical_weight * Bt.numpy()
    for i, p in train_links:
        if i in ii and p in pi:
            S[ii[i], pi[p]] = -np.inf
            ST[pi[p], ii[i]] = -np.inf
    out: dict[str, Any] = {}
    for direction in ("item2patent", "patent2item"):
        qrels: dict[str, dict[str, int]] = {}
        for i, p in val_links:
            q, d = (i, p) if direction == "item2patent" else (p, i)
            qrels.setdefault(q, {})[d] = 1
        qids = sorted(qrels)
        if direction == "item2patent":
            sub, dids = S[[ii[q] for q in qids]], all_patents
        else:
            sub, dids = ST[[pi[q] for q in qids]], all_items
        out[direction] = _evaluate(np.nan_to_num(sub, neginf=-1e9), qids, dids, qrels, full=full)
    out["mrr_item2patent"] = out["item2patent"]["mrr"]
    out["mrr_patent2item"] = out["patent2item"]["mrr"]
    out["mrr_mean"] = 0.5 * (out["mrr_item2patent"] + out["mrr_patent2item"])
    return out


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


_NOT_RESUME_KEYS = ("epochs", "progress", "threads", "validation.patience", "validation.batch_size",
                    "validation.full_metrics", "validation.tune_fusion")


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
    train, val = split.get("train", []), split.get("val", [])
    if not train:
        raise ValueError("no training links: the split's 'train' list is empty")
    if not val:
        raise ValueError("no validation links: the checkpoint is selected on validation MRR, so the split needs a "
                         "non-empty 'val' list (use patlink split, or give a dataset with validation qrels)")
    if len({tuple(x) for x in train}) < 2:
        raise ValueError("need at least 2 distinct training links for in-batch negatives")
    used_items = {i for i, _ in train + val}
    used_patents = {p for _, p in train + val}
    unknown = [i for i in used_items if i not in ds.items] + [p for p in used_patents if p not in ds.patents]
    if unknown:
        raise ValueError(f"{len(unknown)} split id(s) not in the dataset, e.g. {unknown[:3]}")
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
                         f"{emptyp[:3]}; hydrate patent texts or choose another --patent-view")
    if config.curriculum.ever():
        n_items, n_pat = len({i for i, _ in train}), len({p for _, p in train})
        if min(n_items, n_pat) <= 2:
            raise ValueError("extra negatives need more than 2 training items and patents")


# ---------------------------------------------------------------------------------------------- trainer
class _Trainer:
    def __init__(self, ds, split: dict, config: TrainConfig, out_dir: Path, store=None, resume: bool = False):
        config.validate()
        _check_inputs(ds, split, config)
        if store is None:
            from patlink.models.token_cache import TokenEmbeddingStore

            store = TokenEmbeddingStore(config.encoder.backbone, config.encoder.max_length,
                                        show_progress=config.progress, max_chunks=config.encoder.max_chunks)
        width = token_width(store, config.encoder.backbone)
        if width is not None:   # sizes against the backbone before any embedding is computed or file written
            config.check_token_width(width)
        self.cfg, self.ds, self.split, self.out = config, ds, split, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        self.gen = torch.Generator().manual_seed(config.seed)
        self.store = store
        self.train_links = sorted({tuple(x) for x in split["train"]})
        self.val_links = sorted({tuple(x) for x in split["val"]})
        self.idx = LinkIndex.from_links(self.train_links)
        # token arrays: every item / patent of the dataset with text (candidates for validation ranking)
        itexts = {k: v for k, v in ds.item_texts().items() if v.strip()}
        self.sets = config.patents.representation == "item_set"
        ptexts = {} if self.sets else {k: v for k, v in ds.patent_texts().items() if v.strip()}
        ia = store.encode(list(itexts.values()))
        pa = store.encode(list(ptexts.values())) if ptexts else []
        self.item_arrays = dict(zip(itexts, ia))
        self.patent_arrays = dict(zip(ptexts, pa))
        self.lexical = None
        if config.loss.lexical_residual > 0:
            from patlink.training.lexical import LexicalPrior

            self.lexical = LexicalPrior(itexts, ptexts)   # BM25 over the full texts, both directions
        self.tr_items = [self.item_arrays[i] for i in self.idx.items]
        self.tr_patents = [] if self.sets else [self.patent_arrays[p] for p in self.idx.patents]
        # trainable links: with item sets, only links whose patent has another training item
        self.pairs = self.idx.pairs
        if self.sets:
            keep = np.array([len(self.idx.patent_pos[int(p)]) >= 2 for p in self.pairs[:, 1]], dtype=bool)
            self.pairs = self.pairs[keep]
        d_in = int(ia[0].shape[1])

        self.model = Linker(config.encoder, d_in, config.loss.temperature, store=store)
        self.nca = self.sets and config.loss.name == "nca"
        if self.nca:   # soft-kNN: only the query (item) encoder learns; the known items are a fixed bank
            for p in self.model.patent_encoder.parameters():
                p.requires_grad_(False)
        # L2-SP anchor: the initial parameters (deterministic given the seed, so a resumed run rebuilds them)
        self.anchor = ([p.detach().clone() for p in self.model.parameters()] if config.optim.anchor > 0 else None)
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=config.optim.lr,
                                     weight_decay=config.optim.weight_decay)
        self._nca_bank = None   # (n_items, out_dim) patent-encoder embeddings of the training items (member_loss=nca)
        self.n_batches = len(epoch_batches(len(self.pairs), config.batch_size, config.seed, 0))
        if self.n_batches == 0:
            raise ValueError(f"batch_size={config.batch_size} leaves no batch of >= 2 links")
        total = self.n_batches * config.epochs
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, _lr_lambda(total, int(config.optim.warmup_ratio * total)))
        self.zclip = None
        if config.optim.zclip:
            from zclip import ZClip

            self.zclip = ZClip(max_grad_norm=config.optim.zclip_max_norm)
        self.adv_items = self.adv_patents = self.adv_opt = None
        if config.negatives.source == "adversarial":
            a = config.negatives.adversary
            self.adv_items = Adversary(config.encoder.out_dim, len(self.idx.items), a.hidden)      # patent → items
            self.adv_patents = Adversary(config.encoder.out_dim, len(self.idx.patents), a.hidden)  # item → patents
            self.adv_opt = torch.optim.AdamW(list(self.adv_items.parameters()) + list(self.adv_patents.parameters()),
                                             lr=a.lr, weight_decay=0.0)
        self.pools_items = self.pools_patents = None
        if config.negatives.source == "bm25":
            it = [itexts[i] for i in self.idx.items]
            if self.sets:   # a patent's profile: the texts of its training items
                pt = [" ".join(it[j] for j in self.idx.patent_pos[k]) for k in range(len(self.idx.patents))]
            else:
                pt = [ptexts[p] for p in self.idx.patents]
            self.pools_patents = bm25_pools(it, pt, self.idx.item_pos, config.negatives.bm25_pool)    # item → patents
            self.pools_items = bm25_pools(pt, it, self.idx.patent_pos, config.negatives.bm25_pool)    # patent → items
        self.epoch = 0
        self.best = -1.0
        self.best_epoch = -1
        self.bad_epochs = 0
        self.best_step = -1
        self.finished = False
        self.bank: dict | None = None   # no-grad embedding bank of the training items/patents (hard negatives)
        self.best_val: dict = {}
        self.evals: list[dict] = []
        self.history: list[dict] = []
        self.steps: list[dict] = []
        self.policy: dict[str, list] = {"item_policy": [], "patent_policy": [], "step": []}
        self.global_step = 0
        self.ckpt = self.out / "checkpoint.pt"
        if resume and self.ckpt.exists():
            self._load_checkpoint()
        self._write_static()

    # ------------------------------------------------------------------ persistence
    def _write_static(self) -> None:
        atomic_write_json(self.out / "split.json", {k: [list(x) for x in v] for k, v in self.split.items()})
        atomic_write_json(self.out / "run.json", {
            "format": "patlink-linker-run/1", "dataset": self.ds.name, "item_view": list(self.ds.item_view),
            "patent_view": list(self.ds.patent_view), "model_dir": "best", "negatives": self.cfg.negatives.source,
            "n_train_links": len(self.train_links), "n_val_links": len(self.val_links),
            "n_parameters": self.model.n_parameters(), "patent_repr": self.cfg.patents.representation,
            "n_trainable_links": len(self.pairs), "lexical_residual": self.cfg.loss.lexical_residual,
            "max_chunks": self.cfg.encoder.max_chunks})

    def _state(self) -> dict:
        st = {"epoch": self.epoch, "best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
              "global_step": self.global_step, "best_step": self.best_step,
              "evals_json": json.dumps(self.evals), "best_val_json": json.dumps(self.best_val), "model": self.model.state_dict(), "opt": self.opt.state_dict(),
              "sched": self.sched.state_dict(), "torch_rng": torch.get_rng_state(), "gen": self.gen.get_state(),
              "history_json": json.dumps(self.history), "steps_json": json.dumps(self.steps),
              "policy_json": json.dumps(self.policy), "config_json": json.dumps(self.cfg.to_dict())}
        if self.zclip is not None:
            z = self.zclip
            st["zclip_json"] = json.dumps({"buffer": z.buffer, "initialized": z.initialized,
                                           "mean": z.mean, "var": z.var})
        if self.bank is not None:   # kept so that a resumed run continues with the same (stale) bank
            st.update(bank_item=self.bank["item"], bank_patent=self.bank["patent"])
        if self.adv_opt is not None:
            st.update(adv_items=self.adv_items.state_dict(), adv_patents=self.adv_patents.state_dict(),
                      adv_opt=self.adv_opt.state_dict())
        return st

    def _save_checkpoint(self) -> None:
        with atomic_writer(self.ckpt) as f:
            torch.save(self._state(), f)

    def _resume_key(self) -> dict:
        """The settings a resumed run must share with the interrupted one (not epochs/patience/progress)."""
        return _resume_key(self.cfg)

    def _load_checkpoint(self) -> None:
        st = torch.load(self.ckpt, weights_only=True)
        stored = json.loads(st.get("config_json", "{}"))
        new = self._resume_key()
        if stored:   # a nested key, or the flat key of a checkpoint written before the nested config
            old = _resume_key(TrainConfig.from_dict(stored))
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
        self.policy = json.loads(st["policy_json"])
        if self.zclip is not None and "zclip_json" in st:
            for k, v in json.loads(st["zclip_json"]).items():
                setattr(self.zclip, k, v)
        if "bank_item" in st:
            self.bank = {"item": st["bank_item"], "patent": st["bank_patent"]}
        if self.adv_opt is not None and "adv_opt" in st:
            self.adv_items.load_state_dict(st["adv_items"])
            self.adv_patents.load_state_dict(st["adv_patents"])
            self.adv_opt.load_state_dict(st["adv_opt"])

    def _write_metrics(self) -> None:
        atomic_write_json(self.out / "metrics.json", {
            "config": self.cfg.to_dict(), "epochs": self.history, "steps": self.steps,
            "best_epoch": self.best_epoch, "best_step": self.best_step, "best_metric": self.best,
            "select_metric": self.cfg.validation.select_metric, "best_val": self.best_val, "evals": self.evals,
            "finished": self.finished})
        if self.policy["step"]:
            with atomic_writer(self.out / "policy.npz") as f:
                np.savez(f, step=np.array(self.policy["step"]), item_policy=np.array(self.policy["item_policy"]),
                         patent_policy=np.array(self.policy["patent_policy"]))

    # ------------------------------------------------------------------ one step
    def _encode(self, side: str, idx: np.ndarray) -> torch.Tensor:
        arrays = self.tr_items if side == "item" else self.tr_patents
        x, m = pad_batch([arrays[int(i)] for i in idx])
        enc = self.model.item_encoder if side == "item" else self.model.patent_encoder
        return enc(x, m)

    def _set_array(self, members: Sequence[int]) -> np.ndarray:
        """Concatenated token arrays of training items ``members`` (capped at ``encoder.max_set_tokens``)."""
        cat = np.concatenate([self.tr_items[int(j)] for j in members], axis=0)
        return cat[: self.cfg.encoder.max_set_tokens]

    def _choose_members(self, patents: np.ndarray, bi: np.ndarray, stream: int = 0
                        ) -> tuple[list[list[int]], np.ndarray]:
        """For each patent, its training items outside the batch ``bi`` (leave-batch-out), sampled down to one
        (``members``) or ``set_max_items`` (``pool``). Returns ``(member lists, kept patent indices)``; patents with
        no item outside the batch are dropped. Deterministic in ``(seed, step, stream)``."""
        rng = np.random.default_rng([self.cfg.seed, self.global_step, stream])
        in_batch = {int(i) for i in bi}
        cap = 1 if self.cfg.patents.scoring == "members" else self.cfg.patents.set_max_items
        chosen, kept = [], []
        for p in patents:
            others = [j for j in self.idx.patent_pos[int(p)] if j not in in_batch]
            if not others:
                continue
            if len(others) > cap:
                others = rng.choice(others, cap, replace=False).tolist()
            chosen.append([int(j) for j in others])
            kept.append(int(p))
        return chosen, np.asarray(kept, dtype=np.int64)

    def _encode_sets(self, bp: np.ndarray, bi: np.ndarray) -> tuple[torch.Tensor, np.ndarray, list[list[int]]]:
        """Encode the batch's patents from their OTHER training items (leave-batch-out, sampled).

        Returns ``(Q (n_kept, out_dim), kept patent indices, the member items that encoded each kept patent)``;
        patents with no item left outside the batch are dropped (their links then only act through the items'
        rows). The members are what the bank of member embeddings is refreshed with.
        """
        chosen, kept = self._choose_members(bp, bi)
        if not len(kept):
            return torch.zeros(0, self.cfg.encoder.out_dim), kept, chosen
        x, m = pad_batch([self._set_array(ms) for ms in chosen])
        return self.model.patent_encoder(x, m), kept, chosen

    def _blocked_patents(self, bi: np.ndarray) -> list[int]:
        """Training patents whose every item is in the batch ``bi`` (no member left to represent them)."""
        cnt: dict[int, int] = {}
        for i in bi:
            for p in self.idx.item_pos[int(i)]:
                cnt[p] = cnt.get(p, 0) + 1
        return [p for p, c in cnt.items() if c == len(self.idx.patent_pos[p])]

    def _negative_patents(self, up: np.ndarray, bi: np.ndarray, bank: dict | None) -> torch.Tensor:
        """Embeddings ``(len(up), out_dim)`` of extra negative patents ``up``. With patent sets (members scoring)
        a negative patent is ONE of its items outside the batch: its row of the member bank (the patent encoder
        applied to every training item), or re-encoded with gradient."""
        if not self.sets:
            if bank is not None:
                return bank["patent"][torch.as_tensor(up, dtype=torch.long)]
            return self._encode("patent", up)
        chosen, kept = self._choose_members(up, bi, stream=1)
        assert len(kept) == len(up), "negative patents must have an item outside the batch (masked before)"
        members = np.asarray([ms[0] for ms in chosen], dtype=np.int64)
        if bank is not None:
            return bank["patent"][torch.as_tensor(members)]
        x, m = pad_batch([self.tr_items[int(j)] for j in members])
        return self.model.patent_encoder(x, m)

    def _validation_sets(self) -> dict:
        """Validation in the new-product protocol: patents encoded from ALL their training items (``pool``), or
        scored by their members, kNN style (``members``, :func:`member_knn_scores`)."""
        cfg, m = self.cfg, self.model
        pats = self.idx.patents
        val_items = sorted({i for i, _ in self.val_links if i in self.item_arrays})
        I = m.encode_arrays("item", [self.item_arrays[i] for i in val_items], cfg.validation.batch_size)
        if cfg.patents.scoring == "members":
            M = m.encode_arrays("patent", self.tr_items, cfg.validation.batch_size)   # each training item alone
            S = member_knn_scores(I, M, self.idx.patent_pos, cfg.patents.members_k)
        else:
            Pt = np.zeros((len(pats), cfg.encoder.out_dim), dtype=np.float32)
            chunk = max(1, cfg.validation.batch_size // 4)
            for s in range(0, len(pats), chunk):    # bounded memory: sets are concatenated chunk by chunk
                arrays = [self._set_array(self.idx.patent_pos[k]) for k in range(s, min(s + chunk, len(pats)))]
                Pt[s:s + len(arrays)] = m.encode_arrays("patent", arrays, chunk)
            S = I @ Pt.T
        pi = {p: k for k, p in enumerate(pats)}
        out: dict[str, Any] = {}
        q_i2p: dict[str, dict[str, int]] = {}
        q_p2i: dict[str, dict[str, int]] = {}
        for i, p in self.val_links:
            q_i2p.setdefault(i, {})[p] = 1
            if p in pi:
                q_p2i.setdefault(p, {})[i] = 1
        out["item2patent"] = _evaluate(S, val_items, pats, q_i2p, full=cfg.validation.full_metrics)
        qp = sorted(q_p2i)
        out["patent2item"] = _evaluate(S.T[[pi[p] for p in qp]], qp, val_items, q_p2i, full=cfg.validation.full_metrics)
        out["mrr_item2patent"] = out["item2patent"]["mrr"]
        out["mrr_patent2item"] = out["patent2item"]["mrr"]
        out["mrr_mean"] = 0.5 * (out["mrr_item2patent"] + out["mrr_patent2item"])
        return out

    def _negative_logits(self, side: str, queries: torch.Tensor, query_idx: np.ndarray, mask: torch.Tensor):
        """Logits over the ``side`` actions for the queries, and the (possibly narrowed) allowed mask."""
        n = mask.shape[1]
        if self.cfg.negatives.source == "adversarial":
            adv = self.adv_items if side == "item" else self.adv_patents
            return adv(queries.detach()), mask
        logits = torch.zeros(len(query_idx), n)
        if self.cfg.negatives.source == "bm25":
            pools = self.pools_items if side == "item" else self.pools_patents
            mask = mask & pool_mask(pools, query_idx, n)
        return logits, mask

    def _nca_loss(self, bi: np.ndarray) -> torch.Tensor:
        """Soft-kNN loss (:func:`patlink.losses.soft_knn.soft_knn_loss`) of the batch's items against every training
        item, each query leaving itself out; targets are its patents that have another training item."""
        if self._nca_bank is None:
            self._nca_bank = torch.from_numpy(self.model.encode_arrays("patent", self.tr_items))
            self._nca_link = self.idx.pos_matrix(np.arange(len(self.idx.items)),
                                                 np.arange(len(self.idx.patents))).float()
            self._nca_predictable = (self._nca_link.sum(dim=0) >= 2).float()
        rows = torch.as_tensor(bi, dtype=torch.long)
        target = self._nca_link[rows] * self._nca_predictable
        return soft_knn_loss(self._encode("item", bi), self._nca_bank, self._nca_link, target, rows,
                             self.cfg.loss.temperature)

    def _step(self, batch: np.ndarray, k: int, bank: dict | None) -> dict:
        cfg = self.cfg
        pairs = self.pairs[batch]
        if self.nca:
            return self._optimise(self._nca_loss(np.unique(pairs[:, 0])), {})
        bi, bp = np.unique(pairs[:, 0]), np.unique(pairs[:, 1])
        members: list[list[int]] = []   # with patent sets: the items that encoded each patent of bp
        if self.sets:
            P, (Q, bp, members) = self._encode("item", bi), self._encode_sets(bp, bi)
            if not len(bp):   # every patent of the batch has only batch items: nothing to contrast
                self.sched.step()
                return {"loss": 0.0, "skipped": 1.0}
        else:
            P, Q = self._encode("item", bi), self._encode("patent", bp)
        rec: dict[str, float] = {}
        adv_terms = []
        all_i, all_p = bi, bp
        if k > 0:
            n_i, n_p = len(self.idx.items), len(self.idx.patents)
            # patent queries → item negatives (item adversary); item queries → patent negatives (patent adversary)
            m_i = build_mask(len(bp), n_i, [self.idx.patent_pos[int(p)] for p in bp], bi)
            # with patent sets, a patent whose every item is in the batch has nothing to represent it
            blocked = np.concatenate([bp, self._blocked_patents(bi)]).astype(np.int64) if self.sets else bp
            m_p = build_mask(len(bi), n_p, [self.idx.item_pos[int(i)] for i in bi], blocked)
            lg_i, m_i = self._negative_logits("item", Q, bp, m_i)
            lg_p, m_p = self._negative_logits("patent", P, bi, m_p)
            ex = cfg.negatives.exclusive
            neg_i = gumbel_topk(lg_i, m_i, k, ex, self.gen)    # (len(bp), k)
            neg_p = gumbel_topk(lg_p, m_p, k, ex, self.gen)    # (len(bi), k)
            ui = np.unique(neg_i[neg_i >= 0].numpy())
            up = np.unique(neg_p[neg_p >= 0].numpy())
            if bank is not None:
                Pn = bank["item"][torch.as_tensor(ui, dtype=torch.long)]
            else:
                Pn = self._encode("item", ui) if len(ui) else P[:0]
            Qn = self._negative_patents(up, bi, bank) if len(up) else Q[:0]
            P, Q = torch.cat([P, Pn]), torch.cat([Q, Qn])
            all_i, all_p = np.concatenate([bi, ui]), np.concatenate([bp, up])
            adv_terms = [(lg_i, m_i, neg_i, ui, "item"), (lg_p, m_p, neg_p, up, "patent")]
        pos = self.idx.pos_matrix(all_i, all_p)
        cos = P @ Q.T
        S = cos / cfg.loss.temperature
        S_patent = None
        if self.lexical is not None:   # residual training: BM25 prior added to the logits of each direction
            B, Bt = self.lexical.block([self.idx.items[int(i)] for i in all_i], [self.idx.patents[int(p)] for p in all_p])
            S_patent = S + cfg.loss.lexical_residual * Bt.T
            S = S + cfg.loss.lexical_residual * B
        out = supcon_from_logits(S, pos, cfg.loss.denominator, S_patent)
        self._optimise(out["loss"], rec)
        if k > 0:
            Sd = cos.detach()   # cosine similarities = rewards
            rewards = []
            for lg, m, neg, uniq, side in adv_terms:
                pos_of = {int(a): r for r, a in enumerate(uniq)}
                off = len(bi) if side == "item" else len(bp)
                rows = neg.clone()
                rows[neg >= 0] = torch.as_tensor([off + pos_of[int(a)] for a in neg[neg >= 0].tolist()],
                                                 dtype=torch.long)
                q = torch.arange(neg.shape[0])[:, None].expand_as(neg)
                # item negatives are rows of S (query = patent column q); patent negatives are columns
                R = Sd[rows.clamp(min=0), q] if side == "item" else Sd[q, rows.clamp(min=0)]
                rewards.append((lg, m, neg, R))
            if self.adv_opt is not None:
                losses, rs = zip(*(reinforce_loss(lg, m, neg, R) for lg, m, neg, R in rewards))
                self.adv_opt.zero_grad(set_to_none=True)
                sum(losses).backward()
                self.adv_opt.step()
                rec["adv_loss"] = float(sum(x.detach() for x in losses))
                rec["reward"] = float(sum(rs) / len(rs))
            else:
                vals = [R[neg >= 0] for _, _, neg, R in rewards]
                rec["reward"] = float(torch.cat(vals).mean()) if sum(v.numel() for v in vals) else 0.0
        if bank is not None:
            with torch.no_grad():
                bank["item"][torch.as_tensor(bi)] = P[: len(bi)].detach()
                if self.sets:   # the member bank is indexed by item: write back the members that encoded bp
                    used = torch.as_tensor([ms[0] for ms in members], dtype=torch.long)
                    bank["patent"][used] = Q[: len(bp)].detach()
                else:
                    bank["patent"][torch.as_tensor(bp)] = Q[: len(bp)].detach()
        return rec

    def _optimise(self, loss: torch.Tensor, rec: dict) -> dict:
        """One optimizer step on ``loss`` (+ the L2-SP anchor), ZClip, scheduler; records into ``rec``."""
        total = loss
        if self.anchor is not None:
            drift = sum(((p - p0) ** 2).sum() for p, p0 in zip(self.model.parameters(), self.anchor))
            total = total + self.cfg.optim.anchor * drift
            rec["drift"] = float(drift.detach())
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        if self.zclip is not None:
            rec["grad_norm"] = float(self.zclip.step(self.model))
        self.opt.step()
        self.sched.step()
        rec["loss"] = float(loss.detach())
        return rec

    def _snapshot_policy(self) -> None:
        if self.adv_opt is None:
            return
        with torch.no_grad():
            q_item = torch.from_numpy(self.model.encode_arrays("item", [self.tr_items[0]]))
            probe = self.tr_items[self.idx.patent_pos[0][0]] if self.sets else self.tr_patents[0]
            q_pat = torch.from_numpy(self.model.encode_arrays("patent", [probe]))
            pi = torch.softmax(self.adv_patents(q_item), dim=1)[0]   # item 0 → patents
            pp = torch.softmax(self.adv_items(q_pat), dim=1)[0]      # patent 0 → items
        self.policy["patent_policy"].append(pi.tolist())
        self.policy["item_policy"].append(pp.tolist())
        self.policy["step"].append(self.global_step)

    # ------------------------------------------------------------------ validation + selection
    def _validate(self) -> tuple[dict, bool]:
        """Validation metrics now; saves ``best/`` when ``select_metric`` improved. Returns (metrics, improved)."""
        cfg = self.cfg
        if self.sets:
            val = self._validation_sets()
        else:
            val = validation_scores(self.model, self.item_arrays, self.patent_arrays, self.val_links,
                                    self.train_links, cfg.validation.batch_size, cfg.validation.full_metrics,
                                    self.lexical, cfg.loss.lexical_residual * cfg.loss.temperature)
        metric = float(val[cfg.validation.select_metric])
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

    # ------------------------------------------------------------------ loop
    def run(self) -> TrainResult:
        from tqdm.auto import tqdm

        cfg = self.cfg
        stopped = False
        if cfg.validation.eval_at_start and self.global_step == 0 and not self.evals:
            # step 0 = the initial model (the zero-shot backbone with init="backbone"): if training never beats
            # it on validation, the saved model stays the backbone
            self._validate()
            self._write_metrics()
        while self.epoch < cfg.epochs:
            e = self.epoch
            k = cfg.hard_negatives_at(e)
            t0 = time.perf_counter()
            bank = self.bank
            if k > 0 and cfg.negatives.embeddings == "bank" and (
                    bank is None or cfg.negatives.bank_refresh == "epoch"):
                # with patent sets (members scoring) the patent bank holds every training ITEM under the patent
                # encoder: a negative patent is one of its items
                bank = self.bank = {"item": torch.from_numpy(self.model.encode_arrays("item", self.tr_items)),
                                    "patent": torch.from_numpy(self.model.encode_arrays(
                                        "patent", self.tr_items if self.sets else self.tr_patents))}
            self.model.train()
            batches = epoch_batches(len(self.pairs), cfg.batch_size, cfg.seed, e)
            every = max(1, len(batches) // 5)
            recs = []
            bar = tqdm(batches, desc=f"epoch {e + 1}/{cfg.epochs} (k={k})", disable=not cfg.progress, leave=False)
            eval_time = 0.0
            if cfg.validation.eval_every:
                eval_points = {b + 1 for b in range(len(batches)) if (self.global_step + b + 1) % cfg.validation.eval_every == 0}
            else:
                eval_points = {round(len(batches) * (j + 1) / cfg.validation.evals_per_epoch) for j in range(cfg.validation.evals_per_epoch)}
            for b, batch in enumerate(bar):
                rec = self._step(batch, k, bank)
                self.global_step += 1
                rec["step"] = self.global_step
                rec["epoch"] = e + 1
                recs.append(rec)
                self.steps.append(rec)
                bar.set_postfix(loss=f"{rec['loss']:.3f}")
                if k > 0 and b % every == 0:
                    self._snapshot_policy()
                if b < len(batches) - 1 and (b + 1) in eval_points:
                    te = time.perf_counter()
                    self._validate()
                    self._write_metrics()    # mid-epoch evaluations are visible (and kept) before the epoch ends
                    eval_time += time.perf_counter() - te
                    if cfg.validation.patience and self.bad_epochs >= cfg.validation.patience:
                        break   # stop mid-epoch; the end-of-epoch evaluation below still runs
            train_time = time.perf_counter() - t0 - eval_time
            val, improved = self._validate()
            rewards = [r["reward"] for r in recs if "reward" in r]
            self.history.append({
                "epoch": e + 1, "hard_negatives": k, "train_loss": float(np.mean([r["loss"] for r in recs])),
                "reward": float(np.mean(rewards)) if rewards else None, "train_time_s": train_time,
                "lr": self.sched.get_last_lr()[0], "val": val, "improved": improved,
                "mid_epoch_eval_s": eval_time})
            self.epoch = e + 1
            if cfg.progress:
                print(f"epoch {e + 1}: loss {self.history[-1]['train_loss']:.4f}  val MRR i→p "
                      f"{val['mrr_item2patent']:.4f} p→i {val['mrr_patent2item']:.4f}  ({train_time:.1f}s)",
                      flush=True)
            if cfg.validation.patience and self.bad_epochs >= cfg.validation.patience:
                stopped = True
            self._write_metrics()
            self._save_checkpoint()
            if stopped:
                break
        self.fusion = None
        if cfg.validation.tune_fusion and self.best_step >= 0 and not self.sets:
            from patlink.training.fusion import tune_linker_fusion

            self.fusion = tune_linker_fusion(self.out, self.ds, self.val_links, store=self.store)
            if cfg.progress:
                print(f"BM25 fusion tuned on validation: alpha={self.fusion['alpha']} (item→patent "
                      f"{self.fusion['alpha_item2patent']}, patent→item {self.fusion['alpha_patent2item']})",
                      flush=True)
        self.finished = True  # marks a complete run (`patlink train --folds` skips finished folds)
        self._write_metrics()
        return TrainResult(self.out, self.out / "best", self.best_epoch, self.best, self.history, stopped,
                           self.best_step, self.fusion, self.best_val)


def member_knn_scores(queries: np.ndarray, members: np.ndarray, patent_members: Sequence[Sequence[int]],
                      k: int) -> np.ndarray:
    """kNN scores of patents known by their member items (``set_scoring="members"``, ``knn-linker``).

    ``score(q, p) = Σ_{n ∈ N_k(q), n ∈ members(p)} max(0, cos(q, n))`` over the ``k`` members most similar to
    ``q`` (the ``knn`` baseline's formula, :mod:`patlink.retrieval.profile`, on learned embeddings).

    Args:
        queries: ``(n_q, d)`` L2-normalised query embeddings (item encoder).
        members: ``(n_members, d)`` L2-normalised member embeddings (patent encoder, one item each).
        patent_members: for each patent, the row indices of its members in ``members``.
        k: neighbours per query (clipped to ``n_members``).

    Returns:
        ``(n_q, n_patents)`` float32; 0 where no neighbour supports a patent.
    """
    from scipy.sparse import csr_matrix

    from patlink.retrieval.profile import knn_link_scores

    rows = np.concatenate([np.asarray(ms, dtype=np.int64) for ms in patent_members]) if patent_members else \
        np.zeros(0, dtype=np.int64)
    cols = np.repeat(np.arange(len(patent_members)), [len(ms) for ms in patent_members])
    link = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(members.shape[0], len(patent_members)))
    return knn_link_scores(queries, members, link, k)


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

    Returns:
        :class:`TrainResult` (best epoch, best validation metric, per-epoch history).

    Raises:
        ValueError: before any training, for no validation links, items/patents with no text, unknown ids or
            impossible config sizes.
    """
    config = config or TrainConfig()
    return _Trainer(ds, _split_lists(split), config, Path(out_dir), store=store, resume=resume).run()
