"""Load a trained CPC classifier (a run folder written by :func:`patlink.classify.train.train_classifier`),
predict CPC subclasses for texts and evaluate on the held-out test split."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from patlink.classify.thresholds import apply_thresholds

__all__ = ["CPCClassifier", "evaluate_classifier", "load_classifier"]


class CPCClassifier:
    """A trained classifier: ``scores`` → probabilities, ``predict`` → label sets, ``top`` → ranked labels.

    Attributes:
        info: the run's ``config.json`` content.
        labels: label (CPC subclass) of each output column, length m.
        thresholds: scalar or (m,) float32 decision thresholds tuned on validation.
        min_labels: labels always predicted per document.
    """

    def __init__(self, run_dir: str | Path):
        from safetensors.torch import load_file

        from patlink.classify.thresholds import ThresholdConfig
        from patlink.classify.train import FORMAT_VERSION, TrainConfig, build_module

        run = Path(run_dir)
        cfg_path, w_path = run / "config.json", run / "model.safetensors"
        if not cfg_path.exists() or not w_path.exists():
            raise FileNotFoundError(f"{run}: not a trained classifier (need config.json and model.safetensors; "
                                    "run `patlink classify train --out DIR` first)")
        self.run_dir = run
        self.info = json.loads(cfg_path.read_text())
        if self.info.get("format") != "patlink-classify" or self.info.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{cfg_path}: not a patlink-classify model of a supported version")
        tc = dict(self.info["train_config"])
        tc["kernel_sizes"], tc["k_grid"] = tuple(tc["kernel_sizes"]), tuple(tc["k_grid"])
        th = dict(tc.pop("threshold"))
        th["grid"] = tuple(th["grid"])
        self.cfg = TrainConfig(**tc, threshold=ThresholdConfig(**th))
        self.labels: list[str] = list(self.info["labels"])
        t = self.info["thresholds"]
        self.thresholds = np.asarray(t["per_label"], dtype=np.float32) if t.get("per_label") else float(t["global"])
        self.min_labels = int(t.get("min_labels", 1))
        tensors = load_file(str(w_path))
        if self.cfg.model == "knn":
            from patlink.classify.models import KNNClassifier

            self.knn = KNNClassifier(tensors["train_emb"].numpy(), tensors["train_y"].numpy(),
                                     k=self.info["fit"]["k"], power=self.cfg.knn_power)
            self.module = None
        else:
            self.module = build_module(self.cfg, int(self.info["features"]["dim"]), len(self.labels))
            self.module.load_state_dict(tensors)
            self.module.eval()

    def scores(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Label probabilities (len(texts), m) float32 in [0, 1].

        Raises:
            ValueError: a text is empty (prediction on nothing is refused, with the positions).
        """
        from patlink.classify.train import featurize, module_scores

        texts = list(texts)
        empty = [i for i, t in enumerate(texts) if not t or not t.strip()]
        if empty:
            raise ValueError(f"{len(empty)} empty text(s) at position(s) {empty[:10]}: nothing to classify")
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        feats = featurize(self.cfg, texts, show_progress)
        if self.module is None:
            return self.knn.scores(np.asarray(feats, dtype=np.float32))
        return module_scores(self.module, self.cfg, feats)

    def predict(self, texts: Sequence[str], scores: np.ndarray | None = None) -> list[list[str]]:
        """Predicted label set per text (validation-tuned thresholds, at least ``min_labels`` labels)."""
        s = self.scores(texts) if scores is None else scores
        pred = apply_thresholds(s, self.thresholds, self.min_labels)
        return [[self.labels[j] for j in np.flatnonzero(row)] for row in pred]

    def top(self, text: str, k: int = 5) -> list[dict]:
        """The ``k`` best labels of one text: ``[{"code", "score", "predicted", "title"}]``, best first."""
        from patlink.classify.cpc_titles import cpc_title

        s = self.scores([text])
        pred = apply_thresholds(s, self.thresholds, self.min_labels)[0]
        order = np.argsort(-s[0], kind="stable")[:k]
        return [{"code": self.labels[j], "score": float(s[0, j]), "predicted": bool(pred[j]),
                 "title": cpc_title(self.labels[j])} for j in order]


def load_classifier(run_dir: str | Path) -> CPCClassifier:
    """Load a run folder. Raises ``FileNotFoundError`` / ``ValueError`` with a one-line reason."""
    return CPCClassifier(run_dir)


def evaluate_classifier(run_dir: str | Path, n_bootstrap: int = 1000, seed: int = 0, cooc_label: str | None = None,
                        show_progress: bool = True) -> dict:
    """Evaluate a trained classifier on its test split (``cpc-claims`` test, or the ids saved for ``--file``).

    Test labels never seen in training are kept as extra all-negative prediction columns (they count as misses,
    not silently dropped); ``unseen_test_labels`` reports how many label assignments that concerns.

    Returns:
        :func:`patlink.classify.metrics.evaluate_predictions` output plus ``model``, ``data``, ``test_report``,
        ``thresholds``, ``unseen_test_labels``.
    """
    from patlink.classify.data import binarize
    from patlink.classify.metrics import evaluate_predictions
    from patlink.classify.train import DataSpec, prepare_data

    clf = load_classifier(run_dir)
    spec = DataSpec(**clf.info["data"])
    test_ids = None
    if spec.file is not None:
        split = Path(run_dir) / "split.json"
        if not split.exists():
            raise FileNotFoundError(f"{split} missing: the test ids of a --file run are stored there")
        test_ids = json.loads(split.read_text())["test_ids"]
    _, test = prepare_data(spec, clf.cfg.test_fraction, clf.cfg.seed, test_ids=test_ids)
    if len(test) == 0:
        raise ValueError(f"no usable test documents ({test.report})")
    known = set(clf.labels)
    extra = sorted({c for labs in test.labels for c in labs if c not in known})
    all_labels = clf.labels + extra
    y, _, _ = binarize(test.labels, all_labels)
    s = clf.scores(test.texts, show_progress=show_progress)
    pred = apply_thresholds(s, clf.thresholds, clf.min_labels)
    pad = np.zeros((len(test), len(extra)), dtype=np.float32)
    scores_all = np.concatenate([s, pad], axis=1)
    pred_all = np.concatenate([pred, pad.astype(np.uint8)], axis=1)
    if cooc_label is not None and cooc_label not in all_labels:
        raise ValueError(f"label {cooc_label!r} is neither a model label nor a test label")
    rep = evaluate_predictions(y, pred_all, scores_all, all_labels, n_bootstrap=n_bootstrap, seed=seed,
                               cooc_label=cooc_label)
    rep.update(model=clf.cfg.model, run=str(run_dir), data=clf.info["data"], test_report=test.report,
               thresholds={"global": clf.info["thresholds"]["global"],
                           "per_label": clf.info["thresholds"]["per_label"] is not None,
                           "min_labels": clf.min_labels},
               unseen_test_labels={"labels": len(extra),
                                   "assignments": int(sum(c not in known for labs in test.labels for c in labs))},
               loss=clf.cfg.loss, alpha=clf.cfg.alpha)
    return rep
