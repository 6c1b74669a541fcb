"""Residual training against BM25 (CLEAR): the normalised BM25 prior, the two-direction loss, the trainer wiring."""

import json

import numpy as np
import pytest
import torch
from conftest import FakeTokenStore, fixture_split, make_fixture_dataset, tiny_config

from patlink.losses.supcon import supcon_from_logits
from patlink.training.config import EncoderConfig
from patlink.training.lexical import LexicalPrior, normalised_bm25
from patlink.training.trainer import train_linker


def test_normalised_bm25_rows_peak_at_one():
    B = normalised_bm25(["turbine valve", "zebra"], ["a turbine valve seal", "a pump", "a valve"])
    assert B.shape == (2, 3) and B.dtype == np.float32
    assert B[0].argmax() == 0 and B[0].max() == pytest.approx(1.0)
    assert B[0, 1] == 0.0 and 0 < B[0, 2] < 1
    assert (B[1] == 0).all()                 # no shared term: a zero row, not NaN


def test_prior_blocks_are_oriented_per_direction():
    lp = LexicalPrior({"i1": "turbine valve", "i2": "lithium anode"}, {"p1": "lithium anode cell", "p2": "valve"})
    B, Bt = lp.block(["i2", "i1"], ["p2", "p1"])
    assert B.shape == (2, 2) and Bt.shape == (2, 2)
    assert B[0, 1] == pytest.approx(1.0) and B[0, 0] == 0       # item i2's best patent is p1
    assert Bt[0, 1] == pytest.approx(1.0) and Bt[0, 0] == 0     # patent p2's best item is i1


def test_supcon_patent_logits_change_only_the_patent_term():
    g = torch.Generator().manual_seed(0)
    S = torch.randn(4, 5, generator=g)
    pos = torch.zeros(4, 5, dtype=torch.bool)
    pos[torch.arange(4), torch.arange(4)] = True
    same = supcon_from_logits(S, pos, S_patent=S)
    base = supcon_from_logits(S, pos)
    assert torch.allclose(same["loss"], base["loss"])
    other = supcon_from_logits(S, pos, S_patent=S + 3 * torch.eye(4, 5))
    assert torch.allclose(other["item_loss"], base["item_loss"])
    assert other["patent_loss"] < base["patent_loss"]            # positives boosted in the patent direction
    with pytest.raises(ValueError):
        supcon_from_logits(S, pos, S_patent=S[:3])


def _cfg(**kw):
    return tiny_config(**{"epochs": 1, "tune_fusion": False, **kw})


def test_validation_scores_the_residual_sum():
    # BM25 texts: item k and patent k share a unique word (BM25 ranks every pair first); token arrays: random
    # words (the untrained encoder ranks at chance). With a dominant prior the validation MRR is BM25's (1.0).
    from patlink.models.linker import Linker
    from patlink.training.trainer import validation_scores

    rng = np.random.default_rng(3)
    words = ["".join(rng.choice(list("bcdfghjklmnpqrstvwxz"), 8)) for _ in range(30)]
    items = {f"i{k}": f"{w} item" for k, w in enumerate(words)}
    patents = {f"p{k}": f"{w} patent claim" for k, w in enumerate(words)}
    store = FakeTokenStore()
    ia = dict(zip(items, store.encode([f"noise{rng.integers(99)} n{k}" for k in range(30)])))
    pa = dict(zip(patents, store.encode([f"noise{rng.integers(99)} m{k}" for k in range(30)])))
    model = Linker(EncoderConfig(hidden=32, out_dim=16, n_heads=2, n_queries=2), 16, store=store)
    links = [(f"i{k}", f"p{k}") for k in range(30)]
    lp = LexicalPrior(items, patents)
    plain = validation_scores(model, ia, pa, links[:10], links[10:], full=False)
    lex = validation_scores(model, ia, pa, links[:10], links[10:], full=False, lexical=lp, lexical_weight=1e3)
    assert plain["mrr_item2patent"] < 0.9
    assert lex["mrr_item2patent"] == pytest.approx(1.0) and lex["mrr_patent2item"] == pytest.approx(1.0)


def test_trainer_with_lexical_residual_runs_and_selects_on_the_sum(tmp_path):
    ds = make_fixture_dataset(40)
    res = train_linker(ds, fixture_split(ds), _cfg(lexical_residual=5.0), tmp_path / "lex", store=FakeTokenStore())
    assert np.isfinite([h["train_loss"] for h in res.history]).all()
    assert json.loads((tmp_path / "lex" / "run.json").read_text())["lexical_residual"] == 5.0


def test_lexical_residual_needs_patent_text():
    with pytest.raises(ValueError, match="lexical_residual"):
        _cfg(lexical_residual=1.0, patent_repr="item_set").validate()
    with pytest.raises(ValueError, match="lexical_residual"):
        _cfg(lexical_residual=-1.0).validate()
