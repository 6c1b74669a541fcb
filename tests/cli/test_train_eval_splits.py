"""``patlink train`` and ``patlink eval`` use one split rule, and a refused ``train`` leaves the run folder as it was.

A BEIR folder with train and test qrels but no dev split: in both protocols the folder's test links are the test
links, never trained on, and validation is carved from the training links only (whole items for the new-product
protocol). Training itself is replaced by a recorder: what is checked is the split ``train`` would train on and
the one ``eval`` would evaluate on.
"""

from __future__ import annotations

import json
import types

import pytest

from patlink.cli.main import main
from patlink.data.beir import load_beir
from patlink.evaluation.experiment import resolve_splits

from .conftest import files_of, write_beir

PROTOCOLS = ["graph", "new-product"]


def _pairs(links) -> set[tuple[str, str]]:
    return {tuple(x) for x in links}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_resolve_splits_keeps_the_folders_test_links_and_carves_validation_from_train(protocol, beir_dir):
    ds = load_beir(beir_dir)
    own_train, own_test = _pairs(ds.link_splits["train"]), _pairs(ds.link_splits["test"])
    sp = resolve_splits(ds, seed=0, protocol=protocol, need_val=True)
    assert _pairs(sp["test"]) == own_test
    assert not _pairs(sp["train"]) & own_test
    assert sp["val"] and _pairs(sp["val"]) <= own_train and not _pairs(sp["val"]) & _pairs(sp["train"])
    assert _pairs(sp["train"]) | _pairs(sp["val"]) == own_train
    if protocol == "new-product":   # validation products are unseen in training too
        assert not {i for i, _ in sp["val"]} & {i for i, _ in sp["train"]}
    assert resolve_splits(ds, seed=0, protocol=protocol) == sp   # the same for eval (need_val=False)


def test_a_pair_in_train_and_test_is_held_out(tmp_path):
    d = write_beir(tmp_path / "b")
    test_line = (d / "qrels" / "test.tsv").read_text().splitlines()[1]
    with open(d / "qrels" / "train.tsv", "a") as f:
        f.write(test_line + "\n")
    ds = load_beir(d)
    sp = resolve_splits(ds, seed=0, need_val=True)
    assert tuple(test_line.split("\t")[:2]) in _pairs(sp["test"]) and not _pairs(sp["train"]) & _pairs(sp["test"])


def _record_train_run(monkeypatch) -> list[dict]:
    seen: list[dict] = []

    def fake_train_run(ds, cfg, out, split, **kw):
        seen.append({k: sorted(_pairs(v)) for k, v in split.items()})
        return types.SimpleNamespace(best_val={}, best_epoch=0, best_step=0, model_dir=out, stopped_early=False,
                                     fusion=None)

    monkeypatch.setattr("patlink.training.runs.train_run", fake_train_run)
    return seen


def _record_eval_splits(monkeypatch) -> list[dict]:
    seen: list[dict] = []

    class Recorded(Exception):
        pass

    def fake_evaluate(ds, methods, splits, **kw):
        seen.append({k: sorted(_pairs(v)) for k, v in splits.items()})
        raise Recorded

    monkeypatch.setattr("patlink.evaluation.experiment.evaluate", fake_evaluate)
    return seen


@pytest.mark.parametrize("train_args,protocol", [
    ([], "graph"),
    (["--patent-repr", "item_set"], "new-product"),   # item sets default to the new-product protocol
    (["--protocol", "new-product"], "new-product"),
])
def test_train_never_trains_on_the_folders_test_links_and_agrees_with_eval(train_args, protocol, beir_dir,
                                                                           tmp_path, monkeypatch, capsys):
    ds = load_beir(beir_dir)
    own_test = _pairs(ds.link_splits["test"])
    trained = _record_train_run(monkeypatch)
    assert main(["train", "--beir", str(beir_dir), "--out", str(tmp_path / "run"), *train_args]) == 0
    (split,) = trained
    assert _pairs(split["test"]) == own_test and not _pairs(split["train"]) & own_test
    evaluated = _record_eval_splits(monkeypatch)
    assert main(["eval", "--beir", str(beir_dir), "--method", "bm25", "--protocol", protocol]) == 1
    capsys.readouterr()
    assert evaluated == [split]


def test_new_product_on_a_folder_whose_test_items_have_training_links_is_refused_in_train_and_eval(
        tmp_path, monkeypatch, capsys):
    d = write_beir(tmp_path / "b", shared_test_items=2)
    trained = _record_train_run(monkeypatch)
    out = tmp_path / "run"
    assert main(["train", "--beir", str(d), "--out", str(out), "--protocol", "new-product"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "new-product holds out products" in err and "item(s) of its own test split" in err
    assert "--protocol graph" in err
    assert not trained and not out.exists()
    assert main(["eval", "--beir", str(d), "--method", "bm25", "--protocol", "new-product"]) == 2
    assert "item(s) of its own test split" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- resume
def _fake_run(folder, cfg) -> None:
    """A run folder as an interrupted ``patlink train`` leaves it: config.json and a checkpoint of ``cfg``."""
    import torch

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    torch.save({"config_json": json.dumps(cfg.to_dict()), "epoch": 1}, folder / "checkpoint.pt")
    (folder / "split.json").write_text('{"train": [], "val": [], "test": []}\n')


def test_refused_resume_leaves_every_file_as_it_was(beir_dir, tmp_path, capsys):
    from patlink.training.config import TrainConfig

    run = tmp_path / "run"
    _fake_run(run, TrainConfig())
    before = files_of(run)
    assert main(["train", "--beir", str(beir_dir), "--out", str(run), "--resume", "--lr", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cannot resume" in err and "optim.lr" in err
    assert files_of(run) == before


def test_check_run_accepts_the_settings_a_resume_may_change(tmp_path):
    import dataclasses

    from patlink.training.config import TrainConfig
    from patlink.training.runs import check_run

    run = tmp_path / "run"
    cfg = TrainConfig()
    _fake_run(run, cfg)
    check_run(cfg, run, resume=True)
    check_run(dataclasses.replace(cfg, epochs=20, device="cpu"), run, resume=True)
    with pytest.raises(ValueError, match=r"cannot resume .*seed"):
        check_run(dataclasses.replace(cfg, seed=3), run, resume=True)
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        check_run(cfg, run, resume=True)
    check_run(dataclasses.replace(cfg, seed=3), run, resume=False)   # no resume: the checkpoint is not read
