"""patlink: link commercial products and papers to the patents that protect them.

The public API (everything the ``patlink`` command does is one of these calls)::

    import patlink as pl

    ds = pl.load_dataset("pap2pat")                      # or pl.load_beir(folder), or your own pl.Dataset
    splits = pl.resolve_splits(ds, seed=0)               # train / val / test links (one rule for eval and train)
    result = pl.evaluate(ds, [pl.BM25(), pl.Hybrid()], splits)   # both directions, bootstrap 95% CIs
    hits = pl.link(ds, pl.Hybrid(), "a lithium battery electrode coating", top_k=5)

    patents = pl.read_corpus("patents.parquet", id_field="number", text_fields="title,abstract")   # your own files
    idx = pl.build_index(patents, pl.Hybrid(), "idx/")   # later: pl.CorpusIndex.open("idx/")
    pl.write_links(idx.link_batches(pl.read_corpus("products.csv", side="items").as_dict()), "links.csv")

Subpackages, in pipeline order: :mod:`patlink.data` (datasets, VPM parsing, BEIR), :mod:`patlink.graph`
(bipartite graph, graph-aware split), :mod:`patlink.retrieval` (BM25 / dense engines, runs, fusion arithmetic),
:mod:`patlink.models` (dual encoders, adversaries), :mod:`patlink.methods` (every ranking method as one
interface), :mod:`patlink.losses`, :mod:`patlink.training`, :mod:`patlink.evaluation`, :mod:`patlink.hydrate`
(patent texts from public sources), :mod:`patlink.pipeline` (VPM pages and product web pages → linkage data),
:mod:`patlink.bench` (embedding benchmark), :mod:`patlink.classify` (CPC classification), :mod:`patlink.cli`.
Names are imported lazily, so ``import patlink`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    # data
    "Dataset": "patlink.data.dataset", "load_dataset": "patlink.data", "load_beir": "patlink.data.beir",
    "Corpus": "patlink.data.corpus", "read_corpus": "patlink.data.corpus",
    # splits
    "split_dataset": "patlink.graph", "resolve_splits": "patlink.evaluation.experiment",
    # methods
    "Method": "patlink.methods", "Validation": "patlink.methods", "KnownLinks": "patlink.methods",
    "BM25": "patlink.methods", "Dense": "patlink.methods", "Hybrid": "patlink.methods", "Fusion": "patlink.methods",
    "LinkerMethod": "patlink.methods", "ProfileMean": "patlink.methods", "ProfileBM25": "patlink.methods",
    "KNN": "patlink.methods", "KNNLinker": "patlink.methods", "ProfileLinker": "patlink.methods",
    "Popularity": "patlink.methods",
    # evaluation
    "evaluate": "patlink.evaluation.experiment", "cross_validate": "patlink.evaluation.experiment",
    "repeated_cross_validate": "patlink.evaluation.experiment",
    "EvaluationResult": "patlink.evaluation.results", "DirectionResult": "patlink.evaluation.results",
    "compare_reports": "patlink.evaluation.repeated", "load_report": "patlink.evaluation.repeated",
    # linking
    "link": "patlink.linking", "Candidate": "patlink.linking", "write_links": "patlink.linking",
    "DatasetIndex": "patlink.linking",
    # review of candidate links
    "DecisionStore": "patlink.review", "ReviewService": "patlink.review",
    # saved indexes
    "CorpusIndex": "patlink.index", "build_index": "patlink.index",
    # the paper's data chain: patent texts, summaries, exports
    "hydrate": "patlink.hydrate", "HydrateConfig": "patlink.hydrate", "HydrationStore": "patlink.hydrate",
    "open_texts": "patlink.hydrate", "PatentSummariser": "patlink.pipeline.summarise",
    "summarise_patents": "patlink.pipeline.summarise", "export_dataset": "patlink.data.export",
    # training and models
    "TrainConfig": "patlink.training.config", "train_linker": "patlink.training.trainer",
    "BiEncoderConfig": "patlink.training.biencoder", "train_biencoder": "patlink.training.biencoder",
    "BiEncoderMethod": "patlink.methods",
    "Linker": "patlink.models.linker",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patlink' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from patlink.data import load_dataset
    from patlink.data.beir import load_beir
    from patlink.data.corpus import Corpus, read_corpus
    from patlink.data.dataset import Dataset
    from patlink.data.export import export_dataset
    from patlink.hydrate import HydrateConfig, HydrationStore, hydrate, open_texts
    from patlink.pipeline.summarise import PatentSummariser, summarise_patents
    from patlink.methods import BiEncoderMethod
    from patlink.training.biencoder import BiEncoderConfig, train_biencoder
    from patlink.evaluation.experiment import cross_validate, evaluate, repeated_cross_validate, resolve_splits
    from patlink.evaluation.repeated import compare_reports, load_report
    from patlink.evaluation.results import DirectionResult, EvaluationResult
    from patlink.index import CorpusIndex, build_index
    from patlink.graph import split_dataset
    from patlink.linking import Candidate, DatasetIndex, link, write_links
    from patlink.review import DecisionStore, ReviewService
    from patlink.methods import (
        BM25, KNN, Dense, Fusion, Hybrid, KNNLinker, KnownLinks, LinkerMethod, Method, Popularity, ProfileBM25,
        ProfileLinker, ProfileMean, Validation,
    )
    from patlink.models.linker import Linker
    from patlink.training.config import TrainConfig
    from patlink.training.trainer import train_linker
