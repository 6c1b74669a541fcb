"""End-to-end training / saving / loading / evaluation on a small FIXTURE corpus (see conftest.py)."""

import json

import numpy as np
import pytest
import torch

from patlink.classify.data import binarize, split_holdout
from patlink.classify.predict import evaluate_classifier, load_classifier
from patlink.classify.train import DataSpec, TrainConfig, _fit_torch, featurize, prepare_data, train_classifier
from patlink.cli.main import main


def _cfg(**kw):
    base = {"model": "cnn-glove", "epochs": 4, "filters": 16, "hidden": 32, "max_tokens": 32, "batch_size": 8, "patience": 10}
    base.update(kw)
    return TrainConfig(**base)


def test_cnn_glove_train_save_load_eval(fixture_jsonl, tmp_path):
    out = tmp_path / "run"
    info = train_classifier(_cfg(), DataSpec(dataset=None, file=str(fixture_jsonl)), out, show_progress=False)
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()
    assert not (out / "checkpoint.json").exists()  # removed after a completed run
    assert info["labels"] == ["A61K", "G06F", "H04L"]
    assert info["n_train"] + info["n_val"] == 48  # 60 fixture docs, 20% test, validation from train only
    test_ids = json.loads((out / "split.json").read_text())["test_ids"]
    assert len(test_ids) == 12 and len(set(test_ids)) == 12
    clf = load_classifier(out)
    s = clf.scores(["a method comprising computer processor memory software program"])
    assert s.shape == (1, 3) and ((0 <= s) & (s <= 1)).all()
    rep = evaluate_classifier(out, n_bootstrap=20, show_progress=False, cooc_label="G06F")
    assert rep["n_docs"] == 12 and 0 <= rep["micro_f1"] <= 1 and "micro_f1" in rep["ci95"]
    assert rep["cooccurrence"]["gold"][0][0] == "G06F"
    # the fixture is easily separable: the trained CNN must beat chance clearly
    assert rep["p@1"] >= 0.75
    with pytest.raises(ValueError, match="empty text"):
        clf.scores(["ok text", "  "])


def test_resume_from_checkpoint_equals_uninterrupted(fixture_jsonl, tmp_path):
    spec = DataSpec(dataset=None, file=str(fixture_jsonl))
    cfg = _cfg(epochs=3).resolved()
    train, _ = prepare_data(spec, cfg.test_fraction, cfg.seed)
    y, _, _ = binarize(train.labels)
    tr, va = (np.asarray(a) for a in split_holdout(len(train), cfg.val_fraction, cfg.seed))
    feats = featurize(cfg, train.texts, show_progress=False)
    (tmp_path / "a").mkdir()
    full, _ = _fit_torch(cfg, feats, y, tr, va, tmp_path / "a", "k", False, False)
    (tmp_path / "b").mkdir()
    cfg2 = _cfg(epochs=2).resolved()
    _fit_torch(cfg2, feats, y, tr, va, tmp_path / "b", "k", False, False)  # "interrupted" after 2 epochs
    resumed, hist = _fit_torch(cfg, feats, y, tr, va, tmp_path / "b", "k", True, False)
    assert len(hist["history"]) == 3
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a.float(), b.float()), k


def test_cli_train_predict_eval_knn(fixture_jsonl, tmp_path, capsys):
    out = tmp_path / "knn"
    assert main(["classify", "train", "--file", str(fixture_jsonl), "--model", "knn", "--out", str(out),
                 "--json"]) == 0
    capsys.readouterr()
    assert main(["classify", "predict", "--model", str(out), "--top", "2", "--json",
                 "pharmaceutical composition tablet dose oral drug"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["top"][0]["code"] == "A61K" and res["top"][0]["title"].startswith("Preparations for medical")
    assert "A61K" in res["predicted"]
    assert main(["classify", "eval", "--model", str(out), "--bootstrap", "10", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["model"] == "knn" and rep["n_docs"] == 12
    # user errors: one line, exit 2
    assert main(["classify", "predict", "--model", str(out), "   "]) == 2
    assert main(["classify", "eval", "--model", str(tmp_path / "nope")]) == 2
    assert main(["classify", "train", "--dataset", "pap2pat", "--out", str(tmp_path / "x")]) == 2
    assert main(["classify", "train", "--file", str(fixture_jsonl), "--model", "svm", "--out", str(tmp_path / "y")]) == 2
    assert main(["classify", "labels", "--file", str(fixture_jsonl), "--label-field", "nolabels"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'svm'" in err and "no usable record" in err


def test_cnn_tokens_uses_shared_token_cache(fixture_jsonl, tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "tok"
    cfg = _cfg(model="cnn-tokens", epochs=2, max_tokens=24)
    info = train_classifier(cfg, DataSpec(dataset=None, file=str(fixture_jsonl)), out, show_progress=False)
    assert info["features"]["dim"] == 384  # MiniLM-L6 hidden size
    assert any((tmp_path / "cache" / "tokens").rglob("index.sqlite"))
    s = load_classifier(out).scores(["network packet router protocol"])
    assert s.shape == (1, 3)
