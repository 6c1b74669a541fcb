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

    def interrupt(self, batch, epoch):
        if self.epoch == 2:
            raise Stop
        return orig(self, batch, epoch)

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


# the full config.json that patlink train wrote before the nested configuration (every flat key)
OLD_FLAT_CONFIG = {
    "encoder": {"backbone": "minilm", "max_length": 256, "hidden": 384, "out_dim": 384, "n_heads": 4,
                "n_queries": 2, "n_blocks": 2, "dropout": 0.1, "max_set_tokens": 8192, "init": "backbone",
                "max_chunks": 1},
    "adversary": {"hidden": 128, "lr": 0.002, "exclusive": False, "negative_embeddings": "encode",
                  "bank_refresh": "epoch"},
    "epochs": 2, "batch_size": 32, "lr": 0.0005, "weight_decay": 0.02, "warmup_ratio": 0.2, "temperature": 0.07,
    "denominator": "all", "negatives": "adversarial", "hard_negatives": [0, 4], "zclip": False,
    "zclip_max_norm": 3.0, "patience": 2, "select_metric": "mrr_item2patent", "bm25_pool": 20, "seed": 3,
    "threads": 1, "progress": False, "eval_batch_size": 128, "full_val_metrics": False, "eval_every": 7,
    "evals_per_epoch": 2, "eval_at_start": False, "anchor": 1.0, "tune_fusion": False, "patent_repr": "text",
    "set_max_items": 4, "set_scoring": "pool", "members_k": 5, "member_loss": "supcon", "lexical_residual": 0.5}


def test_old_flat_configs_map_onto_the_nested_sections():
    c = TrainConfig.from_dict(OLD_FLAT_CONFIG)
    c.validate()
    assert (c.optim.lr, c.optim.weight_decay, c.optim.warmup_ratio, c.optim.zclip, c.optim.zclip_max_norm,
            c.optim.anchor) == (0.0005, 0.02, 0.2, False, 3.0, 1.0)
    assert (c.loss.name, c.loss.temperature, c.loss.denominator, c.loss.lexical_residual) == \
        ("supcon", 0.07, "all", 0.5)
    n = c.negatives
    assert (n.source, n.per_epoch, n.bm25_pool, n.exclusive, n.embeddings, n.bank_refresh) == \
        ("adversarial", (0, 4), 20, False, "encode", "epoch")
    assert (n.adversary.hidden, n.adversary.lr) == (128, 0.002)
    assert (c.patents.representation, c.patents.scoring, c.patents.set_max_items, c.patents.members_k) == \
        ("text", "pool", 4, 5)
    v = c.validation
    assert (v.select_metric, v.patience, v.eval_every, v.evals_per_epoch, v.eval_at_start, v.batch_size,
            v.full_metrics, v.tune_fusion) == ("mrr_item2patent", 2, 7, 2, False, 128, False, False)
    assert (c.epochs, c.batch_size, c.seed, c.threads, c.progress) == (2, 32, 3, 1, False)
    # nested form round-trips, and the flat and nested forms of one setting must agree
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert TrainConfig.from_dict({"lr": 1e-3, "optim": {"lr": 1e-3}}).optim.lr == 1e-3
    with pytest.raises(ValueError, match="optim.lr is given twice"):
        TrainConfig.from_dict({"lr": 1e-3, "optim": {"lr": 2e-3}})
    # the configs quoted in the docs
    hw = TrainConfig.from_dict({"patent_repr": "item_set", "set_scoring": "members", "epochs": 3})
    assert hw.patents.representation == "item_set" and hw.patents.scoring == "members" and hw.epochs == 3
    quiet = TrainConfig.from_dict({"threads": 1, "full_val_metrics": False, "progress": False})
    assert quiet.threads == 1 and quiet.validation.full_metrics is False
    assert TrainConfig().replace(negatives="bm25", lr=1e-4, seed=4).negatives.source == "bm25"


@pytest.mark.parametrize("d,match", [
    ({"negatives": "hard"}, r"negatives.source \(negatives\) must be one of inbatch\|random\|bm25\|adversarial"),
    ({"lr": "fast"}, r"optim.lr \(lr\) must be a number, got 'fast'"),
    ({"epochs": 2.5}, "epochs must be an integer"),
    ({"zclip": 1}, r"optim.zclip \(zclip\) must be true or false"),
    ({"hard_negatives": [0, -1]}, r"negatives.per_epoch \(hard_negatives\) must be a non-empty list"),
    ({"patents": {"representation": "set"}}, r"patents.representation \(patent_repr\) must be one of text\|item_set"),
    ({"validation": {"evals_per_epoch": 0}}, "validation.evals_per_epoch"),
    ({"encoder": {"init": "zeros"}}, "encoder.init must be one of backbone|random"),
    ({"negatives": {"adversary": {"hidden": 0}}}, "negatives.adversary.hidden"),
    ({"optim": {"warmup_ratio": 1.0}}, r"warmup_ratio\) must be in \[0, 1\)"),
])
def test_config_errors_are_one_line_naming_the_field(d, match):
    with pytest.raises(ValueError, match=match) as e:
        TrainConfig.from_dict(d).validate()
    assert "\n" not in str(e.value)


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match=r"unknown TrainConfig.optim key\(s\): \['lrr'\]"):
        TrainConfig.from_dict({"optim": {"lrr": 1}})
    with pytest.raises(ValueError, match="unknown adversary key 'depth'"):
        TrainConfig.from_dict({"adversary": {"depth": 2}})


def test_token_width_is_checked_before_any_embedding(tmp_path):
    ds = make_fixture_dataset(20)
    store = FakeTokenStore()
    with pytest.raises(ValueError, match="n_heads=3 must divide the token embedding size 16"):
        train_linker(ds, fixture_split(ds), cfg(encoder=EncoderConfig(n_heads=3, hidden=8, out_dim=8)),
                     tmp_path / "w", store=store)
    assert store.calls == 0 and not (tmp_path / "w").exists()
    from patlink.training.trainer import token_width

    class Unknown:
        pass

    assert token_width(Unknown(), "minilm") == 384      # from the backbone folder's config.json
