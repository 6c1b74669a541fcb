"""The split API as it was when ``patlink.graph.split`` held everything, for importers not yet moved.

``from patlink.graph.split import read_split, split_dataset, kfold_splits, …`` still works and gets these: the
old signatures (positional ``seed`` and ``config``, ``val_frac`` / ``test_frac`` / ``dataset`` keywords) and the
old ``read_split`` that returns the ``{"train", "val", "test"}`` dict. Each is a thin wrapper of the current
function in :mod:`patlink.graph` (:mod:`~patlink.graph.protocols`, :mod:`~patlink.graph.split_io`), which new code
should import instead.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from patlink.graph import protocols, split_io
from patlink.graph.split import Link, Split, SplitConfig

__all__ = ["graph_kfold_splits", "graph_split", "kfold_splits", "new_product_split", "random_split", "read_split",
           "split_dataset", "write_split"]

write_split = split_io.write_split


def _named(sp: Split, dataset: str | None) -> Split:
    return sp if dataset is None else replace(sp, info={**sp.info, "dataset": dataset})


def graph_split(links, config: SplitConfig | None = None, dataset: str | None = None) -> Split:
    """Old signature of :func:`patlink.graph.graph_split` (``dataset`` = the name recorded in ``info``)."""
    return _named(protocols.graph_split(links, config=config), dataset)


def random_split(links, config: SplitConfig | None = None, dataset: str | None = None) -> Split:
    """Old signature of :func:`patlink.graph.random_split`."""
    return _named(protocols.random_split(links, config=config), dataset)


def graph_kfold_splits(links, k: int = 5, config: SplitConfig | None = None,
                       dataset: str | None = None) -> list[Split]:
    """Old signature of :func:`patlink.graph.graph_kfold_splits`."""
    return [_named(sp, dataset) for sp in protocols.graph_kfold_splits(links, k=k, config=config)]


def new_product_split(ds_or_links, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0,
                      config: SplitConfig | None = None) -> Split:
    """Old signature of :func:`patlink.graph.new_product_split` (``config`` wins over the fractions and seed)."""
    return protocols.new_product_split(
        ds_or_links, config=config or SplitConfig(val_frac=val_frac, test_frac=test_frac, seed=seed))


def read_split(split_dir: str | Path) -> dict[str, list[Link]]:
    """``{"train": [...], "val": [...], "test": [...]}`` of a split folder (``patlink.graph.read_split(d).parts()``)."""
    return split_io.read_split(split_dir).parts()


def kfold_splits(ds_or_links, k: int = 5, seed: int = 0, val_frac: float = 0.15,
                 protocol: str = "graph") -> list[Split]:
    """Old signature of :func:`patlink.graph.kfold_splits` (positional ``seed``, ``val_frac`` keyword)."""
    return protocols.kfold_splits(ds_or_links, k=k, seed=seed, protocol=protocol,  # type: ignore[arg-type]
                                  config=_kfold_config(val_frac))


def _kfold_config(val_frac: float) -> SplitConfig:
    # test_frac is ignored by the k-fold protocols; 0 keeps any val_frac in [0, 1) constructible, so an
    # out-of-range val_frac is reported by kfold_splits' own message
    return SplitConfig(val_frac=val_frac, test_frac=0.0)


def split_dataset(ds, seed: int | None = None, config: SplitConfig | None = None,
                  protocol: str = "graph") -> Split:
    """Old signature of :func:`patlink.graph.split_dataset` (positional ``seed``)."""
    return protocols.split_dataset(ds, protocol=protocol, seed=seed, config=config)  # type: ignore[arg-type]
