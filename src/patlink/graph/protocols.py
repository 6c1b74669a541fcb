"""Split protocols: the functions that make :class:`~patlink.graph.split.Split` objects from a dataset's links.

Every protocol takes the dataset first and everything else by keyword, ``fn(dataset, *, seed=…, config=…)``:
``dataset`` is a :class:`~patlink.data.Dataset` (its ``links`` and ``name`` are used) or an iterable of
``(item_id, patent_id)`` links (duplicates ignored); ``config`` is a :class:`~patlink.graph.split.SplitConfig`
(default 70/15/15, seed 0) and ``seed``, when given, replaces ``config.seed``. All are deterministic given the
seed, also across ``PYTHONHASHSEED`` values.

``graph`` (:func:`graph_split`; many-to-many data such as ``honeywell-vpm``)
    Following El Bouari & de Rassenfosse, "Product-Patent linkage prediction" (§3.1), the bipartite item–patent
    graph is cut so that **no node (item or patent) appears in two parts**. Test is carved from the whole graph
    first (:func:`patlink.graph.carving.carve`), then val from what is left; the rest is train. Edges whose two
    ends land in different parts are *dropped* (:attr:`Split.dropped`, counted in ``split.json``), never leaked.

``random`` (:func:`random_split`; one-to-one data such as ``pap2pat``: every item has one patent and vice versa)
    A seeded random permutation of the pairs; no edge is dropped, and no node can be in two parts.

``new-product`` (:func:`new_product_split`: link a new product to the company's existing patents)
    Items are split at random (seeded); every link follows its item, so val/test items are unseen in training
    while patents are shared. Nothing is dropped. Patents whose only links go to held-out items cannot be
    represented from training links (a profile built from a patent's training products is empty for them); they
    stay in the evaluation qrels, where they count as misses for profile methods, and their number is reported
    in ``Split.info["unseen_patents"]``.

K-fold versions of all three: :func:`kfold_splits` (and :func:`graph_kfold_splits`, node-disjoint folds of
many-to-many data). :func:`split_dataset` picks the single-split protocol for a dataset.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Literal

import numpy as np

from patlink.graph.carving import Node, assign_links, carve, induced_subgraph, link_graph, node_counts
from patlink.graph.split import SPLIT_NAMES, Link, Split, SplitConfig, _counts
from patlink.graph.stats import ITEM, PATENT

__all__ = [
    "PROTOCOLS",
    "graph_kfold_splits",
    "graph_split",
    "kfold_splits",
    "new_product_split",
    "random_split",
    "split_dataset",
]

#: Values of the ``protocol`` argument of :func:`split_dataset` and :func:`kfold_splits`.
PROTOCOLS = ("graph", "new-product")
Protocol = Literal["graph", "new-product"]


def _inputs(dataset, seed: int | None, config: SplitConfig | None) -> tuple[list[Link], str | None, SplitConfig]:
    """Sorted distinct links, dataset name and the config with ``seed`` applied. Raises ValueError when empty."""
    links = sorted(set(getattr(dataset, "links", dataset)))
    if not links:
        raise ValueError("cannot split an empty list of links")
    cfg = config or SplitConfig()
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    return links, getattr(dataset, "name", None), cfg


def _totals(total: np.ndarray) -> dict[str, int]:
    return {"items": int(total[0]), "patents": int(total[1]), "edges": int(total[2])}


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown split protocol {protocol!r}; expected 'graph' or 'new-product'")


# ----------------------------------------------------------------------------------------------- single splits
def graph_split(dataset, *, seed: int | None = None, config: SplitConfig | None = None) -> Split:
    """Node-disjoint split of a bipartite item–patent graph (module docstring; :mod:`~patlink.graph.carving`).

    Returns:
        :class:`Split` with ``protocol="graph"``; no item or patent id appears in two of train/val/test, and
        ``train + val + test + dropped`` is exactly the set of input links. ``info``: ``dataset``, ``totals``,
        ``targets`` (per part, in items/patents/edges), ``loss`` and ``carve`` (the carving report of test and
        val), ``lost_nodes`` (always 0: no node loses all its links).

    Raises:
        ValueError: on an empty link list.
    """
    links, name, cfg = _inputs(dataset, seed, config)
    g = link_graph(links)
    total = np.array([*node_counts(g.nodes), len(links)], dtype=float)
    rng = random.Random(cfg.seed)
    targets = {"test": total * cfg.test_frac, "val": total * cfg.val_frac}
    assign: dict[Node, str] = {}
    reports = {}
    remaining = g
    for part in ("test", "val"):
        if targets[part][2] < 1:
            reports[part] = {"pass": None, "loss": 0.0, "passes": {}, "cuts": [], "dropped": 0}
            continue
        held, rep = carve(remaining, targets[part], cfg, rng)
        reports[part] = rep
        for n in held:
            assign[n] = part
        remaining = induced_subgraph(remaining, [n for n in remaining.nodes if n not in held])
    out = assign_links(links, lambda n: assign.get(n, "train"))
    kept_nodes = {(ITEM, i) for k in SPLIT_NAMES for i, _ in out[k]} | {(PATENT, p) for k in SPLIT_NAMES
                                                                          for _, p in out[k]}
    lost = [n for n in g.nodes if n not in kept_nodes]
    three = ("items", "patents", "edges")
    info = {
        "dataset": name,
        "totals": _totals(total),
        "targets": {
            "train": dict(zip(three, (round(float(x), 1) for x in total * (1 - cfg.val_frac - cfg.test_frac)))),
            **{k: dict(zip(three, (round(float(x), 1) for x in v)))
               for k, v in (("val", targets["val"]), ("test", targets["test"]))},
        },
        "loss": {k: round(v["loss"], 6) for k, v in reports.items()},
        "carve": reports,
        "lost_nodes": {"items": sum(1 for n in lost if n[0] == ITEM), "patents": sum(1 for n in lost if n[0] != ITEM)},
    }
    return Split(out["train"], out["val"], out["test"], out["dropped"], "graph", cfg.seed, cfg, info)


def random_split(dataset, *, seed: int | None = None, config: SplitConfig | None = None) -> Split:
    """Seeded random split of link pairs, for one-to-one data (``pap2pat``); nothing dropped.

    ``round(test_frac · n)`` pairs go to test, ``round(val_frac · n)`` to val, the rest to train. With one-to-one
    links no item or patent can appear in two parts (with many-to-many links they can: use :func:`graph_split`).

    Returns:
        :class:`Split` with ``protocol="random"``; ``info["targets"]`` counts pairs.

    Raises:
        ValueError: on empty input.
    """
    links, name, cfg = _inputs(dataset, seed, config)
    perm = list(links)
    random.Random(cfg.seed).shuffle(perm)
    n_test, n_val = round(cfg.test_frac * len(perm)), round(cfg.val_frac * len(perm))
    test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    info = {"dataset": name, "totals": _counts(links),
            "targets": {"train": len(links) - n_test - n_val, "val": n_val, "test": n_test}}
    return Split(sorted(train), sorted(val), sorted(test), [], "random", cfg.seed, cfg, info)


def new_product_split(dataset, *, seed: int | None = None, config: SplitConfig | None = None) -> Split:
    """Split by item: val/test items never appear in train; patents are shared.

    ``round(test_frac · n)`` of the ``n`` items (in a seeded permutation) go to test, ``round(val_frac · n)`` to
    val; every link follows its item.

    Returns:
        :class:`Split` with ``protocol="new-product"`` and nothing dropped; ``info["targets"]`` counts items.
        ``info["unseen_patents"]`` (and ``["unseen_patent_links"]``) count, per held-out part, patents with no
        training link (and their links): they stay in that part's qrels (a method that represents a patent by
        its training products cannot retrieve them; they count as misses) and are reported.

    Raises:
        ValueError: on empty input.
    """
    links, name, cfg = _inputs(dataset, seed, config)
    items = sorted({i for i, _ in links})
    random.Random(cfg.seed).shuffle(items)
    n_test, n_val = round(cfg.test_frac * len(items)), round(cfg.val_frac * len(items))
    where = {i: "test" for i in items[:n_test]}
    where.update({i: "val" for i in items[n_test:n_test + n_val]})
    out: dict[str, list[Link]] = {"train": [], "val": [], "test": []}
    for i, p in links:
        out[where.get(i, "train")].append((i, p))
    train_pats = {p for _, p in out["train"]}
    unseen = {k: len({p for _, p in out[k]} - train_pats) for k in ("val", "test")}
    unseen_links = {k: sum(1 for _, p in out[k] if p not in train_pats) for k in ("val", "test")}
    info = {"dataset": name, "totals": _counts(links),
            "targets": {"train": len(items) - n_test - n_val, "val": n_val, "test": n_test},
            "unseen_patents": unseen, "unseen_patent_links": unseen_links}
    return Split(out["train"], out["val"], out["test"], [], "new-product", cfg.seed, cfg, info)


def split_dataset(dataset, *, protocol: Protocol = "graph", seed: int | None = None,
                  config: SplitConfig | None = None) -> Split:
    """One split of a dataset by ``protocol``.

    ``protocol="graph"``: :func:`random_split` for one-to-one data (a :class:`~patlink.data.Dataset` flagged
    ``one_to_one``, e.g. pap2pat; a plain link list whose every item has one patent and vice versa), else
    :func:`graph_split`. ``protocol="new-product"``: :func:`new_product_split`.

    Raises:
        ValueError: on an unknown protocol or no links.
    """
    _check_protocol(protocol)
    if protocol == "new-product":
        return new_product_split(dataset, seed=seed, config=config)
    if not hasattr(dataset, "links"):
        dataset = sorted(set(dataset))
    if getattr(dataset, "one_to_one", False) if hasattr(dataset, "links") else _one_to_one(dataset):
        return random_split(dataset, seed=seed, config=config)
    return graph_split(dataset, seed=seed, config=config)


def _one_to_one(links: list[Link]) -> bool:
    return len({i for i, _ in links}) == len(links) == len({p for _, p in links})


# ----------------------------------------------------------------------------------------------- k-fold
def kfold_splits(dataset, *, k: int = 5, protocol: Protocol = "graph", seed: int | None = None,
                 config: SplitConfig | None = None) -> list[Split]:
    """K-fold cross-validation: ``k`` splits whose test parts are disjoint, so every link is tested at most once.

    With one test split of ~15% a paired test on MRR has little power (227 pap2pat queries: differences under
    ~0.02 MRR are noise); pooling the per-query metrics of k folds tests every link. Each fold's model is trained
    on its own train part only, so no test link is ever trained on; the folds' training sets overlap, which the
    pooled per-query test ignores (it measures test-set variation, as a single split does).

    * ``protocol="graph"`` on one-to-one links (every item has one patent and vice versa, e.g. ``pap2pat``): a
      seeded permutation of the pairs is cut into ``k`` folds (sizes differ by at most one); ``protocol="random"``
      in the splits;
    * ``protocol="new-product"``: the *items* are permuted and cut into folds; a fold's test links are all links
      of its items (patents are shared, as in :func:`new_product_split`);
    * ``protocol="graph"`` on many-to-many links (``honeywell-vpm``): :func:`graph_kfold_splits`.

    In the permutation protocols, fold ``f``'s test part is the ``f``-th slice; validation is the first
    ``round(val_frac · n)`` pairs (items) of the remaining ones in permutation order; train is the rest.

    Args:
        dataset: a :class:`~patlink.data.Dataset` or ``(item_id, patent_id)`` links.
        k: number of folds, ``2 <= k <= n`` (pairs, or items for ``new-product`` and graph folds).
        protocol: ``graph`` or ``new-product``.
        seed: seed of the permutation (replaces ``config.seed``).
        config: ``val_frac`` (share of all pairs/items used for validation in each fold) and, for graph folds,
            the carving settings; ``test_frac`` is ignored (each split records ``test_frac = 1/k``).

    Returns:
        ``k`` :class:`Split` objects; ``info["fold"]`` = f and ``info["folds"]`` = k.

    Raises:
        ValueError: unknown protocol, ``k`` out of range, bad ``val_frac`` (it must leave training data:
            ``val_frac + 1/k < 1``), or empty input.
    """
    _check_protocol(protocol)
    links, name, cfg = _inputs(dataset, seed, config)
    by_item = protocol == "new-product"
    if not by_item and not _one_to_one(links):
        return graph_kfold_splits(dataset if hasattr(dataset, "links") else links, k=k, seed=seed, config=config)
    units = sorted({i for i, _ in links}) if by_item else links
    if not 2 <= k <= len(units):
        raise ValueError(f"k must be in [2, {len(units)}], got {k}")
    val_frac = cfg.val_frac
    n_val = round(val_frac * len(units))
    if not 0 < val_frac or val_frac + 1.0 / k >= 1 or n_val < 1:
        raise ValueError(f"val_frac must be > 0 (at least one validation unit) and leave training data: "
                         f"val_frac + 1/k < 1; got val_frac={val_frac}, k={k}")
    perm = list(units)
    random.Random(cfg.seed).shuffle(perm)
    bounds = [round(f * len(perm) / k) for f in range(k + 1)]
    cfg = replace(cfg, test_frac=1.0 / k)
    out = []
    for f in range(k):
        test_u = perm[bounds[f]:bounds[f + 1]]
        rest = perm[:bounds[f]] + perm[bounds[f + 1]:]
        where = {u: "test" for u in test_u}
        where.update({u: "val" for u in rest[:n_val]})
        parts: dict[str, list[Link]] = {"train": [], "val": [], "test": []}
        for link in links:
            parts[where.get(link[0] if by_item else link, "train")].append(link)
        info = {"dataset": name, "fold": f, "folds": k, "totals": _counts(links),
                "targets": {"train": len(units) - len(test_u) - n_val, "val": n_val, "test": len(test_u)}}
        out.append(Split(sorted(parts["train"]), sorted(parts["val"]), sorted(parts["test"]), [],
                         "new-product" if by_item else "random", cfg.seed, cfg, info))
    return out


def graph_kfold_splits(dataset, *, k: int = 5, seed: int | None = None,
                       config: SplitConfig | None = None) -> list[Split]:
    """Node-disjoint k-fold cross-validation of many-to-many links.

    The nodes (items and patents) are partitioned into ``k`` parts of about ``1/k`` of the items, patents and
    edges each: parts ``0 … k-2`` are carved one after the other from what is left, with the same carving as
    :func:`graph_split` (components kept whole where possible, large ones cut along bridges or by a sweep;
    target ``1/k`` of the whole graph each), part ``k-1`` is the rest. Fold ``f`` tests the links inside part
    ``f``; its validation part is carved (``config.val_frac`` of the graph) from the other parts; train is every
    link whose two ends are in neither; links with ends on two sides are dropped for that fold. So no node is in
    two of a fold's train/val/test, the test parts of different folds share no node, and every link is tested at
    most once — links between two parts never (their number is in ``info["never_tested"]``). A link between
    parts g and h (both ≠ f) is still a training link of fold f.

    Args:
        dataset: a :class:`~patlink.data.Dataset` or ``(item_id, patent_id)`` links.
        k: number of folds, ``2 <= k`` and at most the number of items.
        seed: replaces ``config.seed``.
        config: ``val_frac``, ``seed`` and the carving settings; ``test_frac`` is ignored (recorded as ``1/k``).

    Returns:
        ``k`` :class:`Split` objects (``protocol="graph"``), ``info["fold"]``/``["folds"]``/``["part_sizes"]``/
        ``["never_tested"]``.

    Raises:
        ValueError: on empty input, ``k`` out of range, or ``val_frac`` not in ``(0, 1 - 1/k)``.
    """
    links, name, cfg = _inputs(dataset, seed, config)
    n_items = len({i for i, _ in links})
    if not 2 <= k <= n_items:
        raise ValueError(f"k must be in [2, {n_items}], got {k}")
    if cfg.val_frac <= 0 or cfg.val_frac + 1.0 / k >= 1:
        raise ValueError(f"val_frac must be > 0 and val_frac + 1/k < 1; got val_frac={cfg.val_frac}, k={k}")
    cfg = replace(cfg, test_frac=1.0 / k)
    g = link_graph(links)
    total = np.array([*node_counts(g.nodes), len(links)], dtype=float)
    rng = random.Random(cfg.seed)
    part: dict[Node, int] = {}
    carve_reports = []
    remaining = g
    for f in range(k - 1):
        held, rep = carve(remaining, total / k, cfg, rng)
        carve_reports.append({"loss": round(rep["loss"], 6), "dropped": rep["dropped"]})
        for n in held:
            part[n] = f
        remaining = induced_subgraph(remaining, [n for n in remaining.nodes if n not in held])
    for n in remaining.nodes:
        part[n] = k - 1
    part_sizes = [dict(zip(("items", "patents", "edges"), (
        *node_counts(n for n, q in part.items() if q == f),
        sum(1 for i, p in links if part[(ITEM, i)] == part[(PATENT, p)] == f)))) for f in range(k)]
    never = sum(1 for i, p in links if part[(ITEM, i)] != part[(PATENT, p)])
    out = []
    for f in range(k):
        rest = induced_subgraph(g, [n for n in g.nodes if part[n] != f])
        val_nodes, rep = carve(rest, total * cfg.val_frac, cfg, random.Random(f"{cfg.seed}/{f}"))
        parts = assign_links(links, lambda n, f=f, val_nodes=val_nodes:
                             "test" if part[n] == f else "val" if n in val_nodes else "train")
        info = {"dataset": name, "fold": f, "folds": k, "totals": _totals(total),
                "part_sizes": part_sizes, "never_tested": never, "carve": carve_reports,
                "val_carve": {"loss": round(rep["loss"], 6), "dropped": rep["dropped"]}}
        out.append(Split(parts["train"], parts["val"], parts["test"], parts["dropped"], "graph", cfg.seed, cfg, info))
    return out
