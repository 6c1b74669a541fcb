"""Graph-aware train/val/test splits of item–patent links (``000_be1f183eef23b85e.txt`` §3.1).

Three protocols, all deterministic given a seed (also across ``PYTHONHASHSEED`` values: every set is sorted
before it is iterated):

``graph`` (many-to-many data such as ``honeywell-vpm``)
    The bipartite item–patent graph is cut so that **no node (item or patent) appears in two splits**. Edges
    whose two ends land in different splits are *dropped* (returned in :attr:`Split.dropped`, counted in
    ``split.json``), never leaked. Test is carved from the whole graph first, then val from what is left; the
    rest is train. One carve (§3.1):

    1. Connected components are analysed. A component is *large* when it alone exceeds the held-out target in
       items, patents or edges (on ``honeywell-vpm`` these are exactly the paper's two outliers, 61% of nodes and
       83% of edges); every other component is *small* and is assigned whole, never cut.
    2. A large component is cut along **bridges** (``networkx.bridges``): every bridge splits it into two sides,
       either of which may be held out, dropping one edge. All sides are scored at once with the bridge tree
       (2-edge-connected blocks joined by bridges; subtree sums give each side's item/patent/edge counts), and
       the side that lowers the loss most is held out; this repeats on the remainder (at most
       ``max_cuts_per_component`` cuts). Sides that are a single node are never used (that node would be lost).
    3. **Fallback when no bridge helps** (no bridge, or none lowers the loss; typical of the dense core of the
       largest ``honeywell-vpm`` component): a *spectral sweep cut*. Nodes are ordered by the Fiedler vector of
       the normalised Laplacian (``networkx.fiedler_vector``, ``tracemin_lu``, seeded) and every prefix and
       suffix of that order is scored with the same loss, including the penalty for the edges it cuts; the best
       one is held out. Nodes left without an edge on their own side are then moved to the other side (which
       restores their edges), so no node is lost.
    4. Small components are assigned greedily (a component joins the held-out set when that lowers the global
       loss), then a polishing pass toggles single small components while that lowers the loss.

    Two passes are run: **top-down** (cut large components first, largest first, then assign small components
    largest first) and **bottom-up** (assign small components first, smallest first, then cut the large ones);
    the one with the lower final loss is kept. Equal-sized components are ordered by a seeded shuffle, so
    different seeds give different splits.

    The loss is an L2 distance between held-out and target counts, each relative to its target so items,
    patents and edges weigh alike (``w`` = :attr:`SplitConfig.weights`), plus a linear penalty on dropped edges:

    ``loss = Σ_k w_k ((n_k − t_k) / t_k)² + drop_weight · dropped / t_edges``,  k ∈ {items, patents, edges}.

``random`` (one-to-one data such as ``pap2pat``: every item has one patent and vice versa)
    A seeded random permutation of the pairs; no edge is dropped.

``new-product`` (:func:`new_product_split`, issue 4's "link a new product to the company's existing patents")
    Items are split at random (seeded); every link follows its item, so val/test items are unseen in training
    while patents are shared. Nothing is dropped. Patents whose only links go to held-out items cannot be
    represented from training links (a profile built from a patent's training products is empty for them); they
    stay in the evaluation qrels, where they count as misses for profile methods, and their number is reported
    in ``Split.info["unseen_patents"]``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import networkx as nx
import numpy as np

from patlink.graph.stats import ITEM, PATENT
from patlink.io import atomic_write_text as _atomic_write

__all__ = [
    "SPLIT_NAMES",
    "UPSTREAM_HONEYWELL",
    "Split",
    "SplitConfig",
    "graph_kfold_splits",
    "graph_split",
    "kfold_splits",
    "new_product_split",
    "random_split",
    "read_split",
    "split_dataset",
    "write_split",
]

SPLIT_NAMES = ("train", "val", "test")
Link = tuple[str, str]
Node = tuple[str, str]
Protocol = Literal["graph", "new-product"]

#: Upstream split sizes of ``000_…txt`` for the Honeywell VPM graph (1,826 products / 4,443 patents / 20,192 edges).
UPSTREAM_HONEYWELL: dict[str, dict[str, int]] = {
    "train": {"items": 1270, "patents": 3033, "edges": 16689},
    "val": {"items": 279, "patents": 730, "edges": 1542},
    "test": {"items": 277, "patents": 680, "edges": 1959},
}


@dataclass(frozen=True)
class SplitConfig:
    """Settings of the split.

    Attributes:
        val_frac / test_frac: target share of items, of patents and of edges held out for val / test (default
            15% each, i.e. 70/15/15 like upstream's 1,270/279/277 products). Train gets the rest minus dropped edges.
        seed: seed of every random choice (tie order of equal components, Fiedler solver, random splits).
        weights: weights of the (items, patents, edges) terms of the L2 loss.
        drop_weight: penalty per dropped edge, in units of ``1 / target edges`` (see the module docstring).
        max_bridges: at most this many bridges are scored per cut (those with the largest smaller side first).
        max_cuts_per_component: at most this many cuts (bridge or sweep) per large component and split.
        sweep_fallback: also score the fallback sweep cuts (kept when they beat every bridge cut).
        spectral_sweep: include the Fiedler-vector order among the sweep orders.
        growth_starts: number of seeded start nodes of greedy region growing, the other sweep orders.
        polish_rounds: rounds of single-component toggling after the greedy assignment.
        passes: which of ``"top-down"``, ``"bottom-up"`` to run; the best is kept.
        representative: every large component gives about its own share (``frac × its counts``) to the
            held-out split, so no large cluster sits wholly in train (see the module docstring). ``False`` scores
            every cut against the global loss only (which on ``honeywell-vpm`` leaves the biggest component
            almost entirely in train).
    """

    val_frac: float = 0.15
    test_frac: float = 0.15
    seed: int = 0
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    drop_weight: float = 4.0
    max_bridges: int = 10_000
    max_cuts_per_component: int = 4
    sweep_fallback: bool = True
    spectral_sweep: bool = True
    growth_starts: int = 2
    polish_rounds: int = 5
    passes: tuple[str, ...] = ("top-down", "bottom-up")
    representative: bool = True

    def __post_init__(self) -> None:
        for name in ("val_frac", "test_frac"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        if self.val_frac + self.test_frac >= 1.0:
            raise ValueError(f"val_frac + test_frac must be < 1, got {self.val_frac + self.test_frac}")
        if len(self.weights) != 3 or any(w < 0 for w in self.weights):
            raise ValueError(f"weights must be 3 non-negative numbers, got {self.weights}")
        bad = [p for p in self.passes if p not in ("top-down", "bottom-up")]
        if bad or not self.passes:
            raise ValueError(f"passes must be a non-empty subset of ('top-down', 'bottom-up'), got {self.passes}")
        if self.drop_weight < 0 or self.max_bridges < 0 or self.max_cuts_per_component < 0:
            raise ValueError("drop_weight, max_bridges and max_cuts_per_component must be >= 0")


def _counts(links: Iterable[Link]) -> dict[str, int]:
    links = list(links)
    return {"items": len({i for i, _ in links}), "patents": len({p for _, p in links}), "edges": len(links)}


@dataclass
class Split:
    """A train/val/test split of links.

    Attributes:
        train / val / test: sorted ``(item_id, patent_id)`` links of each split.
        dropped: links cut by the graph split (their two ends are in different splits); empty otherwise.
        method: ``"graph"`` (bridge cutting), ``"random"`` (one-to-one pairs) or ``"new-product"``.
        seed: the seed used.
        config: the :class:`SplitConfig` used.
        info: JSON-able details: ``dataset``, ``totals``, ``targets`` per split, ``loss`` per carved split,
            ``passes`` (loss of each pass), ``cuts`` (every cut made), ``lost_nodes``, ``unseen_patents`` ...
    """

    train: list[Link]
    val: list[Link]
    test: list[Link]
    dropped: list[Link] = field(default_factory=list)
    method: str = "graph"
    seed: int = 0
    config: SplitConfig = field(default_factory=SplitConfig)
    info: dict = field(default_factory=dict)

    def links(self, name: str) -> list[Link]:
        """Links of split ``name`` (``train``, ``val``, ``test`` or ``dropped``). Raises ``KeyError``."""
        if name not in (*SPLIT_NAMES, "dropped"):
            raise KeyError(f"unknown split {name!r}; expected one of train, val, test, dropped")
        return getattr(self, name)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per split ``{"items", "patents", "edges"}`` (distinct ids with at least one link in the split)."""
        return {name: _counts(getattr(self, name)) for name in SPLIT_NAMES}

    def to_json(self) -> dict:
        """The content of ``split.json``: method, seed, config, per-split counts, targets, dropped edges, loss."""
        out = {
            "method": self.method,
            "seed": self.seed,
            "config": asdict(self.config),
            "counts": self.stats(),
            "dropped_edges": len(self.dropped),
            **self.info,
        }
        if self.info.get("dataset") == "honeywell-vpm" and self.method == "graph":
            out["upstream"] = UPSTREAM_HONEYWELL
        return out


# ----------------------------------------------------------------------------------------------- graph carving
def _sorted_graph(g: nx.Graph, nodes: Iterable[Node]) -> nx.Graph:
    """Induced subgraph built in sorted node/edge order (deterministic iteration, unlike ``g.subgraph``)."""
    keep = sorted(nodes)
    keep_set = set(keep)
    h = nx.Graph()
    h.add_nodes_from(keep)
    h.add_edges_from(sorted((min(u, v), max(u, v)) for u in keep for v in g[u] if v in keep_set and u < v))
    return h


def _node_counts(nodes: Iterable[Node]) -> tuple[int, int]:
    n_i = n_p = 0
    for n in nodes:
        if n[0] == ITEM:
            n_i += 1
        else:
            n_p += 1
    return n_i, n_p


class _Objective:
    """Loss of held-out counts against targets (see the module docstring)."""

    def __init__(self, target: np.ndarray, cfg: SplitConfig):
        self.t = np.maximum(np.asarray(target, dtype=float), 1e-9)
        self.w = np.asarray(cfg.weights, dtype=float)
        self.drop = cfg.drop_weight / self.t[2]

    def __call__(self, counts, dropped) -> np.ndarray | float:
        c = np.asarray(counts, dtype=float)
        return (self.w * ((c - self.t) / self.t) ** 2).sum(axis=-1) + self.drop * np.asarray(dropped, dtype=float)


@dataclass
class _Unit:
    nodes: list[Node]
    counts: np.ndarray  # (items, patents, edges)
    held: bool = False


class _Pass:
    """One pass of one carve: holds the running held-out set and its counts."""

    def __init__(self, g: nx.Graph, target: np.ndarray, cfg: SplitConfig):
        self.g, self.cfg, self.obj = g, cfg, _Objective(target, cfg)
        self.h = np.zeros(3)
        self.n_dropped = 0
        self.held: set[Node] = set()
        self.units: list[_Unit] = []
        self.cuts: list[dict] = []

    # -- loss helpers
    def loss(self) -> float:
        return float(self.obj(self.h, self.n_dropped))

    def _unit(self, nodes: Iterable[Node], graph: nx.Graph) -> _Unit:
        nodes = sorted(nodes)
        n_i, n_p = _node_counts(nodes)
        e = graph.subgraph(nodes).number_of_edges()
        return _Unit(nodes, np.array([n_i, n_p, e], dtype=float))

    # -- small components
    def add_units(self, comps: Iterable[Iterable[Node]], graph: nx.Graph) -> list[_Unit]:
        new = [self._unit(c, graph) for c in comps]
        self.units.extend(new)
        return new

    def assign(self, units: Sequence[_Unit]) -> None:
        for u in units:
            if not u.held and self.obj(self.h + u.counts, self.n_dropped) < self.loss() - 1e-12:
                u.held = True
                self.h = self.h + u.counts
                self.held.update(u.nodes)

    def polish(self) -> None:
        for _ in range(self.cfg.polish_rounds):
            changed = False
            for u in self.units:
                new_h = self.h - u.counts if u.held else self.h + u.counts
                if self.obj(new_h, self.n_dropped) < self.loss() - 1e-12:
                    u.held = not u.held
                    self.h = new_h
                    (self.held.update if u.held else self.held.difference_update)(u.nodes)
                    changed = True
            if not changed:
                break

    # -- large components
    def cut_component(self, comp: Iterable[Node], local_target: np.ndarray | None = None) -> None:
        """Hold out pieces of one large component (bridges first, then the sweep fallback).

        With ``local_target`` the pieces are scored against that target on their own (the component contributes
        about its share); otherwise against the global target together with everything held out so far.
        """
        rest = _sorted_graph(self.g, comp)
        size0 = rest.number_of_nodes()
        if local_target is not None:
            obj, base, n_drop = _Objective(local_target, self.cfg), np.zeros(3), 0
        else:
            obj, base, n_drop = self.obj, self.h, self.n_dropped
        for _ in range(self.cfg.max_cuts_per_component):
            if rest.number_of_nodes() < 4:
                break
            if local_target is None:
                base, n_drop = self.h, self.n_dropped
            best, kind = self._best_bridge_piece(rest, obj, base, n_drop), "bridge"
            if self.cfg.sweep_fallback:
                sweep = self._best_sweep_piece(rest, obj, base, n_drop)
                if sweep is not None and (best is None or sweep[2] < best[2] - 1e-12):
                    best, kind = sweep, "sweep"
            if best is None:
                break
            piece, n_cut, _ = best
            piece_unit = self._unit(piece, rest)
            self.h = self.h + piece_unit.counts
            self.n_dropped += n_cut
            base = base + piece_unit.counts
            n_drop += n_cut
            self.held.update(piece_unit.nodes)
            self.cuts.append({"kind": kind, "component_nodes": size0, "piece_items": int(piece_unit.counts[0]),
                              "piece_patents": int(piece_unit.counts[1]), "piece_edges": int(piece_unit.counts[2]),
                              "dropped": int(n_cut)})
            left = set(rest.nodes) - set(piece)
            frags = sorted((sorted(c) for c in nx.connected_components(rest.subgraph(left))),
                           key=lambda c: (-len(c), c[0]))
            # the biggest fragment stays the component being cut; others become small units
            if len(frags) > 1:
                self.assign(self.add_units(frags[1:], rest))
            rest = _sorted_graph(rest, frags[0]) if frags else nx.Graph()

    def _best_bridge_piece(self, r: nx.Graph, obj: _Objective, base: np.ndarray,
                           n_drop: int) -> tuple[list[Node], int, float] | None:
        bridges = list(nx.bridges(r))
        if not bridges:
            return None
        bset = {frozenset(b) for b in bridges}
        blocks_g = nx.Graph()
        blocks_g.add_nodes_from(r.nodes)
        blocks_g.add_edges_from(e for e in r.edges if frozenset(e) not in bset)
        block_of: dict[Node, int] = {}
        blocks: list[list[Node]] = []
        for k, c in enumerate(nx.connected_components(blocks_g)):
            c = sorted(c)
            blocks.append(c)
            for n in c:
                block_of[n] = k
        nb = len(blocks)
        bc = np.zeros((nb, 3))
        for k, c in enumerate(blocks):
            bc[k, 0], bc[k, 1] = _node_counts(c)
        for u, v in blocks_g.edges:
            bc[block_of[u], 2] += 1
        adj: list[list[int]] = [[] for _ in range(nb)]
        for u, v in bridges:
            a, b = block_of[u], block_of[v]
            adj[a].append(b)
            adj[b].append(a)
        root = max(range(nb), key=lambda k: (len(blocks[k]), -k))
        parent = [-1] * nb
        order = [root]
        seen = [False] * nb
        seen[root] = True
        for a in order:
            for b in adj[a]:
                if not seen[b]:
                    seen[b] = True
                    parent[b] = a
                    order.append(b)
        sub = bc.copy()
        for a in reversed(order[1:]):
            sub[parent[a]] += sub[a]
            sub[parent[a], 2] += 1  # the bridge to the child
        total = sub[root]
        kids = np.array(order[1:])
        side_a = sub[kids]
        side_b = total - side_a - np.array([0, 0, 1])
        n_a = side_a[:, 0] + side_a[:, 1]
        n_b = side_b[:, 0] + side_b[:, 1]
        ok = (n_a >= 2) & (n_b >= 2)  # a single-node side would lose that node
        if self.cfg.max_bridges < len(kids):
            rank = np.argsort(-np.minimum(n_a, n_b), kind="stable")
            keep = np.zeros(len(kids), dtype=bool)
            keep[rank[: self.cfg.max_bridges]] = True
            ok &= keep
        if not ok.any():
            return None
        cand = np.concatenate([side_a[ok], side_b[ok]])
        which = np.concatenate([kids[ok], kids[ok]])
        is_b = np.concatenate([np.zeros(ok.sum(), bool), np.ones(ok.sum(), bool)])
        losses = obj(base + cand, n_drop + 1)
        j = int(np.argmin(losses))
        if losses[j] >= obj(base, n_drop) - 1e-12:
            return None
        # materialise the subtree of block which[j]
        start = int(which[j])
        stack, sub_blocks = [start], []
        while stack:
            a = stack.pop()
            sub_blocks.append(a)
            stack.extend(b for b in adj[a] if b != parent[a])
        nodes = [n for a in sub_blocks for n in blocks[a]]
        if is_b[j]:
            inside = set(nodes)
            nodes = [n for n in r.nodes if n not in inside]
        return sorted(nodes), 1, float(losses[j])

    def _best_sweep_piece(self, r: nx.Graph, obj: _Objective, base: np.ndarray,
                          n_drop: int) -> tuple[list[Node], int, float] | None:
        """Fallback cut: best prefix of a node order (spectral sweep, both ends; greedy growth from seeded starts)."""
        nodes = list(r.nodes)
        n = len(nodes)
        if n < 4 or not nx.is_connected(r):
            return None
        cur = float(obj(base, n_drop))
        orders: list[list[Node]] = []
        if self.cfg.spectral_sweep:
            f = nx.fiedler_vector(r, normalized=True, method="tracemin_lu", seed=self.cfg.seed)
            spectral = [nodes[k] for k in sorted(range(n), key=lambda k: (float(f[k]), nodes[k]))]
            orders += [spectral, spectral[::-1]]
        rng = random.Random(f"{self.cfg.seed}:{n}:{r.number_of_edges()}")
        for s0 in rng.sample(nodes, min(self.cfg.growth_starts, n)):
            orders.append(_growth_order(r, s0, obj.t * 2 + 2))
        best: tuple[float, list[Node]] | None = None
        for seq in orders:
            inside: set[Node] = set()
            ci = cp = internal = deg_sum = 0
            for pos, v in enumerate(seq[: n - 1]):
                if v[0] == ITEM:
                    ci += 1
                else:
                    cp += 1
                internal += sum(1 for w in r[v] if w in inside)
                deg_sum += r.degree(v)
                inside.add(v)
                if ci > 2 * obj.t[0] + 2 and cp > 2 * obj.t[1] + 2:
                    break
                loss = float(obj(base + np.array([ci, cp, internal]), n_drop + deg_sum - 2 * internal))
                if loss < cur - 1e-12 and (best is None or loss < best[0]):
                    best = (loss, seq[: pos + 1])
        if best is None:
            return None
        piece = _repair(r, set(best[1]))
        if not piece or len(piece) == n:
            return None
        crossing = sum(1 for u, v in r.edges if (u in piece) != (v in piece))
        n_i, n_p = _node_counts(piece)
        loss = float(obj(base + np.array([n_i, n_p, r.subgraph(piece).number_of_edges()]), n_drop + crossing))
        return (sorted(piece), crossing, loss) if loss < cur - 1e-12 else None


def _growth_order(r: nx.Graph, start: Node, cap: np.ndarray) -> list[Node]:
    """Greedy region growing from ``start``: repeatedly add the frontier node with most edges into the region
    (ties: fewest edges out, then node order); stops once items and patents both exceed ``cap``."""
    import heapq

    links_in: dict[Node, int] = {start: 0}
    heap = [(0, 0, start)]
    order: list[Node] = []
    inside: set[Node] = set()
    ci = cp = 0
    while heap and not (ci > cap[0] and cp > cap[1]):
        neg_in, _, v = heapq.heappop(heap)
        if v in inside or -neg_in != links_in[v]:
            continue
        inside.add(v)
        order.append(v)
        if v[0] == ITEM:
            ci += 1
        else:
            cp += 1
        for w in r[v]:
            if w not in inside:
                links_in[w] = links_in.get(w, 0) + 1
                heapq.heappush(heap, (-links_in[w], r.degree(w) - links_in[w], w))
    return order


def _repair(g: nx.Graph, held: set[Node]) -> set[Node]:
    """Move every node with no edge on its own side to the other side (restores its edges; no node is lost)."""
    held = set(held)
    while True:
        moved = False
        for v in sorted(g.nodes):
            if g.degree(v) == 0:
                continue
            same = sum(1 for w in g[v] if (w in held) == (v in held))
            if same == 0:
                (held.discard if v in held else held.add)(v)
                moved = True
        if not moved:
            return held


def _carve(g: nx.Graph, target: np.ndarray, cfg: SplitConfig, rng: random.Random) -> tuple[set[Node], dict]:
    """Hold out a node set of ``g`` whose induced counts approach ``target``; returns (nodes, report)."""
    comps = [sorted(c) for c in nx.connected_components(g)]
    comps.sort(key=lambda c: c[0])
    tie = list(range(len(comps)))
    rng.shuffle(tie)
    info = []
    for c, r in zip(comps, tie):
        n_i, n_p = _node_counts(c)
        e = g.subgraph(c).number_of_edges()
        info.append((c, np.array([n_i, n_p, e], dtype=float), r))
    large = [x for x in info if (x[1] > target).any()]
    small = [x for x in info if not (x[1] > target).any()]
    desc = lambda xs: sorted(xs, key=lambda x: (-(x[1][0] + x[1][1]), -x[1][2], x[2]))
    asc = lambda xs: sorted(xs, key=lambda x: ((x[1][0] + x[1][1]), x[1][2], x[2]))
    results = {}
    obj = _Objective(target, cfg)
    g_total = np.array([*_node_counts(g.nodes), g.number_of_edges()], dtype=float)
    frac = target / np.maximum(g_total, 1)
    reserved = sum((frac * x[1] for x in large), np.zeros(3)) if cfg.representative else np.zeros(3)
    for name in cfg.passes:
        p = _Pass(g, target, cfg)
        if name == "top-down":
            for c, cnt, _ in desc(large):
                p.cut_component(c, frac * cnt if cfg.representative else None)
            p.assign(p.add_units([c for c, _, _ in desc(small)], g))
        else:
            units = p.add_units([c for c, _, _ in asc(small)], g)
            if cfg.representative:  # fill the share of the small components first, leave the rest to the cuts
                p.obj = _Objective(np.maximum(target - reserved, 1e-9), cfg)
                p.assign(units)
                p.obj = obj
            else:
                p.assign(units)
            for c, cnt, _ in asc(large):
                p.cut_component(c, frac * cnt if cfg.representative else None)
        p.polish()
        held = _repair(g, p.held)
        n_i, n_p = _node_counts(held)
        e_in = g.subgraph(held).number_of_edges()
        crossing = sum(1 for u, v in g.edges if (u in held) != (v in held))
        loss = float(obj(np.array([n_i, n_p, e_in]), crossing))
        results[name] = (loss, held, p.cuts, crossing)
    best = min(cfg.passes, key=lambda k: (results[k][0], cfg.passes.index(k)))
    loss, held, cuts, crossing = results[best]
    report = {
        "pass": best,
        "loss": loss,
        "passes": {k: v[0] for k, v in results.items()},
        "large_components": [{"items": int(x[1][0]), "patents": int(x[1][1]), "edges": int(x[1][2])}
                             for x in desc(large)],
        "cuts": cuts,
        "dropped": crossing,
    }
    return held, report


def _assign_links(links: Iterable[Link], side) -> dict[str, list[Link]]:
    """Links sorted into ``train``/``val``/``test`` by the split of their two nodes (``side(node)``); a link whose
    ends are on two sides goes to ``dropped``."""
    out: dict[str, list[Link]] = {"train": [], "val": [], "test": [], "dropped": []}
    for i, p in links:
        a, b = side((ITEM, i)), side((PATENT, p))
        out[a if a == b else "dropped"].append((i, p))
    return out


def graph_split(links: Iterable[Link], config: SplitConfig | None = None, dataset: str | None = None) -> Split:
    """Bridge-cutting two-pass split of a bipartite item–patent graph (§3.1; algorithm in the module docstring).

    Args:
        links: ``(item_id, patent_id)`` pairs (duplicates ignored).
        config: :class:`SplitConfig` (defaults: 70/15/15, seed 0).
        dataset: dataset name recorded in ``info`` (``honeywell-vpm`` adds upstream's sizes to ``split.json``).

    Returns:
        :class:`Split` with ``method="graph"``; no item or patent id appears in two of train/val/test, and
        ``train + val + test + dropped`` is exactly the set of input links.

    Raises:
        ValueError: on an empty link list.
    """
    cfg = config or SplitConfig()
    links = sorted(set(links))
    if not links:
        raise ValueError("cannot split an empty list of links")
    g = nx.Graph()
    g.add_edges_from(((ITEM, i), (PATENT, p)) for i, p in links)
    total = np.array([*_node_counts(g.nodes), len(links)], dtype=float)
    rng = random.Random(cfg.seed)
    targets = {"test": total * cfg.test_frac, "val": total * cfg.val_frac}
    assign: dict[Node, str] = {}
    reports = {}
    remaining = g
    for name in ("test", "val"):
        if targets[name][2] < 1:
            reports[name] = {"pass": None, "loss": 0.0, "passes": {}, "cuts": [], "dropped": 0}
            continue
        held, rep = _carve(remaining, targets[name], cfg, rng)
        reports[name] = rep
        for n in held:
            assign[n] = name
        remaining = _sorted_graph(remaining, [n for n in remaining.nodes if n not in held])
    out = _assign_links(links, lambda n: assign.get(n, "train"))
    kept_nodes = {(ITEM, i) for k in SPLIT_NAMES for i, _ in out[k]} | {(PATENT, p) for k in SPLIT_NAMES
                                                                          for _, p in out[k]}
    lost = [n for n in g.nodes if n not in kept_nodes]
    info = {
        "dataset": dataset,
        "protocol": "graph",
        "totals": {"items": int(total[0]), "patents": int(total[1]), "edges": int(total[2])},
        "targets": {
            "train": dict(zip(("items", "patents", "edges"),
                              (round(float(x), 1) for x in total * (1 - cfg.val_frac - cfg.test_frac)))),
            **{k: dict(zip(("items", "patents", "edges"), (round(float(x), 1) for x in v)))
               for k, v in (("val", targets["val"]), ("test", targets["test"]))},
        },
        "loss": {k: round(v["loss"], 6) for k, v in reports.items()},
        "carve": reports,
        "lost_nodes": {"items": sum(1 for n in lost if n[0] == ITEM), "patents": sum(1 for n in lost if n[0] != ITEM)},
    }
    return Split(out["train"], out["val"], out["test"], out["dropped"], "graph", cfg.seed, cfg, info)


def graph_kfold_splits(links: Iterable[Link], k: int = 5, config: SplitConfig | None = None,
                       dataset: str | None = None) -> list[Split]:
    """Graph-disjoint k-fold cross-validation of many-to-many links.

    The nodes (items and patents) are partitioned into ``k`` parts of about ``1/k`` of the items, patents and
    edges each: parts ``0 … k-2`` are carved one after the other from what is left, with the same carving as
    :func:`graph_split` (components kept whole where possible, large ones cut along bridges or by a spectral
    sweep; target ``1/k`` of the whole graph each), part ``k-1`` is the rest. Fold ``f`` tests the links inside
    part ``f``; its validation part is carved (``config.val_frac`` of the graph) from the other parts; train is
    every link whose two ends are in neither; links with ends on two sides are dropped for that fold. So no node
    is in two of a fold's train/val/test, the test parts of different folds share no node, and every link is
    tested at most once — links between two parts never (their number is in ``info["never_tested"]``). A link
    between parts g and h (both ≠ f) is still a training link of fold f.

    Args:
        links: ``(item_id, patent_id)`` pairs (duplicates ignored).
        k: number of folds, ``2 <= k`` and at most the number of items.
        config: :class:`SplitConfig` (``val_frac``, ``seed`` and the carving settings; ``test_frac`` is ignored).
        dataset: name recorded in ``info``.

    Returns:
        ``k`` :class:`Split` objects (``method="graph"``), ``info["fold"]``/``["folds"]``/``["part_sizes"]``/
        ``["never_tested"]``.

    Raises:
        ValueError: on empty input, ``k`` out of range, or ``val_frac + 1/k >= 1``.
    """
    cfg = config or SplitConfig()
    links = sorted(set(links))
    if not links:
        raise ValueError("cannot split an empty list of links")
    n_items = len({i for i, _ in links})
    if not 2 <= k <= n_items:
        raise ValueError(f"k must be in [2, {n_items}], got {k}")
    if cfg.val_frac <= 0 or cfg.val_frac + 1.0 / k >= 1:
        raise ValueError(f"val_frac must be > 0 and val_frac + 1/k < 1; got val_frac={cfg.val_frac}, k={k}")
    g = nx.Graph()
    g.add_edges_from(((ITEM, i), (PATENT, p)) for i, p in links)
    total = np.array([*_node_counts(g.nodes), len(links)], dtype=float)
    rng = random.Random(cfg.seed)
    part: dict[Node, int] = {}
    carve_reports = []
    remaining = g
    for f in range(k - 1):
        held, rep = _carve(remaining, total / k, cfg, rng)
        carve_reports.append({"loss": round(rep["loss"], 6), "dropped": rep["dropped"]})
        for n in held:
            part[n] = f
        remaining = _sorted_graph(remaining, [n for n in remaining.nodes if n not in held])
    for n in remaining.nodes:
        part[n] = k - 1
    part_sizes = [dict(zip(("items", "patents", "edges"), (
        *_node_counts(n for n, q in part.items() if q == f),
        sum(1 for i, p in links if part[(ITEM, i)] == part[(PATENT, p)] == f)))) for f in range(k)]
    never = sum(1 for i, p in links if part[(ITEM, i)] != part[(PATENT, p)])
    out = []
    for f in range(k):
        rest = _sorted_graph(g, [n for n in g.nodes if part[n] != f])
        val_nodes, rep = _carve(rest, total * cfg.val_frac, cfg, random.Random(f"{cfg.seed}/{f}"))
        parts = _assign_links(links, lambda n, f=f, val_nodes=val_nodes:
                              "test" if part[n] == f else "val" if n in val_nodes else "train")
        info = {"dataset": dataset, "protocol": "graph", "fold": f, "folds": k,
                "totals": {"items": int(total[0]), "patents": int(total[1]), "edges": int(total[2])},
                "part_sizes": part_sizes, "never_tested": never, "carve": carve_reports,
                "val_carve": {"loss": round(rep["loss"], 6), "dropped": rep["dropped"]}}
        out.append(Split(parts["train"], parts["val"], parts["test"], parts["dropped"], "graph", cfg.seed, cfg, info))
    return out


def random_split(links: Iterable[Link], config: SplitConfig | None = None, dataset: str | None = None) -> Split:
    """Seeded random split of link pairs, for one-to-one data (``pap2pat``); nothing dropped.

    ``round(test_frac · n)`` pairs go to test, ``round(val_frac · n)`` to val, the rest to train. With one-to-one
    links no item or patent can appear in two splits. Raises ``ValueError`` on empty input.
    """
    cfg = config or SplitConfig()
    links = sorted(set(links))
    if not links:
        raise ValueError("cannot split an empty list of links")
    perm = list(links)
    random.Random(cfg.seed).shuffle(perm)
    n_test, n_val = round(cfg.test_frac * len(perm)), round(cfg.val_frac * len(perm))
    test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    info = {"dataset": dataset, "protocol": "graph", "totals": _counts(links),
            "targets": {"train": len(links) - n_test - n_val, "val": n_val, "test": n_test}}
    return Split(sorted(train), sorted(val), sorted(test), [], "random", cfg.seed, cfg, info)


def new_product_split(ds_or_links, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0,
                      config: SplitConfig | None = None) -> Split:
    """Split by item: val/test items never appear in train; patents are shared (issue 4's protocol).

    Args:
        ds_or_links: a :class:`~patlink.data.Dataset` or a list of ``(item_id, patent_id)`` links.
        val_frac / test_frac: share of *items* (with at least one link) held out; overridden by ``config``.
        seed: seed of the item permutation; overridden by ``config``.

    Returns:
        :class:`Split` with ``method="new-product"`` and nothing dropped. ``info["unseen_patents"]`` counts, per
        held-out split, patents with no training link: they stay in that split's qrels (a method that represents
        a patent by its training products cannot retrieve them; they count as misses) and are reported.

    Raises:
        ValueError: on empty input or bad fractions.
    """
    cfg = config or SplitConfig(val_frac=val_frac, test_frac=test_frac, seed=seed)
    links = sorted(set(getattr(ds_or_links, "links", ds_or_links)))
    if not links:
        raise ValueError("cannot split an empty list of links")
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
    info = {"dataset": getattr(ds_or_links, "name", None), "protocol": "new-product", "totals": _counts(links),
            "targets": {"train": len(items) - n_test - n_val, "val": n_val, "test": n_test},
            "unseen_patents": unseen, "unseen_patent_links": unseen_links}
    return Split(out["train"], out["val"], out["test"], [], "new-product", cfg.seed, cfg, info)


def kfold_splits(ds_or_links, k: int = 5, seed: int = 0, val_frac: float = 0.15,
                 protocol: Protocol = "graph") -> list[Split]:
    """K-fold cross-validation: ``k`` splits whose test parts partition the links, so every link is tested once.

    With one test split of ~15% a paired test on MRR has little power (227 pap2pat queries: differences under
    ~0.02 MRR are noise); pooling the per-query metrics of k folds tests every link. Each fold's model is trained
    on its own train part only, so no test link is ever trained on; the folds' training sets overlap, which the
    pooled per-query test ignores (it measures test-set variation, as a single split does).

    * one-to-one data (``protocol="graph"`` on data where every item has one patent and vice versa, e.g.
      ``pap2pat``): a seeded permutation of the pairs is cut into ``k`` folds (sizes differ by at most one);
    * ``protocol="new-product"``: the *items* are permuted and cut into folds; a fold's test links are all links
      of its items (patents are shared, as in :func:`new_product_split`).
    * many-to-many data under ``protocol="graph"`` (``honeywell-vpm``): :func:`graph_kfold_splits` — the graph's
      NODES are partitioned into ``k`` node-disjoint parts with the carving of :func:`graph_split`; a fold tests
      the links inside its part, so links between two parts are never tested.

    In fold ``f`` the test part is fold ``f``; validation is the first ``round(val_frac · n)`` pairs (items) of the
    remaining ones in permutation order; train is the rest.

    Args:
        ds_or_links: a :class:`~patlink.data.Dataset` or a list of ``(item_id, patent_id)`` links.
        k: number of folds, ``2 <= k <= n``.
        seed: seed of the permutation.
        val_frac: share of all pairs (items) used for validation in each fold.
        protocol: ``graph`` (one-to-one data only) or ``new-product``.

    Returns:
        ``k`` :class:`Split` objects; ``info["fold"]`` = f and ``info["folds"]`` = k.

    Raises:
        ValueError: ``k`` out of range, bad ``val_frac``, or empty input.
    """
    links = sorted(set(getattr(ds_or_links, "links", ds_or_links)))
    if not links:
        raise ValueError("cannot split an empty list of links")
    if protocol not in ("graph", "new-product"):
        raise ValueError(f"unknown split protocol {protocol!r}; expected 'graph' or 'new-product'")
    by_item = protocol == "new-product"
    if not by_item:
        one_to_one = (len({i for i, _ in links}) == len(links) == len({p for _, p in links}))
        if not one_to_one:
            return graph_kfold_splits(links, k, SplitConfig(val_frac=val_frac, test_frac=min(1.0 / k, 0.99 - val_frac),
                                                            seed=seed), dataset=getattr(ds_or_links, "name", None))
    units = sorted({i for i, _ in links}) if by_item else links
    if not 2 <= k <= len(units):
        raise ValueError(f"k must be in [2, {len(units)}], got {k}")
    n_val = round(val_frac * len(units))
    if not 0 < val_frac or val_frac + 1.0 / k >= 1 or n_val < 1:
        raise ValueError(f"val_frac must be > 0 (at least one validation unit) and leave training data: "
                         f"val_frac + 1/k < 1; got val_frac={val_frac}, k={k}")
    perm = list(units)
    random.Random(seed).shuffle(perm)
    bounds = [round(f * len(perm) / k) for f in range(k + 1)]
    cfg = SplitConfig(val_frac=val_frac, test_frac=1.0 / k, seed=seed)
    out = []
    for f in range(k):
        test_u = perm[bounds[f]:bounds[f + 1]]
        rest = perm[:bounds[f]] + perm[bounds[f + 1]:]
        where = {u: "test" for u in test_u}
        where.update({u: "val" for u in rest[:n_val]})
        parts: dict[str, list[Link]] = {"train": [], "val": [], "test": []}
        for link in links:
            parts[where.get(link[0] if by_item else link, "train")].append(link)
        info = {"dataset": getattr(ds_or_links, "name", None), "protocol": protocol, "fold": f, "folds": k,
                "totals": _counts(links),
                "targets": {"train": len(units) - len(test_u) - n_val, "val": n_val, "test": len(test_u)}}
        out.append(Split(sorted(parts["train"]), sorted(parts["val"]), sorted(parts["test"]), [],
                         "new-product" if by_item else "random", seed, cfg, info))
    return out


def split_dataset(ds, seed: int | None = None, config: SplitConfig | None = None,
                  protocol: Protocol = "graph") -> Split:
    """Split a :class:`~patlink.data.Dataset`'s links.

    ``protocol="graph"``: :func:`random_split` for one-to-one datasets (``ds.one_to_one``, e.g. pap2pat), else
    :func:`graph_split`. ``protocol="new-product"``: :func:`new_product_split`. ``seed`` (when given) replaces
    ``config.seed``. Raises ``ValueError`` on an unknown protocol or an empty dataset.
    """
    cfg = config or SplitConfig()
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    if protocol == "new-product":
        return new_product_split(ds, config=cfg)
    if protocol != "graph":
        raise ValueError(f"unknown split protocol {protocol!r}; expected 'graph' or 'new-product'")
    name = getattr(ds, "name", None)
    if getattr(ds, "one_to_one", False):
        return random_split(ds.links, cfg, dataset=name)
    return graph_split(ds.links, cfg, dataset=name)


# ----------------------------------------------------------------------------------------------------- I/O
_HEADER = "item_id\tpatent_id"


def write_split(split: Split, out_dir: str | Path) -> dict[str, Path]:
    """Write ``train.tsv``, ``val.tsv``, ``test.tsv``, ``dropped.tsv`` (header ``item_id\\tpatent_id``) and
    ``split.json`` (:meth:`Split.to_json`) into ``out_dir`` (created), each atomically. Returns name → path.

    Raises ``ValueError`` if an id contains a tab or newline (it could not be read back).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in (*SPLIT_NAMES, "dropped"):
        rows = split.links(name)
        for i, p in rows:
            if any(ch in s for s in (i, p) for ch in "\t\r\n"):
                raise ValueError(f"id with a tab or newline cannot be written to TSV: {(i, p)!r}")
        path = out / f"{name}.tsv"
        _atomic_write(path, "".join([_HEADER + "\n", *(f"{i}\t{p}\n" for i, p in rows)]))
        paths[name] = path
    path = out / "split.json"
    _atomic_write(path, json.dumps(split.to_json(), indent=2) + "\n")
    paths["split.json"] = path
    return paths


def _read_tsv(path: Path) -> list[Link]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: split file not found (expected train.tsv, val.tsv, test.tsv)")
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].rstrip("\r") != _HEADER:
        got = lines[0] if lines else "an empty file"
        raise ValueError(f"{path}:1: expected header 'item_id<TAB>patent_id', got {got!r}")
    out = []
    for n, line in enumerate(lines[1:], start=2):
        parts = line.rstrip("\r").split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise ValueError(f"{path}:{n}: expected 2 non-empty tab-separated fields (item_id, patent_id), "
                             f"got {line!r}")
        out.append((parts[0], parts[1]))
    return out


def read_split(split_dir: str | Path) -> dict[str, list[Link]]:
    """Read ``train.tsv``, ``val.tsv``, ``test.tsv`` written by :func:`write_split`.

    Returns ``{"train": [(item_id, patent_id), ...], "val": [...], "test": [...]}``.

    Raises:
        FileNotFoundError: a file is missing (path named).
        ValueError: bad header or malformed line, as ``file:line: message``.
    """
    d = Path(split_dir)
    return {name: _read_tsv(d / f"{name}.tsv") for name in SPLIT_NAMES}
