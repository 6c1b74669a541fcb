"""Fusion weight stored with the model, per-step checkpoint selection, L2-SP anchor (synthetic fixture data)."""

import json

import numpy as np
import pytest
import torch
from conftest import FakeTokenStore, fixture_split, make_fixture_dataset, tiny_config

from patlink.retrieval.fusion import pick_weight
from patlink.training.fusion import tune_linker_fusion
from patlink.training.trainer import train_linker


def cfg(**kw):
    return tiny_config(**{"epochs": 2, "tune_fusion": False, **kw})


def test_best_grid_value_tie_goes_to_half():
    assert pick_weight([0.0, 0.5, 1.0], [0.3, 0.3, 0.2]) == 0.5
    assert pick_weight([0.0, 0.5, 1.0], [0.1, 0.3, 0.9]) == 1.0
    assert pick_weight([0.0, 0.4, 0.6, 1.0], [0.1, 0.5, 0.5, 0.2]) in (0.4, 0.6)


def test_fusion_json_written_and_read_by_the_method(tmp_path):
    ds = make_fixture_dataset(40)
    split = fixture_split(ds, n_val=10)
    res = train_linker(ds, split, cfg(tune_fusion=True), tmp_path / "run", store=FakeTokenStore())
    f = json.loads((tmp_path / "run" / "fusion.json").read_text())
    assert res.fusion == f and f["tuned_on"] == "val" and f["n_val_links"] == 10
    for key in ("alpha", "alpha_item2patent", "alpha_patent2item"):
        assert 0.0 <= f[key] <= 1.0 and f[key] in f["grid"]
    # the stored α maximises the mean validation MRR over the grid; per-direction α its own curve
    joint = np.add(f["val_mrr"]["item2patent"], f["val_mrr"]["patent2item"]) / 2
    assert joint[f["grid"].index(f["alpha"])] == pytest.approx(joint.max())
    i2p = np.asarray(f["val_mrr"]["item2patent"])
    assert i2p[f["grid"].index(f["alpha_item2patent"])] == pytest.approx(i2p.max())
    # α = 1 is the linker alone (continuous scores, no ties): same MRR as the linker run on the validation pool
    from patlink.evaluation.linkage import pools_for
    from patlink.evaluation.metrics import mean_metric
    from patlink.retrieval.linker import LinkerRetriever

    items, patents = pools_for(ds, split["val"], "split")
    lr = LinkerRetriever(tmp_path / "run", "item2patent", store=FakeTokenStore())
    lr.index(patents)
    qrels = ds.qrels(split["val"], "item2patent")
    expected = mean_metric(qrels, lr.search({q: items[q] for q in qrels}, len(patents)), "mrr")
    assert f["val_mrr"]["item2patent"][-1] == pytest.approx(expected)
    from patlink.cli.methods import parse_method

    for d in ("item2patent", "patent2item"):  # the stored per-direction weight is the one used in each direction
        assert parse_method(f"{tmp_path / 'run'}+bm25").for_direction(d).alpha == pytest.approx(f[f"alpha_{d}"])
    # the model folder itself records the same weights and the training views (one accessor, per direction)
    from patlink.models.linker import read_settings

    assert json.loads((tmp_path / "run" / "best" / "linker.json").read_text())["fusion"] == f
    s = read_settings(tmp_path / "run")
    for d in ("item2patent", "patent2item"):
        assert s.fusion_alpha(d) == f[f"alpha_{d}"]
    assert (s.item_view, s.patent_view) == (tuple(ds.item_view), tuple(ds.patent_view)) == (("text",), ("title",))


def test_fusion_needs_validation_links(tmp_path):
    ds = make_fixture_dataset(20)
    with pytest.raises(ValueError, match="validation links"):
        tune_linker_fusion(tmp_path, ds, [], store=FakeTokenStore())


def test_eval_every_selects_best_step(tmp_path):
    ds = make_fixture_dataset(48, extra_links=4)
    res = train_linker(ds, fixture_split(ds), cfg(eval_every=1, epochs=2), tmp_path / "r", store=FakeTokenStore())
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    steps = [e["step"] for e in m["evals"]]
    n = len(m["steps"])
    assert steps == list(range(n + 1))            # step 0 (initial model) + one evaluation per step
    best = max(m["evals"], key=lambda e: e["metric"])
    assert res.best_step == best["step"] and res.best_metric == pytest.approx(best["metric"])
    assert res.best_val["mrr_mean"] == pytest.approx(best["metric"])


def test_anchor_limits_drift(tmp_path):
    ds = make_fixture_dataset(48)
    split = fixture_split(ds)

    def drift(anchor):
        torch.manual_seed(0)
        train_linker(ds, split, cfg(anchor=anchor, lr=1e-2, epochs=3, eval_at_start=False), tmp_path / f"a{anchor}",
                     store=FakeTokenStore())
        m = json.loads((tmp_path / f"a{anchor}" / "metrics.json").read_text())
        return m["steps"][-1].get("drift")

    assert drift(0.0) is None
    from safetensors.torch import load_file

    free = load_file(str(tmp_path / "a0.0" / "best" / "model.safetensors"))
    d_strong = drift(10.0)
    strong = load_file(str(tmp_path / "a10.0" / "best" / "model.safetensors"))
    from patlink.models.linker import Linker

    torch.manual_seed(0)
    init = Linker(cfg().encoder, 16).state_dict()
    dist = lambda sd: sum(float(((sd[k] - init[k]) ** 2).sum()) for k in init)
    assert d_strong is not None and dist(strong) < dist(free)


@pytest.mark.parametrize("refresh", ["once", "epoch"])
def test_bank_refresh_modes(tmp_path, refresh, monkeypatch):
    from patlink.models.linker import Linker

    ds = make_fixture_dataset(40)
    split = fixture_split(ds)
    full_calls = []
    orig = Linker.encode_arrays
    n_train_items = len({i for i, _ in split["train"]})

    def spy(self, side, arrays, batch_size=256):
        if len(arrays) == n_train_items and side == "item":
            full_calls.append(side)
        return orig(self, side, arrays, batch_size)

    monkeypatch.setattr(Linker, "encode_arrays", spy)
    c = cfg(negatives="adversarial", hard_negatives=(0, 2, 3), epochs=3, evals_per_epoch=1,
            adversary={"bank_refresh": refresh})
    train_linker(ds, split, c, tmp_path / refresh, store=FakeTokenStore())
    assert len(full_calls) == (1 if refresh == "once" else 2)      # epochs 2 and 3 use hard negatives
    st = torch.load(tmp_path / refresh / "checkpoint.pt", weights_only=True)
    assert st["bank_item"].shape == (n_train_items, 16)
