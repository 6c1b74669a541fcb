"""Node carving of a bipartite item–patent graph: the heuristic behind the ``graph`` split protocol.

El Bouari & de Rassenfosse, "Product-Patent linkage prediction" (§3.1), split the Honeywell VPM graph so that no
product and no patent is in two of train/val/test, cutting the large components along bridges. :func:`carve`
holds out a node set whose counts (items, patents, edges inside it) approach a target; the edges it cuts are
reported (the protocols drop them, never leak them). Every function here is deterministic given its inputs and
the ``random.Random`` it is handed (also across ``PYTHONHASHSEED`` values: every set is sorted before it is
iterated). Nodes are ``(ITEM, id)`` / ``(PATENT, id)`` tuples (:mod:`patlink.graph.stats`). One carve:

1. Connected components are analysed. A component is *large* when it alone exceeds the target in items,
   patents or edges (on ``honeywell-vpm`` these are exactly the paper's two outliers, 61% of nodes and 83% of
   edges); every other component is *small* and is assigned whole, never cut.
2. A large component is cut along **bridges** (``networkx.bridges``): every bridge splits it into two sides,
   either of which may be held out, dropping one edge. All sides are scored at once with the bridge tree
   (2-edge-connected blocks joined by bridges; subtree sums give each side's item/patent/edge counts), and the
   side that lowers the loss most is held out; this repeats on the remainder (at most
   ``max_cuts_per_component`` cuts). Sides that are a single node are never used (that node would be lost).
3. **Fallback when no bridge helps** (no bridge, or none lowers the loss; typical of the dense core of the
   largest ``honeywell-vpm`` component): a *sweep cut*. Nodes are ordered by the Fiedler vector of the
   normalised Laplacian (``networkx.fiedler_vector``, ``tracemin_lu``, seeded) and by greedy region growing from
   seeded start nodes; every prefix of those orders is scored with the same loss, including the penalty for the
   edges it cuts, and the best one is held out. Nodes left without an edge on their own side are then moved to
   the other side (which restores their edges), so no node is lost.
4. Small components are assigned greedily (a component joins the held-out set when that lowers the loss), then
   a polishing pass toggles single small components while that lowers the loss.

Two passes are run: **top-down** (cut large components first, largest first, then assign small components
largest first) and **bottom-up** (assign small components first, smallest first, then cut the large ones); the
one with the lower final loss is kept. Equal-sized components are ordered by a seeded shuffle, so different seeds
give different splits. With ``SplitConfig.representative`` every large component is cut against its own share
of the target (``frac × its counts``), so no large cluster sits wholly in one part.

The loss is an L2 distance between held-out and target counts, each relative to its target so items, patents
and edges weigh alike (``w`` = ``SplitConfig.weights``), plus a linear penalty on dropped edges:

``loss = Σ_k w_k ((n_k − t_k) / t_k)² + drop_weight · dropped / t_edges``,  k ∈ {items, patents, edges}.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from patlink.graph.split import Link, SplitConfig
from patlink.graph.stats import ITEM, PATENT

__all__ = ["Node", "assign_links", "carve", "induced_subgraph", "link_graph", "node_counts"]

#: A graph node: ``("item", item_id)`` or ``("patent", patent_id)``.
Node = tuple[str, str]


def link_graph(links: Iterable[Link]) -> nx.Graph:
    """The bipartite graph of ``links`` (in the given order; callers pass them sorted), no isolated nodes."""
    g = nx.Graph()
    g.add_edges_from(((ITEM, i), (PATENT, p)) for i, p in links)
    return g


def induced_subgraph(g: nx.Graph, nodes: Iterable[Node]) -> nx.Graph:
    """Induced subgraph built in sorted node/edge order (deterministic iteration, unlike ``g.subgraph``)."""
    keep = sorted(nodes)
    keep_set = set(keep)
    h = nx.Graph()
    h.add_nodes_from(keep)
    h.add_edges_from(sorted((min(u, v), max(u, v)) for u in keep for v in g[u] if v in keep_set and u < v))
    return h


def node_counts(nodes: Iterable[Node]) -> tuple[int, int]:
    """``(items, patents)`` among ``nodes``."""
    n_i = n_p = 0
    for n in nodes:
        if n[0] == ITEM:
            n_i += 1
        else:
            n_p += 1
    return n_i, n_p


class _Objective:
    """Loss of held-out counts against targets (the formula is in the module docstring)."""

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
        n_i, n_p = node_counts(nodes)
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
        rest = induced_subgraph(self.g, comp)
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
            best, kind = _bridge_cut(rest, obj, base, n_drop, self.cfg), "bridge"
            if self.cfg.sweep_fallback:
                sweep = _sweep_cut(rest, obj, base, n_drop, self.cfg)
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
            rest = induced_subgraph(rest, frags[0]) if frags else nx.Graph()


def _bridge_cut(r: nx.Graph, obj: _Objective, base: np.ndarray, n_drop: int,
                cfg: SplitConfig) -> tuple[list[Node], int, float] | None:
    """Best bridge side of ``r`` to hold out: ``(nodes, 1 dropped edge, loss)``, or ``None`` if none lowers the loss."""
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
        bc[k, 0], bc[k, 1] = node_counts(c)
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
    if cfg.max_bridges < len(kids):
        rank = np.argsort(-np.minimum(n_a, n_b), kind="stable")
        keep = np.zeros(len(kids), dtype=bool)
        keep[rank[: cfg.max_bridges]] = True
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


def _sweep_cut(r: nx.Graph, obj: _Objective, base: np.ndarray, n_drop: int,
               cfg: SplitConfig) -> tuple[list[Node], int, float] | None:
    """Fallback cut: best prefix of a node order (spectral sweep, both ends; greedy growth from seeded starts)."""
    nodes = list(r.nodes)
    n = len(nodes)
    if n < 4 or not nx.is_connected(r):
        return None
    cur = float(obj(base, n_drop))
    orders: list[list[Node]] = []
    if cfg.spectral_sweep:
        f = nx.fiedler_vector(r, normalized=True, method="tracemin_lu", seed=cfg.seed)
        spectral = [nodes[k] for k in sorted(range(n), key=lambda k: (float(f[k]), nodes[k]))]
        orders += [spectral, spectral[::-1]]
    rng = random.Random(f"{cfg.seed}:{n}:{r.number_of_edges()}")
    for s0 in rng.sample(nodes, min(cfg.growth_starts, n)):
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
    n_i, n_p = node_counts(piece)
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


def carve(g: nx.Graph, target: np.ndarray, cfg: SplitConfig, rng: random.Random) -> tuple[set[Node], dict]:
    """Hold out a node set of ``g`` whose induced counts approach ``target`` (algorithm: module docstring).

    Args:
        g: the graph to carve from (built in sorted order, e.g. by :func:`induced_subgraph`).
        target: ``(items, patents, edges)`` wanted in the held-out set (floats).
        cfg: carving settings (``weights``, ``drop_weight``, ``passes``, ...; the fractions are not used here).
        rng: source of the tie order of equal components; advanced by one shuffle.

    Returns:
        ``(held, report)``: the held-out nodes and a JSON-able report with ``pass`` (the pass kept), ``loss``,
        ``passes`` (loss of each pass), ``large_components`` (their counts), ``cuts`` (every cut made) and
        ``dropped`` (edges between the held-out set and the rest).
    """
    comps = [sorted(c) for c in nx.connected_components(g)]
    comps.sort(key=lambda c: c[0])
    tie = list(range(len(comps)))
    rng.shuffle(tie)
    info = []
    for c, r in zip(comps, tie):
        n_i, n_p = node_counts(c)
        e = g.subgraph(c).number_of_edges()
        info.append((c, np.array([n_i, n_p, e], dtype=float), r))
    large = [x for x in info if (x[1] > target).any()]
    small = [x for x in info if not (x[1] > target).any()]
    desc = lambda xs: sorted(xs, key=lambda x: (-(x[1][0] + x[1][1]), -x[1][2], x[2]))
    asc = lambda xs: sorted(xs, key=lambda x: ((x[1][0] + x[1][1]), x[1][2], x[2]))
    results = {}
    obj = _Objective(target, cfg)
    g_total = np.array([*node_counts(g.nodes), g.number_of_edges()], dtype=float)
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
        n_i, n_p = node_counts(held)
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


def assign_links(links: Iterable[Link], side: Callable[[Node], str]) -> dict[str, list[Link]]:
    """Links sorted into ``train``/``val``/``test`` by the part of their two nodes (``side(node)``, one of those
    names); a link whose ends are in two parts goes to ``dropped``. Order within a part is the input order."""
    out: dict[str, list[Link]] = {"train": [], "val": [], "test": [], "dropped": []}
    for i, p in links:
        a, b = side((ITEM, i)), side((PATENT, p))
        out[a if a == b else "dropped"].append((i, p))
    return out
