"""The :class:`Split` type: train/val/test links of one split of a dataset, and the :class:`SplitConfig` it used.

A split is made by a protocol (:mod:`patlink.graph.protocols`: ``graph``, ``random``, ``new-product``, and their
k-fold versions), written to and read from a folder by :mod:`patlink.graph.split_io`; the node carving behind the
``graph`` protocol is :mod:`patlink.graph.carving`. This module knows nothing about any dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields

__all__ = ["SPLIT_NAMES", "Link", "Split", "SplitConfig"]

#: The three parts of every split, in this order; a split also records its ``dropped`` links.
SPLIT_NAMES = ("train", "val", "test")
#: An ``(item_id, patent_id)`` link.
Link = tuple[str, str]


@dataclass(frozen=True)
class SplitConfig:
    """Settings of a split.

    Attributes:
        val_frac / test_frac: target share of items, of patents and of edges held out for val / test (default
            15% each, i.e. 70/15/15). Train gets the rest minus dropped edges. The k-fold protocols hold out
            ``1/k`` for test and record ``test_frac = 1/k``.
        seed: seed of every random choice (tie order of equal components, Fiedler solver, permutations).
        weights: weights of the (items, patents, edges) terms of the carving loss (:mod:`patlink.graph.carving`).
        drop_weight: penalty per dropped edge, in units of ``1 / target edges``.
        max_bridges: at most this many bridges are scored per cut (those with the largest smaller side first).
        max_cuts_per_component: at most this many cuts (bridge or sweep) per large component and split.
        sweep_fallback: also score the fallback sweep cuts (kept when they beat every bridge cut).
        spectral_sweep: include the Fiedler-vector order among the sweep orders.
        growth_starts: number of seeded start nodes of greedy region growing, the other sweep orders.
        polish_rounds: rounds of single-component toggling after the greedy assignment.
        passes: which of ``"top-down"``, ``"bottom-up"`` to run; the best is kept.
        representative: every large component gives about its own share (``frac × its counts``) to the
            held-out split, so no large cluster sits wholly in train. ``False`` scores every cut against the
            global loss only (which on ``honeywell-vpm`` leaves the biggest component almost entirely in train).

    Raises:
        ValueError: a fraction outside ``[0, 1)``, ``val_frac + test_frac >= 1``, bad weights or passes, or a
            negative count/penalty.
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

    @classmethod
    def from_json(cls, obj: Mapping) -> "SplitConfig":
        """Inverse of ``dataclasses.asdict`` after a JSON round trip (lists back to tuples).

        Raises:
            ValueError: an unknown field, or a value the constructor rejects.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ValueError(f"unknown split config field(s) {unknown}; known: {', '.join(sorted(known))}")
        kw = dict(obj)
        for name in ("weights", "passes"):
            if name in kw:
                kw[name] = tuple(kw[name])
        return cls(**kw)


def _counts(links: Iterable[Link]) -> dict[str, int]:
    links = list(links)
    return {"items": len({i for i, _ in links}), "patents": len({p for _, p in links}), "edges": len(links)}


#: Keys of :meth:`Split.to_json` that are not part of :attr:`Split.info`.
_OWN_KEYS = ("protocol", "seed", "config", "counts", "dropped_edges")


@dataclass(frozen=True)
class Split:
    """A train/val/test split of item–patent links (frozen: fields cannot be reassigned; the lists are not copied).

    Attributes:
        train / val / test: sorted ``(item_id, patent_id)`` links of each part.
        dropped: links cut by a graph split (their two ends are in different parts); empty otherwise.
        protocol: how the split was made: ``"graph"`` (node-disjoint carving), ``"random"`` (seeded permutation of
            one-to-one pairs), ``"new-product"`` (split by item), ``"unknown"`` (read from bare TSV files).
        seed: the seed used (``None`` when unknown).
        config: the :class:`SplitConfig` used (``None`` when unknown).
        info: JSON-able details of the protocol: ``dataset``, ``totals``, ``targets`` per part, ``loss`` and
            ``carve`` (graph carving reports), ``lost_nodes``, ``unseen_patents``, ``fold``/``folds`` ...
    """

    train: list[Link]
    val: list[Link]
    test: list[Link]
    dropped: list[Link] = field(default_factory=list)
    protocol: str = "graph"
    seed: int | None = 0
    config: SplitConfig | None = field(default_factory=SplitConfig)
    info: dict = field(default_factory=dict)

    def links(self, name: str) -> list[Link]:
        """Links of part ``name`` (``train``, ``val``, ``test`` or ``dropped``). Raises ``KeyError``."""
        if name not in (*SPLIT_NAMES, "dropped"):
            raise KeyError(f"unknown split {name!r}; expected one of train, val, test, dropped")
        return getattr(self, name)

    def parts(self) -> dict[str, list[Link]]:
        """``{"train": [...], "val": [...], "test": [...]}`` (the lists themselves, not copies)."""
        return {name: getattr(self, name) for name in SPLIT_NAMES}

    def stats(self) -> dict[str, dict[str, int]]:
        """Per part ``{"items", "patents", "edges"}`` (distinct ids with at least one link in the part)."""
        return {name: _counts(getattr(self, name)) for name in SPLIT_NAMES}

    def to_json(self) -> dict:
        """The content of ``split.json``: protocol, seed, config, per-part counts, dropped edges, and :attr:`info`.

        The links themselves are not included (they go to TSV files, :func:`patlink.graph.split_io.write_split`).
        """
        return {
            "protocol": self.protocol,
            "seed": self.seed,
            "config": asdict(self.config) if self.config is not None else None,
            "counts": self.stats(),
            "dropped_edges": len(self.dropped),
            **self.info,
        }

    @classmethod
    def from_json(cls, meta: Mapping, parts: Mapping[str, list[Link]]) -> "Split":
        """Rebuild a split from :meth:`to_json` output and its links.

        Args:
            meta: a ``split.json`` object. Files written before the ``protocol`` key replaced ``method`` are read
                too (their ``method`` names the protocol); ``counts``, ``dropped_edges`` and any ``upstream`` key
                are derived or dataset facts and are not kept.
            parts: ``train``, ``val``, ``test`` link lists and optionally ``dropped``.

        Raises:
            KeyError: a part is missing. ValueError: a bad ``config``.
        """
        meta = dict(meta)
        protocol = meta.pop("method", None) or meta.get("protocol") or "unknown"
        cfg = meta.get("config")
        info = {k: v for k, v in meta.items() if k not in (*_OWN_KEYS, "upstream")}
        return cls([tuple(x) for x in parts["train"]], [tuple(x) for x in parts["val"]],
                   [tuple(x) for x in parts["test"]], [tuple(x) for x in parts.get("dropped", [])],
                   protocol, meta.get("seed"), SplitConfig.from_json(cfg) if cfg is not None else None, info)


def __getattr__(name: str):
    """Names that lived in this module before it was split up, kept for older importers (see
    :mod:`patlink.graph._compat`); new code imports them from :mod:`patlink.graph`."""
    from patlink.graph import _compat

    if name in _compat.__all__:
        return getattr(_compat, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
