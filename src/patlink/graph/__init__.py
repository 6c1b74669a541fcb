"""The bipartite item–patent graph (networkx): statistics, component plots and the graph-aware split (§3.1)."""
