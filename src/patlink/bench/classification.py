"""Multi-label classification over frozen embeddings: k-NN and one-vs-rest logistic regression (scikit-learn).

The classification probe of *Benchmarking Patent Embeddings* (multi-task evaluation of 22 models): k-NN
macro-F1 over CPC labels, logistic regression as a second probe. Labels are multi-label (a patent has ~2 CPC
subclasses); a label is predicted when its score reaches
``threshold``, and every document gets at least its best-scored label. Macro-F1 is averaged over the labels that
occur in the test set (labels absent from test would only add zeros); micro-F1 is reported beside it. A 95%
bootstrap CI of macro-F1 resamples test documents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClassificationConfig", "knn_scores", "logreg_scores", "predict_from_scores", "f1_scores",
           "evaluate_classification", "run_classification_task"]


@dataclass
class ClassificationConfig:
    """``k`` neighbours (cosine, similarity-weighted votes); ``threshold`` on label scores; ``C`` of the
    logistic regression; ``n_bootstrap`` resamples of test documents; ``seed``."""

    k: int = 10
    threshold: float = 0.5
    C: float = 10.0
    n_bootstrap: int = 1000
    seed: int = 0


def _dense(x):
    return x.toarray() if hasattr(x, "toarray") else np.asarray(x)


def knn_scores(x_train, y_train: np.ndarray, x_test, k: int = 10) -> np.ndarray:
    """Label scores of test documents from their ``k`` nearest training documents.

    Args:
        x_train: ``(n_train, d)`` L2-normalised vectors (dense array or scipy sparse).
        y_train: ``(n_train, L)`` 0/1 label matrix.
        x_test: ``(n_test, d)`` L2-normalised vectors.
        k: neighbours (capped at ``n_train``).

    Returns:
        ``(n_test, L)`` float32 in [0, 1]: the similarity-weighted share of neighbours carrying each label
        (similarities clipped at 0; plain share when all are 0).
    """
    sim = _dense(x_test @ x_train.T).astype(np.float32)
    k = min(k, sim.shape[1])
    idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    w = np.clip(np.take_along_axis(sim, idx, axis=1), 0, None)
    w[w.sum(1) == 0] = 1.0
    w = w / w.sum(1, keepdims=True)
    return np.einsum("nk,nkl->nl", w, y_train[idx].astype(np.float32))


def logreg_scores(x_train, y_train: np.ndarray, x_test, C: float = 10.0, seed: int = 0) -> np.ndarray:
    """One-vs-rest logistic-regression probabilities ``(n_test, L)``; labels constant in training score 0/1."""
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((x_test.shape[0], y_train.shape[1]), dtype=np.float32)
    for j in range(y_train.shape[1]):
        col = y_train[:, j]
        if col.min() == col.max():
            out[:, j] = float(col[0])
            continue
        clf = LogisticRegression(C=C, max_iter=500, random_state=seed)
        clf.fit(x_train, col)
        out[:, j] = clf.predict_proba(x_test)[:, 1]
    return out


def predict_from_scores(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """0/1 predictions: labels scoring ≥ ``threshold``, plus each row's arg-max label."""
    pred = (scores >= threshold).astype(np.int8)
    if scores.shape[1]:
        pred[np.arange(len(scores)), scores.argmax(1)] = 1
    return pred


def f1_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``macro_f1`` over labels with test support, ``micro_f1``, ``samples_f1`` (scikit-learn)."""
    from sklearn.metrics import f1_score

    support = np.flatnonzero(y_true.sum(0) > 0)
    if len(support) == 0:
        return {"macro_f1": 0.0, "micro_f1": 0.0, "samples_f1": 0.0}
    return {
        "macro_f1": float(f1_score(y_true, y_pred, labels=support, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "samples_f1": float(f1_score(y_true, y_pred, average="samples", zero_division=0)),
    }


def _bootstrap_macro_f1(y_true, y_pred, n: int, seed: int) -> list[float]:
    """Percentile 95% CI of macro-F1 (labels with support in the resample), resampling documents.

    Vectorised: a resample is a vector of document counts ``w``; per-label TP/FP/FN are ``w @ …`` products, so
    each resample costs one matrix product instead of a scikit-learn call (same values as :func:`f1_scores`).
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    tp_m, fp_m, fn_m = yt * yp, (1 - yt) * yp, yt * (1 - yp)
    rng = np.random.default_rng(seed)
    vals = []
    for start in range(0, n, 200):
        b = min(200, n - start)
        idx = rng.integers(0, len(yt), (b, len(yt)))
        w = np.stack([np.bincount(r, minlength=len(yt)) for r in idx]).astype(np.float64)
        tp, fp, fn = w @ tp_m, w @ fp_m, w @ fn_m
        denom = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        support = (tp + fn) > 0
        n_sup = support.sum(1)
        vals.append(np.where(n_sup > 0, (f1 * support).sum(1) / np.maximum(n_sup, 1), 0.0))
    v = np.concatenate(vals)
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]


def evaluate_classification(x_train, train_labels: list[list[str]], x_test, test_labels: list[list[str]],
                            config: ClassificationConfig | None = None) -> dict:
    """k-NN and logistic-regression probes on given vectors.

    Args:
        x_train / x_test: vectors, rows L2-normalised (dense ``(n, d)`` or scipy sparse).
        train_labels / test_labels: the label lists of each document.

    Returns:
        ``{"knn": {macro_f1, micro_f1, samples_f1, ci95: {macro_f1: [lo, hi]}}, "logreg": {...},
        "n_train", "n_test", "n_labels", "n_test_labels_unseen"}``; test labels never seen in training are
        counted (they can only be missed).
    """
    from sklearn.preprocessing import MultiLabelBinarizer

    cfg = config or ClassificationConfig()
    mlb = MultiLabelBinarizer()
    y_tr = mlb.fit_transform(train_labels)
    known = set(mlb.classes_)
    unseen = sum(1 for labs in test_labels for l in labs if l not in known)
    # Unseen test labels get their own columns so that missing them costs recall, as it should.
    extra = sorted({l for labs in test_labels for l in labs} - known)
    classes = list(mlb.classes_) + extra
    y_tr = np.hstack([y_tr, np.zeros((len(y_tr), len(extra)), dtype=y_tr.dtype)])
    y_te = MultiLabelBinarizer(classes=classes).fit_transform(test_labels)
    out: dict = {"n_train": len(train_labels), "n_test": len(test_labels), "n_labels": len(classes),
                 "n_test_labels_unseen": unseen}
    for name, scores in (("knn", knn_scores(x_train, y_tr, x_test, cfg.k)),
                         ("logreg", logreg_scores(x_train, y_tr, x_test, cfg.C, cfg.seed))):
        pred = predict_from_scores(scores, cfg.threshold)
        res = f1_scores(y_te, pred)
        res["ci95"] = {"macro_f1": _bootstrap_macro_f1(y_te, pred, cfg.n_bootstrap, cfg.seed)}
        out[name] = res
    return out


def run_classification_task(task, model, view: str, config: ClassificationConfig | None = None) -> dict:
    """Run a classification :class:`~patlink.bench.tasks.TaskMetadata` for one model and view.

    The dataset's own ``train``/``test`` document splits are used (cpc-claims: 1,000 / 100). Documents whose
    view is empty or that carry no label are dropped and counted. Main score: k-NN ``macro_f1``.
    """
    from patlink.bench.features import featurize
    from patlink.bench.tasks import VIEWS
    from patlink.data import load_dataset

    ds = load_dataset(task.dataset)
    labels = ds.labels[task.label]
    texts = ds.patent_texts(view=VIEWS[view] if view in VIEWS else view.split("+"))
    dropped = 0
    split_ids = {}
    for split in ("train", "test"):
        ids = [p for p in ds.doc_splits[split] if texts.get(p) and labels.get(p)]
        dropped += len(ds.doc_splits[split]) - len(ids)
        split_ids[split] = ids
    tr, te = split_ids["train"], split_ids["test"]
    x_tr, x_te = featurize(model, [texts[p] for p in tr], [texts[p] for p in te])
    res = evaluate_classification(x_tr, [labels[p] for p in tr], x_te, [labels[p] for p in te], config)
    res["n_dropped_no_text_or_label"] = dropped
    res["main_score"] = res["knn"]["macro_f1"]
    return res
