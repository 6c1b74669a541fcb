"""Trainer on a synthetic fixture graph: loss decreases, resume reproduces the uninterrupted run, clear errors."""

import json

import pytest
import torch
from conftest import FakeTokenStore, fixture_split, make_fixture_dataset, tiny_config

from patlink.models.linker import Linker
from patlink.training.config import EncoderConfig, TrainConfig
from patlink.training.trainer import train_linker


def cfg(**kw):
    return tiny_config(**{"epochs": 3, "hard_negatives": (0, 2, 3), **kw})


def test_training_decreases_loss_and_writes_outputs(tmp_path):
    ds = make_fixture_dataset(48, extra_links=10)
    res = train_linker(ds, fixture_split(ds), cfg(epochs=4), tmp_path / "run", store=FakeTokenStore())
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0] * 0.8
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(m["epochs"]) == 4 and m["best_epoch"] == res.best_epoch
    best_val = max(h["val"]["mrr_mean"] for h in m["epochs"])
    assert res.best_metric == pytest.approx(best_val)       # selected on validation MRR, not on loss
    assert (tmp_path / "run" / "best" / "model.safetensors").exists()
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert len(split["val"]) == 8
    Linker.load(tmp_path / "run" / "best", store=FakeTokenStore())


@pytest.mark.parametrize("negatives", ["adversarial", "bm25"])
def test_resume_same_state(tmp_path, negatives):
    ds = make_fixture_dataset(40, extra_links=6)
    split = fixture_split(ds)
    c = cfg(negatives=negatives)
    full = train_linker(ds, split, c, tmp_path / "full", store=FakeTokenStore())
    # run the same config but stop after 2 epochs by making epoch 3 the interruption point
    import patlink.training.trainer as tr

    class Stop(Exception):
        pass

    orig = tr._Trainer._step

    def interrupt(self, batch, k, bank):
        if self.epoch == 2:
            raise Stop
        return orig(self, batch, k, bank)

    tr._Trainer._step = interrupt
    try:
        with pytest.raises(Stop):
            train_linker(ds, split, c, tmp_path / "res", store=FakeTokenStore())
    finally:
        tr._Trainer._step = orig
    resumed = train_linker(ds, split, c, tmp_path / "res", store=FakeTokenStore(), resume=True)
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in full.history],
                                                                       rel=1e-6)
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "res" / "checkpoint.pt", weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k])
    for k in a.get("adv_items", {}):
        torch.testing.assert_close(a["adv_items"][k], b["adv_items"][k])
    assert a["sched"] == b["sched"] and torch.equal(a["gen"], b["gen"])


def test_errors_before_training(tmp_path):
    ds = make_fixture_dataset(20)
    split = fixture_split(ds)
    with pytest.raises(ValueError, match="no validation links"):
        train_linker(ds, {"train": split["train"], "val": []}, cfg(), tmp_path / "a", store=FakeTokenStore())
    ds.items["i0"]["text"] = "   "
    bad = {"train": split["train"] + [("i0", "p0")], "val": split["val"]}
    with pytest.raises(ValueError, match="no text"):
        train_linker(ds, bad, cfg(), tmp_path / "b", store=FakeTokenStore())
    ds = make_fixture_dataset(20)
    with pytest.raises(ValueError, match="batch_size"):
        train_linker(ds, split, cfg(batch_size=1), tmp_path / "c", store=FakeTokenStore())
    with pytest.raises(ValueError, match="temperature"):
        train_linker(ds, split, cfg(temperature=0), tmp_path / "d", store=FakeTokenStore())
    with pytest.raises(ValueError, match="n_heads"):
        train_linker(ds, split, cfg(encoder=EncoderConfig(n_heads=5, hidden=8, out_dim=8)), tmp_path / "e",
                     store=FakeTokenStore())
    assert not (tmp_path / "e" / "checkpoint.pt").exists()


def test_config_round_trip_and_unknown_keys(tmp_path):
    c = cfg(negatives="adversarial")
    d = c.to_dict()
    assert TrainConfig.from_dict(json.loads(json.dumps(d))) == c
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"epochz": 3})
    assert c.hard_negatives_at(0) == 0 and c.hard_negatives_at(1) == 2 and c.hard_negatives_at(9) == 3
    assert cfg(negatives="inbatch").hard_negatives_at(2) == 0
