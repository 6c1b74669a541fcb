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
from patlink.training.negatives.known import known_pools, negative_only_patents
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


# ---------------------------------------------------------------------------------------------- link-less patents
# patents known ONLY as negatives (a reviewer's rejected candidates): in the graph without links
EXTRA = ["q01", "q00"]
KNOWN_EXTRA = [("i00", "q00"), ("i05", "q00"), ("i02", "q01"), ("i00", "q99")]   # q99: not in the graph


def test_link_index_extra_patents_come_last_without_links():
    plain = LinkIndex.from_links(LINKS)
    idx = LinkIndex.from_links(LINKS, EXTRA + ["p03", "q00"])   # p03 is linked: stays a linked patent, once
    assert idx.patents == plain.patents + ["q00", "q01"] and idx.items == plain.items
    np.testing.assert_array_equal(idx.pairs, plain.pairs)
    assert idx.item_pos == plain.item_pos and idx.patent_pos == plain.patent_pos + [[], []]
    assert idx.n_linked_patents == plain.n_linked_patents == N
    assert not idx.pos_matrix(np.arange(N), np.array([12, 13])).any()
    none = LinkIndex.from_links(LINKS, ())
    assert none.patents == plain.patents and none.patent_pos == plain.patent_pos


def test_negative_only_patents_never_take_a_linked_val_or_test_patent():
    train = [("a", "P1"), ("b", "P2")]
    held_out = [("v", "V1"), ("t", "T1"), ("x", "D1")]       # val, test, and a dataset link outside the split
    neg = [("a", "Q2"), ("a", "Q1"), ("b", "Q1"), ("a", "P2"), ("a", "V1"), ("b", "T1"), ("a", "D1"),
           ("v", "Q3"), ("zz", "Q4")]                          # Q3/Q4: rejected by a non-training item only
    assert negative_only_patents(neg, train, held_out) == ["Q1", "Q2"]
    assert negative_only_patents(neg, train) == ["D1", "Q1", "Q2", "T1", "V1"]   # nothing held out: all link-less
    assert negative_only_patents([], train, held_out) == []


def _setup_extra(batch_items=(0, 2), k: int = 3):
    idx = LinkIndex.from_links(LINKS, EXTRA)
    cfg = TrainConfig.from_dict({"negatives": {"source": "known", "per_epoch": [0, k], "exclusive": False}})
    tokens = [np.ones((2, 4), dtype=np.float16) for _ in range(N)]
    patents = TextPatents(cfg, idx, tokens, {p: tokens[0] for p in idx.patents}, {p: f"text {p}" for p in idx.patents})
    g = torch.Generator().manual_seed(0)
    bank = EmbeddingBank(torch.nn.functional.normalize(torch.randn(N, 4, generator=g), dim=1),
                         torch.nn.functional.normalize(torch.randn(len(idx.patents), 4, generator=g), dim=1))
    bi, bp = np.array(batch_items), BATCH_PATENTS
    batch = Batch(bi, bank.item[bi].clone(), PatentBatch(bp, bank.patent[bp].clone()), step=0)
    return cfg, idx, tokens, patents, bank, batch


def test_link_less_patents_are_drawn_only_by_the_items_that_rejected_them():
    cfg, idx, tokens, patents, bank, batch = _setup_extra()
    q00, q01 = idx.patents.index("q00"), idx.patents.index("q01")
    assert (q00, q01) == (12, 13) and len(patents.bank_tokens()) == 14
    src = KnownNegatives(idx, cfg.curriculum, tokens, torch.Generator().manual_seed(3), negative_links=KNOWN_EXTRA,
                         fallback="none", exclusive=False)
    src.bank = bank
    assert src.n_known == 3                                             # q99 is not in the graph
    assert src.pools_patents[0] == [q00] and src.pools_patents[5] == [q00] and src.pools_patents[2] == [q01]
    assert src.pools_items[q00] == [0, 5] and src.pools_items[q01] == [2]   # never queried: not in any batch
    for _ in range(10):
        neg = src.extra_negatives(batch, 1, None, patents)
        d = {dr.side: dr for dr in neg.draws}
        assert [set(r[r >= 0].tolist()) for r in d["patent"].sampled] == [{q00}, {q01}]
        assert (d["item"].sampled == -1).all()      # the batch's patents have no known negative here
        torch.testing.assert_close(neg.patent_embeddings, bank.patent[torch.as_tensor(neg.patents)])
    # an item that rejected nothing draws nothing with fallback none ...
    cfg, idx, tokens, patents, bank, batch = _setup_extra(batch_items=(1, 3))
    src = KnownNegatives(idx, cfg.curriculum, tokens, torch.Generator().manual_seed(3), negative_links=KNOWN_EXTRA,
                         fallback="none", exclusive=False)
    src.bank = bank
    assert (src.extra_negatives(batch, 1, None, patents).draws[1].sampled == -1).all()
    # ... and with fallback random draws uniformly among every allowed patent, the link-less ones included
    src = KnownNegatives(idx, cfg.curriculum, tokens, torch.Generator().manual_seed(3), negative_links=KNOWN_EXTRA,
                         exclusive=False)
    src.bank = bank
    drawn = set()
    for _ in range(40):
        s = src.extra_negatives(batch, 1, None, patents).draws[1].sampled
        drawn |= set(s[s >= 0].tolist())
    assert {q00, q01} <= drawn and not drawn & {0, 1, 2, 3}


@pytest.mark.parametrize("denominator", ["negatives", "all"])
def test_link_less_patent_columns_give_a_finite_loss_and_gradient(denominator):
    from patlink.losses.supcon import SupConLoss

    cfg, idx, tokens, patents, bank, batch = _setup_extra()
    src = KnownNegatives(idx, cfg.curriculum, tokens, torch.Generator().manual_seed(3), negative_links=KNOWN_EXTRA,
                         fallback="none", exclusive=False)
    src.bank = bank
    neg = src.extra_negatives(batch, 1, None, patents)
    assert set(neg.patents.tolist()) == {12, 13} and not len(neg.items)
    P = batch.item_embeddings.clone().requires_grad_(True)
    Q = torch.cat([batch.patents.embeddings, neg.patent_embeddings]).requires_grad_(True)
    cols = np.concatenate([batch.patents.patents, neg.patents])
    pos = idx.pos_matrix(batch.items, cols)
    assert not pos[:, -2:].any()                                        # the link-less columns: no positive
    terms = SupConLoss(0.05, denominator).terms(P, Q, pos)
    assert terms["n_item_rows"] == 2 and terms["n_patent_cols"] == 3    # p00, p01, p02 (linked to i00 / i02) only
    terms["loss"].backward()
    assert torch.isfinite(terms["loss"]) and torch.isfinite(P.grad).all() and torch.isfinite(Q.grad).all()
    assert Q.grad[-2:].abs().sum() > 0                                  # the rejected patents are pushed away


def test_item_set_patents_refuse_link_less_patents():
    from patlink.training.patents import MemberItemSets, PooledItemSets

    cfg = TrainConfig.from_dict({"patents": {"representation": "item_set"}})
    tokens = [np.ones((2, 4), dtype=np.float16) for _ in range(N)]
    for cls in (MemberItemSets, PooledItemSets):
        cls(cfg, LinkIndex.from_links(LINKS), tokens)
        with pytest.raises(ValueError, match=r"2 patent\(s\) of the training graph have no training item"):
            cls(cfg, LinkIndex.from_links(LINKS, EXTRA), tokens)


def _with_rejected(n: int = 24, extra_links: int = 0):
    """The fixture graph plus patents q0..q5 with text and qz without, which no item is linked to; training items
    reject some of them, a validation item rejects q4, and the val/test patents are rejected too."""
    ds = make_fixture_dataset(n, extra_links=extra_links)
    split = fixture_split(ds, n_val=4)
    split["test"], split["train"] = split["train"][:2], split["train"][2:]
    T = sorted({i for i, _ in split["train"]})
    linked = set(ds.links)
    train_patent = next(p for _, p in split["train"] if (T[6], p) not in linked)
    patents = {**ds.patents, **{f"q{k}": {"title": f"topic{k} w{k} w{k + 1} rejected"} for k in range(6)},
               "qz": {"title": ""}}
    neg = [(T[0], "q0"), (T[0], "q1"), (T[1], "q2"), (T[2], "q3"), (T[3], "q0"),   # link-less, by training items
           (split["val"][0][0], "q4"),                                             # by a validation item only
           (T[4], split["val"][1][1]), (T[4], split["test"][0][1]),               # val / test patents
           (T[5], "qz"),                                                           # no text
           (T[6], train_patent)]                                                   # an ordinary training patent
    neg = [x for x in neg if x not in linked]
    return dataclasses.replace(ds, patents=patents, negative_links=neg), split


def _record_draws(monkeypatch):
    seen, graphs = [], []
    orig = KnownNegatives.extra_negatives

    def record(self, batch, epoch, model, patents):
        graphs.append(self.idx)
        assert (batch.patents.patents < self.idx.n_linked_patents).all()   # a link-less patent is never a query
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
    return seen, graphs


def test_training_draws_rejected_patents_without_links(tmp_path, monkeypatch):
    ds, split = _with_rejected()
    seen, graphs = _record_draws(monkeypatch)
    cfg = tiny_config(epochs=2, hard_negatives=(0, 2), negatives={"source": "known", "known_fallback": "none"},
                      eval_at_start=False, tune_fusion=False)
    res = train_linker(ds, split, cfg, tmp_path / "run", store=FakeTokenStore())
    idx = graphs[0]
    train_patents = sorted({p for _, p in split["train"]})
    assert idx.patents == train_patents + ["q0", "q1", "q2", "q3"]     # never q4 (val item), qz, val/test patents
    assert seen and set(seen) <= set(ds.negative_links)
    assert {p for _, p in seen} & {"q0", "q1", "q2", "q3"}               # the rejected patents are drawn
    steps = json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"]
    assert all(np.isfinite(s["loss"]) for s in steps) and np.isfinite(res.history[-1]["train_loss"])
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["n_negative_only_patents"] == 4 and run["negative_only_patents_left_out"] == {"no_text": 1}
    assert run["n_known_negatives"] == 6 and run["n_dataset_negative_links"] == len(ds.negative_links) == 10


def test_only_rejected_link_less_patents_is_enough_to_train(tmp_path, monkeypatch):
    ds, split = _with_rejected()
    only = [x for x in ds.negative_links if x[1].startswith("q")]
    ds = dataclasses.replace(ds, negative_links=only)
    seen, _ = _record_draws(monkeypatch)
    cfg = tiny_config(epochs=2, hard_negatives=(0, 2), negatives={"source": "known", "known_fallback": "none"},
                      eval_at_start=False, tune_fusion=False, loss={"denominator": "all"})
    train_linker(ds, split, cfg, tmp_path / "run", store=FakeTokenStore())
    assert seen and {p for _, p in seen} <= {"q0", "q1", "q2", "q3"}
    assert json.loads((tmp_path / "run" / "run.json").read_text())["n_known_negatives"] == 5


def test_item_set_leaves_link_less_patents_out_and_says_so(tmp_path, monkeypatch):
    ds, split = _with_rejected(extra_links=30)
    cfg = tiny_config(epochs=2, hard_negatives=(0, 2), negatives={"source": "known", "known_fallback": "none"},
                      eval_at_start=False, tune_fusion=False,
                      patents={"representation": "item_set", "scoring": "members"})
    only = dataclasses.replace(ds, negative_links=[x for x in ds.negative_links if x[1].startswith("q")])
    train_items = {i for i, _ in split["train"]}
    n_link_less = len({p for i, p in only.negative_links if i in train_items})   # with extra links, q4's too
    assert n_link_less >= 5
    with pytest.raises(ValueError, match=rf"\({n_link_less} link-less patents among them, which "
                                         "patent_repr='item_set' cannot represent"):
        train_linker(only, split, cfg, tmp_path / "a", store=FakeTokenStore())
    assert not (tmp_path / "a").exists()
    seen, graphs = _record_draws(monkeypatch)
    train_linker(ds, split, cfg, tmp_path / "b", store=FakeTokenStore())
    assert graphs[0].n_linked_patents == len(graphs[0].patents)          # no link-less patent
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert run["n_negative_only_patents"] == 0 and run["negative_only_patents_left_out"] == {"item_set": n_link_less}
    assert run["n_known_negatives"] >= 1 and set(seen) <= set(ds.negative_links)


def test_other_sources_ignore_rejected_patents_bitwise(tmp_path):
    """Only source='known' adds link-less patents: a random-negative run is the same with or without them."""
    ds, split = _with_rejected()
    cfg = tiny_config(epochs=2, hard_negatives=(0, 2), negatives="random", eval_at_start=False, tune_fusion=False)
    runs = []
    for name, d in (("with", ds), ("without", dataclasses.replace(ds, negative_links=[]))):
        train_linker(d, split, cfg, tmp_path / name, store=FakeTokenStore())
        runs.append(json.loads((tmp_path / name / "metrics.json").read_text()))
        assert "n_negative_only_patents" not in json.loads((tmp_path / name / "run.json").read_text())
    assert [s["loss"] for s in runs[0]["steps"]] == [s["loss"] for s in runs[1]["steps"]]
    assert runs[0]["epochs"][-1]["val"] == runs[1]["epochs"][-1]["val"]
