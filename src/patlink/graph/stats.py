"""Bipartite graph construction and statistics (El Bouari & de Rassenfosse, "Product-Patent linkage prediction",
§3.1, Fig. 1).

Nodes are namespaced so an item and a patent with the same id never collide: ``("item", id)`` and
``("patent", id)``; each node carries ``bipartite=0`` (item) or ``1`` (patent), as networkx's bipartite
module expects.
"""

from __future__ import annotations

from typing import Iterable

import networkx as nx
import numpy as np

__all__ = ["build_graph", "graph_stats", "component_table", "ITEM", "PATENT"]

ITEM, PATENT = "item", "patent"


def build_graph(links: Iterable[tuple[str, str]], items: Iterable[str] = (), patents: Iterable[str] = ()) -> nx.Graph:
    """Undirected bipartite graph of links; ``items``/``patents`` add isolated nodes too."""
    g = nx.Graph()
    g.add_nodes_from(((ITEM, i) for i in items), bipartite=0)
    g.add_nodes_from(((PATENT, p) for p in patents), bipartite=1)
    for i, p in links:
        g.add_node((ITEM, i), bipartite=0)
        g.add_node((PATENT, p), bipartite=1)
        g.add_edge((ITEM, i), (PATENT, p))
    return g


def component_table(g: nx.Graph) -> list[dict]:
    """One row per connected component, largest first: ``items``, ``patents``, ``edges``, ``density``.

    ``density`` is edges / (items × patents), the bipartite density (1.0 for a complete bipartite component).
    """
    rows = []
    for comp in nx.connected_components(g):
        n_i = sum(1 for n in comp if n[0] == ITEM)
        n_p = len(comp) - n_i
        e = g.subgraph(comp).number_of_edges()
        rows.append({"items": n_i, "patents": n_p, "edges": e,
                     "density": e / (n_i * n_p) if n_i and n_p else 0.0})
    rows.sort(key=lambda r: (-(r["items"] + r["patents"]), -r["edges"]))
    return rows


def graph_stats(links: list[tuple[str, str]], n_items: int | None = None, n_patents: int | None = None) -> dict:
    """Statistics of the bipartite graph of ``links``.

    Returns a JSON-able dict: ``items``, ``patents``, ``edges`` (unique links), ``density`` (edges / items ×
    patents), ``components``, ``largest_components`` (top 5 rows of :func:`component_table`),
    ``share_nodes_top2`` / ``share_edges_top2`` (the paper's "two outliers hold 61% of nodes, 83% of edges"),
    item and patent degree summaries (mean, median, max). ``n_items``/``n_patents`` count isolated nodes too.
    """
    links = sorted(set(links))
    g = build_graph(links)
    comps = component_table(g)
    items = {i for i, _ in links}
    pats = {p for _, p in links}
    n_i = max(n_items or 0, len(items))
    n_p = max(n_patents or 0, len(pats))
    deg_i = np.array([g.degree((ITEM, i)) for i in items]) if items else np.zeros(1)
    deg_p = np.array([g.degree((PATENT, p)) for p in pats]) if pats else np.zeros(1)
    top2 = comps[:2]
    n_nodes = max(1, g.number_of_nodes())
    return {
        "items": n_i,
        "patents": n_p,
        "edges": len(links),
        "density": len(links) / (n_i * n_p) if n_i and n_p else 0.0,
        "components": len(comps),
        "largest_components": comps[:5],
        "share_nodes_top2": sum(c["items"] + c["patents"] for c in top2) / n_nodes,
        "share_edges_top2": sum(c["edges"] for c in top2) / max(1, len(links)),
        "item_degree": {"mean": float(deg_i.mean()), "median": float(np.median(deg_i)), "max": int(deg_i.max())},
        "patent_degree": {"mean": float(deg_p.mean()), "median": float(np.median(deg_p)), "max": int(deg_p.max())},
    }
