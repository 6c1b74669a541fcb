"""patlink: link commercial products and papers to the patents that protect them.

Subpackages, in pipeline order: :mod:`patlink.data` (datasets, VPM parsing, BEIR), :mod:`patlink.graph`
(bipartite graph, graph-aware split), :mod:`patlink.retrieval` (BM25, dense, fusion), :mod:`patlink.models`
(dual encoders, adversaries), :mod:`patlink.losses`, :mod:`patlink.training`, :mod:`patlink.evaluation`,
:mod:`patlink.hydrate` (patent texts from public sources), :mod:`patlink.pipeline` (VPM pages and product web
pages → linkage data), :mod:`patlink.bench` (embedding benchmark), :mod:`patlink.classify` (CPC
classification), :mod:`patlink.cli`.
"""

__version__ = "0.1.0"
