"""Part 2 of ``patlink demo``: new honeywell-vpm products linked to patents (``new_product_examples``).

Runs the library call on the real bundled ``honeywell-vpm`` new-product split (seed 0) with cheap methods
(``knn`` shown, ``profile-bm25`` and ``popularity`` as baselines; the demo itself shows ``knn+bm25``, whose
fusion tuning alone takes about a minute) and checks what the demo promises: the examples are test products
chosen by the seeded rule whatever the ranking, their true links are held out of the patents' profiles, each
candidate's evidence names training products linked to that patent (most similar first), and the printed section
shows the example products.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from patlink.cli import demo_cmd
from patlink.cli.common import console
from patlink.data import load_dataset
from patlink.evaluation.examples import new_product_examples, pick_examples
from patlink.evaluation.experiment import resolve_splits
from patlink.methods import BM25, KNN, Fusion, Popularity, ProfileBM25
from patlink.methods.profile import evidence_is_lexical, for_new_products
from patlink.retrieval.embed import EmbeddingMemo
from patlink.retrieval.profiles import PatentProfiles, ProfileConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ds():
    return load_dataset("honeywell-vpm")


@pytest.fixture(scope="module")
def splits(ds):
    return resolve_splits(ds, seed=0, protocol="new-product")


@pytest.fixture(scope="module")
def memo():
    return EmbeddingMemo()


@pytest.fixture(scope="module")
def ex(ds, splits, memo):
    methods = {"knn": KNN(), "profile-bm25": ProfileBM25(), "popularity": Popularity()}
    return new_product_examples(ds, methods, "knn", splits=splits, seed=0, example_seed=0, n_bootstrap=50,
                                profile_config=ProfileConfig(memo=memo))


@pytest.fixture(scope="module")
def train_profiles(ds, splits, memo):
    return PatentProfiles(ds, splits["train"], ProfileConfig(memo=memo))


def test_examples_are_test_products_drawn_by_the_seeded_rule(ex, splits):
    test_items = {i for i, _ in splits["test"]}
    train_items = {i for i, _ in splits["train"]} | {i for i, _ in splits["val"]}
    ids = [e.item_id for e in ex.examples]
    assert len(ids) == len(set(ids)) == 3
    assert set(ids) <= test_items and not set(ids) & train_items
    assert ids == pick_examples(test_items, 3, seed=0)
    assert "random.Random(0).sample" in ex.rule and f"{len(test_items)} test products" in ex.rule


def test_the_rule_does_not_depend_on_the_ranking(ex, ds, splits, memo):
    # another method, another ranking: the same products
    other = new_product_examples(ds, {"popularity": Popularity(), "knn:5": KNN(5)}, "popularity", splits=splits,
                                 n_bootstrap=0, profile_config=ProfileConfig(memo=memo))
    assert [e.item_id for e in other.examples] == [e.item_id for e in ex.examples]
    assert [c.patent_id for c in other.examples[0].candidates] != [c.patent_id for c in ex.examples[0].candidates]


def test_pick_examples_is_seeded_and_order_free():
    items = [f"p{k}" for k in range(50)]
    a = pick_examples(items, 3, seed=7)
    assert a == pick_examples(list(reversed(items)) + items[:5], 3, seed=7)   # order and repeats do not matter
    assert len(set(a)) == 3 and set(a) <= set(items)
    assert {tuple(pick_examples(items, 3, seed=s)) for s in range(5)} != {tuple(a)}
    assert pick_examples(["b", "a"], 3) == ["a", "b"]
    with pytest.raises(ValueError, match="at least one example"):
        pick_examples(items, 0)


def test_true_links_are_held_out_of_the_index(ex, splits, train_profiles):
    train = set(splits["train"])
    for e in ex.examples:
        assert set(e.true_patents) == {p for i, p in splits["test"] if i == e.item_id}
        assert not any((e.item_id, p) for p in e.true_patents if (e.item_id, p) in train)
        assert e.item_id not in train_profiles.items          # no patent is represented by the product itself
        assert e.representable == sum(1 for p in e.true_patents if p in set(train_profiles.patent_ids))
        for c in e.candidates:
            assert c.true_link == (c.patent_id in e.true_patents)
            assert e.item_id not in train_profiles.products_of(c.patent_id)


def test_candidates_are_the_evaluated_run(ex):
    run = ex.result["knn"]["item2patent"].run
    for e in ex.examples:
        top = sorted(run[e.item_id].items(), key=lambda kv: -kv[1])[:5]
        assert [(c.patent_id, c.score) for c in e.candidates] == [(p, pytest.approx(s)) for p, s in top]
        assert [c.rank for c in e.candidates] == [1, 2, 3, 4, 5]
        ranked = [p for p, _ in sorted(run[e.item_id].items(), key=lambda kv: -kv[1])]
        first = next((r for r, p in enumerate(ranked, 1) if p in e.true_patents), None)
        assert e.first_true_rank == first


def test_evidence_names_training_products_of_the_patent_most_similar_first(ex, ds, splits, train_profiles):
    train = splits["train"]
    pos = {i: j for j, i in enumerate(train_profiles.items)}
    for e in ex.examples:
        sim = train_profiles.product_similarity(e.text, lexical=False)   # knn: MiniLM cosine
        for c in e.candidates:
            linked = {i for i, p in train if p == c.patent_id}
            assert c.evidence and set(c.evidence) <= linked
            assert len(c.evidence) == min(len(linked), ProfileConfig().max_evidence)
            assert c.known_products == len(linked)
            assert list(c.evidence_names) == [ds.items[i].get("name") or i for i in c.evidence]
            s = np.array([sim[pos[i]] for i in c.evidence])
            assert np.all(np.diff(s) <= 1e-6)
            if len(linked) > len(c.evidence):   # the ones left out are not more similar than the last shown
                rest = [sim[pos[i]] for i in linked - set(c.evidence)]
                assert max(rest) <= s[-1] + 1e-6


def test_evidence_similarity_follows_the_method():
    assert evidence_is_lexical(for_new_products(BM25(), has_text=False))
    assert not evidence_is_lexical(for_new_products(Fusion([KNN(), BM25()], name="knn+bm25"), has_text=False))
    assert not evidence_is_lexical(KNN())


def test_the_method_is_tested_against_the_best_baseline(ex):
    r = ex.result
    assert ex.baselines == ["profile-bm25", "popularity"]
    assert ex.reference["item2patent"] == max(ex.baselines, key=lambda b: r[b]["item2patent"]["mrr"])
    assert set(ex.tests["item2patent"]) == {"mrr", "map", "ndcg@10"}
    assert all(0.0 <= p <= 1.0 for p in ex.tests["item2patent"].values())
    # a bootstrap CI around each mean
    lo, hi = r["knn"]["item2patent"].ci("mrr")
    assert lo <= r["knn"]["item2patent"]["mrr"] <= hi
    assert ex.facts["test_products"] == 274 and ex.facts["pool_patents"] == 3660


def test_bad_calls_are_refused(ds, splits):
    with pytest.raises(ValueError, match="not among"):
        new_product_examples(ds, {"knn": KNN(), "popularity": Popularity()}, "knn+bm25", splits=splits)
    with pytest.raises(ValueError, match="item2patent"):
        new_product_examples(ds, {"knn": KNN(), "popularity": Popularity()}, "knn", splits=splits,
                             directions=("patent2item",))
    leaky = dict(splits, train=list(splits["train"]) + list(splits["test"][:1]))
    with pytest.raises(ValueError, match="not a new-product split"):
        new_product_examples(ds, {"knn": KNN(), "popularity": Popularity()}, "knn", splits=leaky)


def test_printed_section_shows_the_example_products(ex):
    with console.capture() as cap:
        demo_cmd.print_new_product_examples(ex)
    out = cap.get()
    for e in ex.examples:
        assert e.name in out
        assert all(c.patent_id in out for c in e.candidates)
    assert "knn(k=" in out and "profile-bm25" in out and "popularity" in out    # the tuned label is not eaten
    assert "random.Random(0).sample" in out and "paired two-sided t-test" in out
    assert ("yes" in out) == any(c.true_link for e in ex.examples for c in e.candidates)


def test_demo_section_prints_and_writes(monkeypatch, tmp_path, memo):
    monkeypatch.setattr(demo_cmd, "NEW_PRODUCT_METHODS_QUICK", ("knn", "popularity"))
    with console.capture() as cap:
        demo_cmd._new_products_section(0, True, tmp_path / "np", memo)
    out = cap.get()
    saved = json.loads((tmp_path / "np" / "examples.json").read_text(encoding="utf-8"))
    assert saved["method"] == "knn" and len(saved["examples"]) == 3
    for e in saved["examples"]:
        assert e["name"] in out
    assert (tmp_path / "np" / "report.md").is_file()
