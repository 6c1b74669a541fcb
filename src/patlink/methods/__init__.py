"""Ranking methods: one small interface (:class:`Method`) for every way patlink ranks patents for items and items
for patents — BM25, zero-shot dense, a trained linker or fine-tuned bi-encoder, patent-profile and kNN methods, and
fusions of any of them.

>>> from patlink.methods import BM25, Hybrid
>>> m = BM25()
>>> m.index({"p1": "a barcode scanner with a laser", "p2": "a gas turbine blade"})
>>> list(m.search({"q": "laser barcode reader"}, top_k=1)["q"])
['p1']
"""

from patlink.methods.base import DIRECTIONS, Direction, KnownLinks, Method, Validation, resolve_views
from patlink.methods.biencoder import BiEncoderMethod, is_biencoder_dir
from patlink.methods.dense import Dense
from patlink.methods.fusion import HYBRID_UNTUNED_WEIGHTS, Fusion, Hybrid
from patlink.methods.lexical import BM25
from patlink.methods.linker import LinkerMethod, is_linker_dir
from patlink.methods.profile import (
    KNN,
    KNNLinker,
    Popularity,
    ProfileBM25,
    ProfileLeaf,
    ProfileLinker,
    ProfileMean,
    for_new_products,
)

__all__ = [
    "BM25",
    "DIRECTIONS",
    "HYBRID_UNTUNED_WEIGHTS",
    "KNN",
    "BiEncoderMethod",
    "Dense",
    "Direction",
    "Fusion",
    "Hybrid",
    "KNNLinker",
    "KnownLinks",
    "LinkerMethod",
    "Method",
    "Popularity",
    "ProfileBM25",
    "ProfileLeaf",
    "ProfileLinker",
    "ProfileMean",
    "Validation",
    "for_new_products",
    "is_biencoder_dir",
    "is_linker_dir",
    "resolve_views",
]
