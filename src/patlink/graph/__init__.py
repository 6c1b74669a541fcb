"""The bipartite item–patent graph (networkx) and the splits of its links.

Modules, lowest first:

* :mod:`~patlink.graph.stats`: graph construction, component statistics;
* :mod:`~patlink.graph.split`: the :class:`Split` type and its :class:`SplitConfig` (no dataset knowledge);
* :mod:`~patlink.graph.carving`: the node-carving heuristic behind node-disjoint splits (bridge cutting,
  sweep cuts), after El Bouari & de Rassenfosse, "Product-Patent linkage prediction" (§3.1);
* :mod:`~patlink.graph.protocols`: the split protocols (``graph``, ``random``, ``new-product``, k-fold), each
  ``fn(dataset, *, seed=…, config=…)``, and :func:`split_dataset`;
* :mod:`~patlink.graph.split_io`: split folders (TSV + ``split.json``);
* :mod:`~patlink.graph.plot`: component and split-size plots (matplotlib, imported on use).
"""

from patlink.graph.protocols import (
    PROTOCOLS,
    graph_kfold_splits,
    graph_split,
    kfold_splits,
    new_product_split,
    random_split,
    split_dataset,
)
from patlink.graph.split import SPLIT_NAMES, Split, SplitConfig
from patlink.graph.split_io import read_split, write_split
from patlink.graph.stats import ITEM, PATENT, build_graph, component_table, graph_stats

__all__ = [
    "ITEM",
    "PATENT",
    "PROTOCOLS",
    "SPLIT_NAMES",
    "Split",
    "SplitConfig",
    "build_graph",
    "component_table",
    "graph_kfold_splits",
    "graph_split",
    "graph_stats",
    "kfold_splits",
    "new_product_split",
    "random_split",
    "read_split",
    "split_dataset",
    "write_split",
]
