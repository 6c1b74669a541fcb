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


# ---------------------------------------------------------------------------------------------- pinned trainings
# Short trainings of every variant on the fixture graphs (fixture data, not real data): patents as text / item set
# pooled / item set members; in-batch / random / BM25 / adversarial negatives (bank and re-encoded), the curriculum
# (extra negatives from epoch 2), residual training, the soft-kNN loss. Flat keys, so the same body runs on the code
# before the nested config.
_ENC = {"hidden": 32, "out_dim": 16, "n_heads": 2, "n_queries": 2}
_SETS = {"patent_repr": "item_set", "set_scoring": "members", "members_k": 3}
VARIANTS = {
    "text-inbatch": {"full_val_metrics": True},
    "text-random": {"negatives": "random"},
    "text-bm25": {"negatives": "bm25", "bm25_pool": 5},
    "text-adversarial": {"negatives": "adversarial", "adversary": {"hidden": 8}},
    "text-adversarial-encode": {"negatives": "adversarial",
                                "adversary": {"hidden": 8, "negative_embeddings": "encode", "exclusive": False}},
    "text-random-epoch-bank": {"negatives": "random", "adversary": {"bank_refresh": "epoch"}, "anchor": 0.0},
    "text-lexical": {"lexical_residual": 5.0, "denominator": "all"},
    "set-pool": {"patent_repr": "item_set", "set_max_items": 2},
    "set-members": dict(_SETS),
    "set-members-random": {**_SETS, "negatives": "random"},
    "set-members-bm25": {**_SETS, "negatives": "bm25"},
    "set-members-adversarial": {**_SETS, "negatives": "adversarial", "adversary": {"hidden": 8}},
    "set-members-nca": {**_SETS, "member_loss": "nca", "temperature": 0.1},
}


def short_training(name, out):
    """2 epochs (extra negatives in the second), one evaluation per epoch plus the start; returns the evaluations'
    MRRs, the step losses and, with full metrics, the last epoch's item→patent metrics."""
    kw = VARIANTS[name]
    flat = {"encoder": _ENC, "epochs": 2, "batch_size": 16 if name.startswith("text") else 8, "lr": 3e-3,
            "progress": False, "patience": 0, "full_val_metrics": False, "tune_fusion": False,
            "hard_negatives": [0, 3], "evals_per_epoch": 1, **kw}
    if name.startswith("text"):
        ds = make_fixture_dataset(40, extra_links=6)
        split = fixture_split(ds)
    else:
        from test_item_sets import set_fixture

        ds, split = set_fixture(16, 4)
    train_linker(ds, split, TrainConfig.from_dict(flat), out, store=FakeTokenStore())
    m = json.loads((out / "metrics.json").read_text())
    evals = [(e["mrr_item2patent"], e["mrr_patent2item"]) for e in m["evals"]]
    losses = [s["loss"] for s in m["steps"]]
    extra = m["epochs"][-1]["val"]["item2patent"] if kw.get("full_val_metrics") else None
    return evals, losses, extra


# (validation MRR item→patent, patent→item) at each evaluation and the loss of each step of the short trainings
# above, computed with the code before the trainer was split into parts (this body run against it)
PINNED = {
    "text-inbatch": (
        [
            (0.14323667370006044, 0.21839447289011765), (0.1037933684672815, 0.21315750172923348),
            (0.10409378713606654, 0.2144041210666236)],
        [
            4.250399589538574, 6.953195571899414, 0.8408928513526917, 2.4389588832855225, 3.2156262397766113,
            2.5692296028137207]),
    "text-random": (
        [
            (0.14323667370006044, 0.21839447289011765), (0.1037933684672815, 0.21315750172923348),
            (0.10343825483091787, 0.20758028041925353)],
        [
            4.250399589538574, 6.953195571899414, 0.8408928513526917, 4.384099006652832, 4.318230152130127,
            4.3044843673706055]),
    "text-bm25": (
        [
            (0.14323667370006044, 0.21839447289011765), (0.1037933684672815, 0.21315750172923348),
            (0.10343825483091787, 0.20798877715127967)],
        [
            4.250399589538574, 6.953195571899414, 0.8408928513526917, 4.224350929260254, 4.312261581420898,
            4.881572246551514]),
    "text-adversarial": (
        [
            (0.14323667370006044, 0.21839447289011765), (0.10342787139125811, 0.2128526761521756),
            (0.10290404040404041, 0.20738012725857405)],
        [
            4.250399589538574, 6.89533805847168, 0.9012762308120728, 4.356705188751221, 4.3181257247924805,
            4.26322603225708]),
    "text-adversarial-encode": (
        [
            (0.14323667370006044, 0.21839447289011765), (0.10342787139125811, 0.2128526761521756),
            (0.12414587046939987, 0.20738012725857405)],
        [
            4.250399589538574, 6.89533805847168, 0.9012762308120728, 4.707572937011719, 4.068264484405518,
            3.406022071838379]),
    "text-random-epoch-bank": (
        [
            (0.14323667370006044, 0.21839447289011765), (0.10331988361879665, 0.21426044290570406),
            (0.0988241792929293, 0.20428166930814243)],
        [
            4.250399589538574, 6.953195571899414, 0.8607243299484253, 4.292621612548828, 4.15308952331543,
            4.109142780303955]),
    "text-lexical": (
        [
            (0.33181502525252526, 0.4204950142450143), (0.2515796703296703, 0.28115870716973657), (0.2588427197802198,
            0.270052047625577)],
        [
            4.43549919128418, 5.998355865478516, 2.0475950241088867, 2.7132816314697266, 3.66544771194458,
            2.4077138900756836]),
    "set-pool": (
        [
            (0.6120535714285715, 0.6744791666666667), (0.6302083333333333, 0.6770833333333333), (0.6343749999999999,
            0.6548611111111111)],
        [
            2.8033854961395264, 4.894317626953125, 1.9093248844146729, 3.022059440612793, 4.2683515548706055,
            5.192863941192627, 0.7646842002868652, 2.0601511001586914, 1.3984901905059814, 2.4676756858825684,
            0.7321134805679321, 1.7546945810317993]),
    "set-members": (
        [
            (0.5385416666666667, 0.5614583333333333), (0.515625, 0.5874999999999999), (0.484375, 0.5874999999999999)],
        [
            0.8365628719329834, 7.406405448913574, 3.48451566696167, 2.7675037384033203, 1.9694900512695312,
            6.22360897064209, 2.5595483779907227, 0.5963236093521118, 1.4673467874526978, 0.9518529176712036,
            2.0804085731506348, 2.170802354812622]),
    "set-members-random": (
        [
            (0.5385416666666667, 0.5614583333333333), (0.515625, 0.5874999999999999), (0.484375, 0.5874999999999999)],
        [
            0.8365628719329834, 7.406405448913574, 3.48451566696167, 2.7675037384033203, 1.9694900512695312,
            6.22360897064209, 1.0612763166427612, 1.8612968921661377, 0.6009085178375244, 3.589123487472534,
            2.8154985904693604, 1.1426447629928589]),
    "set-members-bm25": (
        [
            (0.5385416666666667, 0.5614583333333333), (0.515625, 0.5874999999999999), (0.484375, 0.5874999999999999)],
        [
            0.8365628719329834, 7.406405448913574, 3.48451566696167, 2.7675037384033203, 1.9694900512695312,
            6.22360897064209, 1.0612763166427612, 1.8612968921661377, 0.6009085178375244, 3.589123487472534,
            2.8154985904693604, 1.1426447629928589]),
    "set-members-adversarial": (
        [
            (0.5385416666666667, 0.5614583333333333), (0.5260416666666666, 0.5874999999999999), (0.515625,
            0.6187499999999999)],
        [
            0.8365628719329834, 7.623429298400879, 3.3511476516723633, 2.8276782035827637, 1.8496646881103516,
            6.170207977294922, 0.9947373270988464, 1.8121232986450195, 0.5500448346138, 3.5131330490112305,
            2.685593843460083, 1.0470608472824097]),
    "set-members-nca": (
        [
            (0.5385416666666667, 0.5614583333333333), (0.4708333333333333, 0.5651041666666666), (0.48437499999999994,
            0.5787202380952381)],
        [
            3.300220012664795, 3.772338390350342, 3.6081490516662598, 3.105976104736328, 3.3405323028564453,
            3.792670249938965, 2.90862774848938, 3.1443638801574707, 2.038872241973877, 3.132391929626465,
            2.783926248550415, 3.2540485858917236]),
}
# text-inbatch, last epoch, item→patent, full metrics (ranx on the top-100 run)
PINNED_FULL_I2P = {
    'mrr_exact': 0.10409378713606654, 'n_queries': 8, 'mrr': 0.10409378713606654, 'map': 0.10409378713606654,
    'ndcg@10': 0.14380224280808426, 'p@1': 0.0, 'recall@5': 0.25, 'rcap@10': 0.375, 'p@100': 0.01}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_short_trainings_reproduce_the_pinned_metrics_and_losses(tmp_path, name):
    evals, losses, extra = short_training(name, tmp_path / "r")
    want_evals, want_losses = PINNED[name]
    assert len(evals) == 3 and len(losses) == len(want_losses)
    assert [x for e in evals for x in e] == pytest.approx([x for e in want_evals for x in e], rel=1e-6, abs=1e-9)
    assert losses == pytest.approx(want_losses, rel=1e-6, abs=1e-9)
    if extra is not None:
        assert {k: extra[k] for k in PINNED_FULL_I2P} == pytest.approx(PINNED_FULL_I2P, rel=1e-9)
