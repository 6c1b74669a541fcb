"""Split invariants on the real bundled data (honeywell-vpm, pap2pat) and on small hand-made fixtures."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from patlink.data import load_dataset
from patlink.graph import (
    Split,
    SplitConfig,
    graph_split,
    kfold_splits,
    new_product_split,
    random_split,
    read_split,
    split_dataset,
    write_split,
)


def _digest(sp: Split) -> str:
    return hashlib.sha256(json.dumps([sp.train, sp.val, sp.test, sp.dropped]).encode()).hexdigest()


def _sizes(sp: Split) -> list[tuple[int, int, int]]:
    return [tuple(sp.stats()[k].values()) for k in ("train", "val", "test")]


@pytest.fixture(scope="module")
def vpm():
    return load_dataset("honeywell-vpm")


@pytest.fixture(scope="module")
def vpm_split(vpm):
    return split_dataset(vpm, seed=0)


# ------------------------------------------------------------------------------------------ honeywell-vpm
def test_vpm_default_split_is_pinned(vpm_split):
    """The default honeywell-vpm graph split (seed 0): exact sizes (items, patents, edges) and links. A change
    here changes every reported honeywell-vpm result; it must be deliberate."""
    assert vpm_split.protocol == "graph" and vpm_split.seed == 0 and vpm_split.config == SplitConfig()
    assert _sizes(vpm_split) == [(1277, 3044, 14229), (276, 686, 2839), (274, 715, 2987)]
    assert len(vpm_split.dropped) == 148
    assert _digest(vpm_split)[:16] == "0dbca8fccbced233"


def test_vpm_no_node_in_two_splits(vpm_split):
    items = {k: {i for i, _ in vpm_split.links(k)} for k in ("train", "val", "test")}
    pats = {k: {p for _, p in vpm_split.links(k)} for k in ("train", "val", "test")}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not items[a] & items[b], f"items shared by {a} and {b}"
        assert not pats[a] & pats[b], f"patents shared by {a} and {b}"


def test_vpm_edges_partitioned(vpm, vpm_split):
    parts = [vpm_split.train, vpm_split.val, vpm_split.test, vpm_split.dropped]
    allk = [e for part in parts for e in part]
    assert len(allk) == len(set(allk)), "an edge is in two splits"
    assert set(allk) == set(vpm.links)  # kept + dropped = all edges
    # a dropped edge really joins two splits
    where = {}
    for k in ("train", "val", "test"):
        for i, p in vpm_split.links(k):
            where[("i", i)] = k
            where[("p", p)] = k
    for i, p in vpm_split.dropped:
        assert where.get(("i", i)) != where.get(("p", p))
    assert vpm_split.to_json()["dropped_edges"] == len(vpm_split.dropped)


def test_vpm_sizes_near_targets(vpm, vpm_split):
    st = vpm_split.stats()
    tot = {"items": len(vpm.items), "patents": len(vpm.patents), "edges": len(vpm.links)}
    tol = {"items": 0.10, "patents": 0.15, "edges": 0.20}
    for k in ("val", "test"):
        for q, t in tol.items():
            target = 0.15 * tot[q]
            assert abs(st[k][q] - target) <= t * target, (k, q, st[k][q], target)
    assert len(vpm_split.dropped) <= 0.05 * tot["edges"]
    assert vpm_split.info["lost_nodes"] == {"items": 0, "patents": 0}
    # both large outlier components contribute pieces (the split is representative, §3.1)
    assert len(vpm_split.info["carve"]["test"]["large_components"]) == 2
    assert {c["component_nodes"] for c in vpm_split.info["carve"]["test"]["cuts"]} == {2784, 1028}


def test_split_json_has_no_dataset_constants(vpm, vpm_split):
    """The type knows no dataset: the paper's honeywell-vpm split sizes are dataset metadata, not split.json."""
    meta = vpm_split.to_json()
    assert "upstream" not in meta and meta["protocol"] == "graph" and meta["dataset"] == "honeywell-vpm"
    assert vpm.metadata["upstream_split"]["train"] == {"items": 1270, "patents": 3033, "edges": 16689}


def test_vpm_deterministic_across_processes(vpm_split):
    """Same seed → same split, also under another PYTHONHASHSEED (sets are never iterated unsorted)."""
    code = ("import hashlib, json; from patlink.data import load_dataset; "
            "from patlink.graph import split_dataset; s = split_dataset(load_dataset('honeywell-vpm'), seed=0); "
            "print(hashlib.sha256(json.dumps([s.train, s.val, s.test, s.dropped]).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _digest(vpm_split)


# ------------------------------------------------------------------------------------------ fixtures (hand-made)
@pytest.fixture
def fixture_bridge_graph():
    """Hand-made fixture: a dense K(4,4) block, a K(2,2) block hanging on it by the bridge b1–r1, and a pendant
    leaf b5–q1. With test_frac 0.25 the best held-out set is the K(2,2) block, cut at the bridge b1–r1."""
    links = [(f"b{i}", f"q{j}") for i in range(1, 5) for j in range(1, 5)]
    links += [(f"s{i}", f"r{j}") for i in (1, 2) for j in (1, 2)]
    links += [("b1", "r1"), ("b5", "q1")]
    return links


def test_fixture_best_bridge_is_cut(fixture_bridge_graph):
    for fallback in (True, False):
        cfg = SplitConfig(val_frac=0.0, test_frac=0.25, sweep_fallback=fallback)
        sp = graph_split(fixture_bridge_graph, config=cfg)
        assert sorted(sp.test) == [(f"s{i}", f"r{j}") for i in (1, 2) for j in (1, 2)]
        assert sp.dropped == [("b1", "r1")]
        assert sp.val == []
        assert len(sp.train) == 17  # K(4,4) + the pendant leaf
        assert sp.info["carve"]["test"]["cuts"][0]["kind"] == "bridge"


def test_fixture_no_bridge_uses_fallback_without_leaks():
    """Hand-made fixture: K(6,6) has no bridge; the fallback cut drops the crossing edges, never leaks them."""
    links = [(f"i{a}", f"p{b}") for a in range(6) for b in range(6)]
    sp = graph_split(links, config=SplitConfig(val_frac=0.0, test_frac=0.3, drop_weight=0.1))
    assert sp.test, "fallback produced no held-out piece"
    ti, tp = {i for i, _ in sp.test}, {p for _, p in sp.test}
    assert not ti & {i for i, _ in sp.train} and not tp & {p for _, p in sp.train}
    assert len(sp.train) + len(sp.test) + len(sp.dropped) == 36
    assert len(sp.dropped) == len(ti) * (6 - len(tp)) + len(tp) * (6 - len(ti))
    assert sp.info["carve"]["test"]["cuts"][0]["kind"] == "sweep"


def test_fixture_seed_changes_tie_order():
    """Hand-made fixture: 40 identical K(1,1) components; which ones are held out depends on the seed only."""
    links = [(f"i{k:02d}", f"p{k:02d}") for k in range(40)]
    a, b, c = (graph_split(links, config=SplitConfig(seed=s)) for s in (0, 0, 1))
    assert (a.train, a.val, a.test) == (b.train, b.val, b.test)
    assert (a.train, a.val, a.test) != (c.train, c.val, c.test)
    assert [len(a.train), len(a.val), len(a.test)] == [28, 6, 6]
    # seed= replaces config.seed, in every protocol
    assert graph_split(links, seed=1, config=SplitConfig(seed=0)).test == c.test
    assert graph_split(links, seed=1).seed == 1 and graph_split(links, seed=1).config.seed == 1


def test_config_validation():
    with pytest.raises(ValueError, match="val_frac"):
        SplitConfig(val_frac=1.2)
    with pytest.raises(ValueError, match="< 1"):
        SplitConfig(val_frac=0.5, test_frac=0.5)
    with pytest.raises(ValueError, match="passes"):
        SplitConfig(passes=("sideways",))
    with pytest.raises(ValueError, match="empty"):
        graph_split([])


# ------------------------------------------------------------------------------------------ pap2pat (one-to-one)
def test_pap2pat_default_split_is_pinned():
    """pap2pat's default split (seed 0) is the random protocol: exact sizes and links."""
    ds = load_dataset("pap2pat")
    sp = split_dataset(ds)
    assert sp.protocol == "random" and sp.seed == 0 and sp.info["dataset"] == "pap2pat"
    assert _sizes(sp) == [(1059, 1059, 1059), (227, 227, 227), (227, 227, 227)]
    assert _digest(sp)[:16] == "c6c5ec64672c6a7b"
    assert random_split(ds).test == sp.test and sp.to_json()["protocol"] == "random"


def test_pap2pat_random_split():
    ds = load_dataset("pap2pat")
    sp = split_dataset(ds, seed=3)
    assert sp.protocol == "random" and sp.dropped == []
    assert [len(sp.train), len(sp.val), len(sp.test)] == [1059, 227, 227]
    for side in (0, 1):
        sets = [{e[side] for e in sp.links(k)} for k in ("train", "val", "test")]
        assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]
    assert sorted(sp.train + sp.val + sp.test) == sorted(ds.links)
    assert split_dataset(ds, seed=3).test == sp.test and split_dataset(ds, seed=4).test != sp.test


# ------------------------------------------------------------------------------------------ new-product protocol
def test_new_product_split(vpm):
    sp = split_dataset(vpm, seed=0, protocol="new-product")
    assert sp.protocol == "new-product" and _digest(sp)[:16] == "8d53e9db628d6d8a"   # pinned: seed 0
    train_items = {i for i, _ in sp.train}
    train_pats = {p for _, p in sp.train}
    for k in ("val", "test"):
        assert not {i for i, _ in sp.links(k)} & train_items, f"a {k} item is in train"
        assert sp.info["unseen_patents"][k] == len({p for _, p in sp.links(k)} - train_pats)
    assert not {i for i, _ in sp.val} & {i for i, _ in sp.test}
    # every train patent is linked to some train item; nothing dropped; every link kept once
    assert all(any(i in train_items for i, q in sp.train if q == p) for p in list(train_pats)[:200])
    assert sp.dropped == [] and sorted(sp.train + sp.val + sp.test) == sorted(vpm.links)
    n = len({i for i, _ in vpm.links})
    assert sp.stats()["test"]["items"] == round(0.15 * n) and sp.stats()["val"]["items"] == round(0.15 * n)
    # patents are shared between train and test (that is the protocol)
    assert {p for _, p in sp.test} & train_pats


def test_new_product_fixture_counts_unseen():
    """Hand-made fixture: 10 items, patent pX linked only to item i9."""
    links = [(f"i{k}", "pShared") for k in range(10)] + [("i9", "pX")]
    sp = new_product_split(links, config=SplitConfig(val_frac=0.0, test_frac=0.3, seed=0))
    held = {i for i, _ in sp.test}
    assert len(held) == 3
    assert sp.info["unseen_patents"]["test"] == (1 if "i9" in held else 0)
    assert ("i9", "pX") in (sp.test if "i9" in held else sp.train)


# ------------------------------------------------------------------------------------------ I/O and CLI
def test_write_read_roundtrip(tmp_path, fixture_bridge_graph):
    sp = graph_split(fixture_bridge_graph, config=SplitConfig(val_frac=0.0, test_frac=0.25, seed=2))
    paths = write_split(sp, tmp_path / "out")
    back = read_split(tmp_path / "out")
    assert isinstance(back, Split) and back == sp      # links, dropped, protocol, seed, config and info
    assert back.parts() == {"train": sp.train, "val": sp.val, "test": sp.test}
    meta = json.loads(paths["split.json"].read_text())
    assert meta["counts"] == sp.stats() and meta["dropped_edges"] == 1 and meta["seed"] == 2
    assert meta["protocol"] == "graph" and "method" not in meta
    assert (tmp_path / "out" / "test.tsv").read_text().splitlines()[0] == "item_id\tpatent_id"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "dropped.tsv", "split.json", "test.tsv", "train.tsv", "val.tsv"]   # no temporary file left


def test_read_split_without_json_and_legacy_json(tmp_path, fixture_bridge_graph):
    sp = graph_split(fixture_bridge_graph, config=SplitConfig(val_frac=0.0, test_frac=0.25))
    write_split(sp, tmp_path)
    meta = json.loads((tmp_path / "split.json").read_text())
    # a split.json written before `protocol` replaced `method` (info's protocol was the requested one)
    legacy = {"method": "random", **{k: v for k, v in meta.items() if k != "protocol"}, "protocol": "graph",
              "upstream": {"train": {}}}
    (tmp_path / "split.json").write_text(json.dumps(legacy))
    old = read_split(tmp_path)
    assert old.protocol == "random" and "upstream" not in old.info and old.test == sp.test
    (tmp_path / "split.json").write_text(json.dumps({**meta, "config": {**meta["config"], "bogus": 1}}))
    with pytest.raises(ValueError, match=r"split\.json: unknown split config field.*bogus"):
        read_split(tmp_path)
    (tmp_path / "split.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"split\.json:1: not valid JSON"):
        read_split(tmp_path)
    (tmp_path / "split.json").unlink()
    (tmp_path / "dropped.tsv").unlink()
    bare = read_split(tmp_path)
    assert (bare.protocol, bare.seed, bare.config, bare.dropped) == ("unknown", None, None, [])
    assert bare.parts() == sp.parts()


def test_write_split_rejects_ids_with_tabs_before_writing(tmp_path):
    sp = Split([("a\tb", "p1")], [], [])
    with pytest.raises(ValueError, match="tab or newline"):
        write_split(sp, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_split_is_frozen():
    sp = Split([("i", "p")], [], [])
    with pytest.raises(AttributeError):
        sp.train = []  # type: ignore[misc]


def test_read_split_malformed(tmp_path, fixture_bridge_graph):
    sp = graph_split(fixture_bridge_graph, config=SplitConfig(val_frac=0.0, test_frac=0.25))
    write_split(sp, tmp_path)
    val = tmp_path / "val.tsv"
    val.write_text("item_id\tpatent_id\ni1\tp1\ni2 p2\n")
    with pytest.raises(ValueError, match=r"val\.tsv:3: expected 2"):
        read_split(tmp_path)
    val.write_text("item\tpatent\n")
    with pytest.raises(ValueError, match=r"val\.tsv:1: expected header"):
        read_split(tmp_path)
    val.unlink()
    with pytest.raises(FileNotFoundError, match="val.tsv"):
        read_split(tmp_path)


def test_cli_split_json(tmp_path):
    import typer
    from typer.testing import CliRunner

    from patlink.cli import split_cmd

    app = typer.Typer()
    split_cmd.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps `split` a named sub-command
        pass

    res = CliRunner().invoke(app, ["split", "pap2pat", "--out", str(tmp_path), "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    meta = json.loads(res.stdout)
    assert meta["protocol"] == "random" and meta["counts"]["test"]["edges"] == 227 and "upstream" not in meta
    assert (tmp_path / "components.png").stat().st_size > 1000
    assert (tmp_path / "split_sizes.png").stat().st_size > 1000
    assert read_split(tmp_path).test == sorted(read_split(tmp_path).test)


def test_cli_split_upstream_from_dataset_metadata(tmp_path, capsys):
    """`patlink split honeywell-vpm --json` still shows the paper's sizes, taken from the dataset's metadata."""
    from patlink.cli.main import main

    assert main(["split", "honeywell-vpm", "--out", str(tmp_path), "--no-plot", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["upstream"]["test"] == {"items": 277, "patents": 680, "edges": 1959}
    assert "upstream" not in json.loads((tmp_path / "split.json").read_text())
    assert read_split(tmp_path).stats()["val"] == {"items": 276, "patents": 686, "edges": 2839}


# ------------------------------------------------------------------------------------------ k-fold cross-validation
def test_kfold_pap2pat_tests_every_pair_once():
    ds = load_dataset("pap2pat")
    folds = kfold_splits(ds, k=5, seed=0)
    tests = [set(sp.test) for sp in folds]
    assert sorted(len(t) for t in tests) == [302, 302, 303, 303, 303]
    assert set().union(*tests) == set(ds.links) and sum(map(len, tests)) == len(ds.links)  # a partition
    for f, sp in enumerate(folds):
        assert sp.info["fold"] == f and sp.info["folds"] == 5 and sp.protocol == "random"
        assert sp.config.test_frac == 0.2
        assert len(sp.val) == round(0.15 * len(ds.links))
        parts = [set(sp.train), set(sp.val), set(sp.test)]
        assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
        assert len(sp.train) + len(sp.val) + len(sp.test) == len(ds.links)
    assert [sp.test for sp in kfold_splits(ds, k=5, seed=0)] == [sp.test for sp in folds]
    assert kfold_splits(ds, k=5, seed=1)[0].test != folds[0].test


def test_kfold_new_product_partitions_items(vpm):
    folds = kfold_splits(vpm, k=4, seed=0, protocol="new-product")
    test_items = [{i for i, _ in sp.test} for sp in folds]
    assert sum(map(len, test_items)) == len(set().union(*test_items)) == len({i for i, _ in vpm.links})
    for sp in folds:
        train_items = {i for i, _ in sp.train}
        assert not train_items & {i for i, _ in sp.test} and not train_items & {i for i, _ in sp.val}
        assert sorted(sp.train + sp.val + sp.test) == sorted(vpm.links)


def _clustered_links(n_clusters: int = 12, seed: int = 0) -> list[tuple[str, str]]:
    """Fixture (not real data): clusters of 5 items × 3 patents, densely linked inside, a few links across."""
    import random

    rng = random.Random(seed)
    links = []
    for c in range(n_clusters):
        for i in range(5):
            for p in range(3):
                if rng.random() < 0.7 or p == i % 3:
                    links.append((f"i{c}_{i}", f"p{c}_{p}"))
    for _ in range(n_clusters):   # bridges between clusters
        a, b = rng.sample(range(n_clusters), 2)
        links.append((f"i{a}_{rng.randrange(5)}", f"p{b}_{rng.randrange(3)}"))
    return sorted(set(links))


def test_kfold_graph_many_to_many_is_node_disjoint():
    links = _clustered_links()
    folds = kfold_splits(links, k=4, seed=0)
    # pinned sizes (train, val, test, dropped links) and node parts
    assert [(len(s.train), len(s.val), len(s.test), len(s.dropped)) for s in folds] == [
        (91, 18, 40, 4), (88, 24, 35, 6), (88, 20, 42, 3), (94, 25, 31, 3)]
    assert [tuple(p.values()) for p in folds[0].info["part_sizes"]] == [(15, 9, 40), (15, 9, 35), (15, 9, 42),
                                                                       (15, 9, 31)]
    assert folds[0].info["never_tested"] == 5
    test_nodes = []
    for f, sp in enumerate(folds):
        assert sp.protocol == "graph" and sp.info["fold"] == f and sp.info["folds"] == 4
        sides = [({i for i, _ in part}, {p for _, p in part}) for part in (sp.train, sp.val, sp.test)]
        for a in range(3):
            for b in range(a + 1, 3):    # no item and no patent in two of the fold's splits
                assert not sides[a][0] & sides[b][0] and not sides[a][1] & sides[b][1]
        assert sorted(sp.train + sp.val + sp.test + sp.dropped) == links
        assert sp.test and sp.val and sp.train
        test_nodes.append(sides[2][0] | sides[2][1])
    for a in range(4):
        for b in range(a + 1, 4):       # the test parts of two folds share no node
            assert not test_nodes[a] & test_nodes[b]
    tested = [x for sp in folds for x in sp.test]
    assert len(tested) == len(set(tested))                                  # every link tested at most once
    assert len(links) - len(tested) == folds[0].info["never_tested"]       # the rest crosses two parts
    assert sum(p["edges"] for p in folds[0].info["part_sizes"]) == len(tested)
    assert [sp.test for sp in kfold_splits(links, k=4, seed=0)] == [sp.test for sp in folds]   # deterministic
    assert [sp.test for sp in kfold_splits(links, k=4, seed=1)] != [sp.test for sp in folds]
    with pytest.raises(ValueError, match="k must be"):
        kfold_splits(links, k=61)                  # 60 items
    with pytest.raises(ValueError, match="val_frac"):
        kfold_splits(links, k=4, config=SplitConfig(val_frac=0.8, test_frac=0.0))


def test_kfold_errors(vpm):
    links = [("i1", "p1"), ("i2", "p2"), ("i3", "p3"), ("i4", "p4")]
    with pytest.raises(ValueError, match="k must be"):
        kfold_splits(links, k=1)
    with pytest.raises(ValueError, match="k must be"):
        kfold_splits(links, k=5)
    with pytest.raises(ValueError, match="val_frac"):
        kfold_splits(links, k=2, config=SplitConfig(val_frac=0.6))
    with pytest.raises(ValueError, match="empty"):
        kfold_splits([], k=2)
    with pytest.raises(ValueError, match="unknown split protocol"):
        kfold_splits(links, k=2, protocol="sideways")  # type: ignore[arg-type]
    folds = kfold_splits(links, k=2, config=SplitConfig(val_frac=0.25))
    assert [(len(s.train), len(s.val), len(s.test)) for s in folds] == [(1, 1, 2), (1, 1, 2)]


def test_cli_split_folds(tmp_path):
    from patlink.cli.main import main

    assert main(["split", "pap2pat", "--out", str(tmp_path), "--folds", "3", "--json"]) == 0
    tests = [read_split(tmp_path / f"fold{f}").test for f in range(3)]
    assert sum(map(len, tests)) == 1513 and len(set().union(*map(set, tests))) == 1513



# ------------------------------------------------------------------------------------------ older call forms
def test_old_module_names_still_work(tmp_path, fixture_bridge_graph):
    """Code written against the single-module layout (``from patlink.graph.split import …``, positional seed,
    ``read_split`` returning a dict) keeps working through thin wrappers."""
    from patlink.graph import split as old

    ds = load_dataset("pap2pat")
    assert [s.test for s in old.kfold_splits(ds, 3, 1)] == [s.test for s in kfold_splits(ds, k=3, seed=1)]
    assert [len(s.val) for s in old.kfold_splits(ds, 3, 1, val_frac=0.1)] == [151, 151, 151]
    assert old.split_dataset(ds, 2).test == split_dataset(ds, seed=2).test
    assert old.new_product_split(ds, seed=4).test == new_product_split(ds, seed=4).test
    sp = old.graph_split(fixture_bridge_graph, SplitConfig(val_frac=0.0, test_frac=0.25), dataset="fixture")
    assert sp.info["dataset"] == "fixture"
    old.write_split(sp, tmp_path)
    assert old.read_split(tmp_path) == sp.parts()
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018
