"""Known extra negatives (``negatives.source="known"``): only each query's judged non-relevant documents are drawn,
the fallback for queries without any, and a short training run on a fixture graph (synthetic, not real data)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import FakeTokenStore, fixture_split, make_fixture_dataset, tiny_config

from patlink.training import trainer
from patlink.training.config import TrainConfig
from patlink.training.negatives import Batch, EmbeddingBank, KnownNegatives, build_negatives
from patlink.training.negatives.known import known_pools
from patlink.training.patents import PatentBatch, TextPatents
from patlink.training.runs import train_run
from patlink.training.sampler import LinkIndex
from patlink.training.trainer import train_linker

N = 12
# item k ↔ patent k, and i00 ↔ p01 too
LINKS = [(f"i{k:02d}", f"p{k:02d}") for k in range(N)] + [("i00", "p01")]
KNOWN = [
    ("i00", "p05"), ("i00", "p06"),   # i00's drawable known negatives
    ("i00", "p02"),                   # p02 is in the batch: never drawn; i00 is, too: nothing for p02
    ("i00", "p01"),                   # a training link: dropped (never a negative)
    ("i00", "p99"), ("i99", "p03"),   # outside the training graph: dropped
    ("i02", "p07"),
    ("i09", "p00"), ("i10", "p00"),   # p00's known-negative items
    ("i11", "p01"),
    ("i02", "p01"),                   # i02 is in the batch: never drawn for p01
]
BATCH_ITEMS, BATCH_PATENTS = np.array([0, 2]), np.array([0, 1, 2, 3])   # p03: no known negative


def _setup(k: int = 3):
    idx = LinkIndex.from_links(LINKS)
    cfg = TrainConfig.from_dict({"negatives": {"source": "known", "per_epoch": [0, k], "exclusive": False}})
    tokens = [np.ones((2, 4), dtype=np.float16) for _ in range(N)]
    patents = TextPatents(cfg, idx, tokens, {p: tokens[0] for p in idx.patents}, {p: f"text {p}" for p in idx.patents})
    g = torch.Generator().manual_seed(0)
    bank = EmbeddingBank(torch.nn.functional.normalize(torch.randn(N, 4, generator=g), dim=1),
                         torch.nn.functional.normalize(torch.randn(N, 4, generator=g), dim=1))
    bi, bp = BATCH_ITEMS, BATCH_PATENTS
    batch = Batch(bi, bank.item[bi].clone(), PatentBatch(bp, bank.patent[bp].clone()), step=0)
    return cfg, idx, tokens, patents, bank, batch


def _drawn(neg):
    """{query index: set of drawn indices} for each side: ``item`` (patent queries) and ``patent`` (item queries)."""
    out = {}
    for d, queries in zip(neg.draws, (BATCH_PATENTS, BATCH_ITEMS)):
        out[d.side] = {int(q): {int(x) for x in d.sampled[r] if x >= 0} for r, q in enumerate(queries)}
    return out


def test_known_pools_keep_only_pairs_inside_the_training_graph_and_not_links():
    idx = LinkIndex.from_links(LINKS)
    by_item, by_patent, n = known_pools(idx, KNOWN + [("i00", "p05")])   # a repeated pair counts once
    assert n == 8
    assert by_item[0] == [2, 5, 6] and by_item[2] == [1, 7] and by_item[1] == []
    assert by_patent[0] == [9, 10] and by_patent[1] == [2, 11] and by_patent[5] == [0] and by_patent[2] == [0]


def test_only_known_negatives_are_drawn_never_positives_or_the_batch():
    cfg, idx, tokens, patents, bank, batch = _setup(k=3)
    src = KnownNegatives(idx, cfg.curriculum, tokens, torch.Generator().manual_seed(1), negative_links=KNOWN,
                         fallback="none", exclusive=False)
    src.bank = bank
    assert src.n_known == 8
    assert src.extra_negatives(batch, 0, None, patents) is None          # epoch 1 of the curriculum: none
    for _ in range(20):   # every draw, whatever the noise: exactly the allowed known negatives (fewer than k)
        neg = src.extra_negatives(batch, 1, None, patents)
        d = _drawn(neg)
        assert d["patent"] == {0: {5, 6}, 2: {7}}          # p02/p01 (batch, link) never; i02's p01 is in the batch
        assert d["item"] == {0: {9, 10}, 1: {11}, 2: set(), 3: set()}   # p01's i02, p02's i00: in the batch
        assert neg.draws[0].sampled.shape == (4, 3) and neg.draws[1].sampled.shape == (2, 3)
        assert set(neg.patents.tolist()) == {5, 6, 7} and set(neg.items.tolist()) == {9, 10, 11}
        torch.testing.assert_close(neg.patent_embeddings, bank.patent[torch.as_tensor(neg.patents)])


def test_random_fallback_only_for_queries_without_known_negatives():
    cfg, idx, tokens, patents, bank, batch = _setup(k=3)
    src = build_negatives(cfg, idx, tokens, [f"t{k}" for k in range(N)], patents, torch.Generator().manual_seed(2),
                          negative_links=KNOWN)
    assert isinstance(src, KnownNegatives) and src.fallback == "random"   # the config's default
    src.bank = bank
    fell_back = set()
    for _ in range(20):
        d = _drawn(src.extra_negatives(batch, 1, None, patents))
        assert d["patent"] == {0: {5, 6}, 2: {7}} and d["item"][0] == {9, 10} and d["item"][1] == {11}
        assert d["item"][2] == set()   # p02 has a known negative (i00, blocked by the batch): no fallback
        # p03 has no known negative: 3 uniform items, never the batch's (i00, i02) nor its positive i03
        assert len(d["item"][3]) == 3 and not d["item"][3] & {0, 2, 3}
        fell_back |= d["item"][3]
    assert len(fell_back) > 3   # really random, not a fixed pool
    none_cfg = cfg.replace(negatives={"known_fallback": "none"})
    src = build_negatives(none_cfg, idx, tokens, [""] * N, patents, torch.Generator(), negative_links=KNOWN)
    src.bank = bank
    assert _drawn(src.extra_negatives(batch, 1, None, patents))["item"][3] == set()


def test_errors():
    cfg, idx, tokens, _, _, _ = _setup()
    with pytest.raises(ValueError, match="fallback"):
        KnownNegatives(idx, cfg.curriculum, tokens, torch.Generator(), negative_links=KNOWN, fallback="uniform")
    with pytest.raises(ValueError, match="none of the 2 known negatives"):
        KnownNegatives(idx, cfg.curriculum, tokens, torch.Generator(), negative_links=[("i00", "p01"), ("i99", "p00")])
    with pytest.raises(ValueError, match="known_fallback"):
        cfg.replace(negatives={"known_fallback": "uniform"}).validate()


def _with_known(ds, split):
    """Each training item judged non-relevant to the patents of the next two items (when not linked to them)."""
    links = set(ds.links)
    train_items = sorted({i for i, _ in split["train"]})
    neg = set()
    for k, i in enumerate(train_items):
        for j in (1, 2):
            p = "p" + train_items[(k + j) % len(train_items)][1:]
            if (i, p) not in links:
                neg.add((i, p))
    return dataclasses.replace(ds, negative_links=sorted(neg))


def test_training_with_known_negatives_draws_only_them(tmp_path, monkeypatch):
    ds = make_fixture_dataset(24)
    split = fixture_split(ds, n_val=4)
    ds = _with_known(ds, split)
    cfg = tiny_config(epochs=2, hard_negatives=(0, 2), negatives={"source": "known", "known_fallback": "none"},
                      eval_at_start=False, tune_fusion=False)
    seen: list[tuple[str, str]] = []
    orig = KnownNegatives.extra_negatives

    def record(self, batch, epoch, model, patents):
        neg = orig(self, batch, epoch, model, patents)
        if neg is not None:
            for d, queries in zip(neg.draws, (batch.patents.patents, batch.items)):
                for r, q in enumerate(queries):
                    for a in d.sampled[r].tolist():
                        if a >= 0:
                            seen.append((self.idx.items[a], self.idx.patents[int(q)]) if d.side == "item"
                                        else (self.idx.items[int(q)], self.idx.patents[a]))
        return neg

    monkeypatch.setattr(KnownNegatives, "extra_negatives", record)
    monkeypatch.setattr(trainer, "_default_store", lambda config: FakeTokenStore())
    res = train_run(ds, cfg, tmp_path / "run", split, plots=False)   # what patlink train runs
    assert [h["hard_negatives"] for h in res.history] == [0, 2]
    assert seen and set(seen) <= set(ds.negative_links)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["negatives"]["source"] == "known"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["negatives"] == "known" and run["n_known_negatives"] == len(ds.negative_links) > 0
    assert run["n_dataset_negative_links"] == len(ds.negative_links)


def test_training_needs_known_negatives(tmp_path):
    ds = make_fixture_dataset(12)
    split = fixture_split(ds, n_val=4)
    with pytest.raises(ValueError, match=r"has no known negatives \(qrels rows with score 0"):
        train_linker(ds, split, tiny_config(negatives="known"), tmp_path / "a", store=FakeTokenStore())
    val_item = split["val"][0][0]
    ds = dataclasses.replace(ds, negative_links=[(val_item, split["train"][0][1])])   # a validation item only
    with pytest.raises(ValueError, match="none of the 1 known negatives"):
        train_linker(ds, split, tiny_config(negatives="known"), tmp_path / "b", store=FakeTokenStore())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
