"""The one interface every ranking method implements, and the data a method may learn from.

A *method* ranks documents for queries in one *direction*: ``item2patent`` (items — products or papers — are the
queries, patents the documents) or ``patent2item``. Every method, from BM25 to a fusion of a trained linker with
two baselines, is used the same way (the interface of BEIR's ``search(corpus, queries, top_k)`` backends and of
ranx runs)::

    m = method.for_direction("item2patent")    # a configured copy; asymmetric models pick their encoders here
    m = m.fit(validation)                     # tune what it tunes (fusion weights, k), on VALIDATION data only
    m.index(corpus)                           # document id -> text
    run = m.search(queries, top_k=100)        # query id -> {document id: score}, best first

``for_direction`` and ``fit`` return new objects and leave the original untouched, so one method object can be
evaluated on many splits, folds and directions. Methods that represent patents by what is already known of them
(the profile and kNN methods of the new-product protocol) receive those known links with :meth:`Method.with_known`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from patlink.retrieval.base import Qrels, Run, top_k_run

if TYPE_CHECKING:  # pragma: no cover - typing only
    from patlink.data.dataset import Dataset

__all__ = ["DIRECTIONS", "Direction", "KnownLinks", "Method", "Validation", "resolve_views"]

Direction = Literal["item2patent", "patent2item"]
DIRECTIONS: tuple[Direction, Direction] = ("item2patent", "patent2item")


@dataclass
class Validation:
    """Validation data a method may tune on: queries ranked against a validation pool, and their qrels.

    Attributes:
        queries: query id -> text (items for ``item2patent``, patents for ``patent2item``).
        documents: document id -> text (the validation pool).
        qrels: query id -> {relevant document id: grade} (ranx/TREC qrels).
        metric: the metric maximised (a name of :func:`patlink.retrieval.measures.mean_metric`, e.g. ``mrr``).
        depth: documents retrieved per query while tuning.

    Never build one from test links: tuning on the evaluated split inflates every number it touches.
    """

    queries: dict[str, str]
    documents: dict[str, str]
    qrels: Qrels
    metric: str = "mrr"
    depth: int = 1000

    def __post_init__(self) -> None:
        self.queries = {q: self.queries[q] for q in self.qrels if q in self.queries}

    def __bool__(self) -> bool:
        return bool(self.qrels) and bool(self.queries) and bool(self.documents)


@dataclass
class KnownLinks:
    """Links already known when a method ranks (the training links of an evaluation, every link when linking).

    Methods that represent a patent by its known items (``profile-*``, ``knn``, ``popularity``, ``knn-linker``)
    build their patent profiles from these; text methods ignore them. Profiles are built once per
    :class:`KnownLinks` and shared by every part of a fusion.

    Attributes:
        dataset: the dataset the links belong to.
        links: ``(item_id, patent_id)`` pairs.
        profile_config: :class:`patlink.retrieval.profiles.ProfileConfig` (``None`` = defaults).
        extra_patent_texts: more patents with text in the pool (e.g. distractors).
    """

    dataset: Dataset
    links: Sequence[tuple[str, str]]
    profile_config: object = None
    extra_patent_texts: dict[str, str] | None = None
    _profiles: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def profiles(self):
        """The :class:`patlink.retrieval.profiles.PatentProfiles` of these links (built on first use)."""
        if self._profiles is None:
            from patlink.retrieval.profiles import PatentProfiles

            self._profiles = PatentProfiles(self.dataset, self.links, self.profile_config, self.extra_patent_texts)
        return self._profiles


class Method(ABC):
    """A way of ranking patents for items (and items for patents). See the module docstring for the protocol.

    Attributes:
        direction: the direction this copy ranks in (``item2patent`` until :meth:`for_direction` says otherwise).
    """

    direction: Direction = "item2patent"

    # ------------------------------------------------------------------ identity
    @property
    @abstractmethod
    def name(self) -> str:
        """Canonical short name (``bm25``, ``dense:minilm@8``, ``hybrid``, ``linker:NAME+bm25`` …)."""

    def label(self) -> str:
        """The name with what was tuned (``hybrid[convex(α=0.40)]``, ``knn(k=20)``); defaults to :attr:`name`."""
        return self.name

    def params(self) -> dict:
        """Tuned parameters of this method and its parts, ``{part name: {param: value}}`` (empty when none)."""
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label()}>"

    # ------------------------------------------------------------------ configuration
    @property
    def directions(self) -> tuple[Direction, ...]:
        """Directions this method can rank in."""
        return DIRECTIONS

    @property
    def tunable(self) -> bool:
        """True when :meth:`fit` has something to tune on validation data."""
        return False

    def for_direction(self, direction: Direction) -> Method:
        """A copy configured to rank in ``direction``. Raises ``ValueError`` for an unknown or unsupported one."""
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}; use item2patent or patent2item")
        if direction not in self.directions:
            raise ValueError(f"{self.name} cannot rank {direction}")
        m = copy.copy(self)
        m.direction = direction
        m._reset()
        return m

    def _reset(self) -> None:
        """Drop index state after a copy (subclasses holding an index override it)."""

    def fit(self, validation: Validation | None) -> Method:
        """A copy tuned on ``validation`` (never test data); the method itself when it tunes nothing or
        ``validation`` is empty. Untuned methods use their documented defaults."""
        return self

    def with_known(self, known: KnownLinks) -> Method:
        """A copy that uses ``known`` links (profile and kNN methods); text methods return themselves."""
        return self

    def trained_paths(self) -> list[Path]:
        """Folders of the trained models this method uses (for the leakage check and cross-validation)."""
        return []

    def text_views(self) -> list[tuple]:
        """``(item_view, patent_view)`` each trained model of this method was trained on (``None`` sides when not
        recorded); empty for untrained methods."""
        return []

    def with_subfolder(self, sub: str) -> Method:
        """This method with every trained model folder ``P`` replaced by ``P/sub`` (cross-validation:
        ``patlink train --folds K`` writes ``P/fold{f}``; ``--repeats R`` writes ``P/seed{s}/fold{f}``).

        Raises:
            ValueError: a trained folder that has no ``sub`` and is not itself a trained model.
        """
        return self

    # ------------------------------------------------------------------ ranking
    @abstractmethod
    def index(self, corpus: dict[str, str]) -> None:
        """Index the documents (id -> text). Raises ``ValueError`` on an empty corpus."""

    @abstractmethod
    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        """The ``top_k`` best documents of the indexed corpus for each query: ``{query id: {doc id: score}}``,
        higher is better; every query is a key (possibly with no document)."""

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        """``(query_ids, doc_ids, scores)`` with ``scores`` of shape ``(n_queries, n_docs)`` float32 over the whole
        indexed corpus. Raises ``NotImplementedError`` for methods that only rank (fusions)."""
        raise NotImplementedError(f"{self.name} has no score matrix; use search()")


class EngineMethod(Method):
    """A method that delegates to one retrieval engine of :mod:`patlink.retrieval` (``index`` / ``search`` /
    ``score_matrix``), built fresh by :meth:`_make_engine` at each :meth:`index`."""

    _engine = None

    def _make_engine(self):
        raise NotImplementedError

    def _reset(self) -> None:
        self._engine = None

    def index(self, corpus: dict[str, str]) -> None:
        _check_corpus(corpus)
        self._engine = self._make_engine()
        self._engine.index(corpus)

    @property
    def engine(self):
        """The indexed engine. Raises ``RuntimeError`` before :meth:`index`."""
        if self._engine is None:
            raise RuntimeError("call index() first")
        return self._engine

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        return self.engine.search(queries, top_k)

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        return self.engine.score_matrix(queries)


def _matrix_search(method: Method, queries: dict[str, str], top_k: int) -> Run:
    """``search`` through :meth:`Method.score_matrix` (methods that score every document)."""
    qids, dids, s = method.score_matrix(queries)
    return top_k_run(qids, dids, s, top_k)


def _check_corpus(corpus: dict[str, str]) -> None:
    if not corpus:
        raise ValueError("cannot index an empty corpus")


def _paths(parts: Iterable[Method]) -> list[Path]:
    return [p for m in parts for p in m.trained_paths()]


def resolve_views(methods: Iterable[Method], item_view=None, patent_view=None) -> tuple:
    """The text views to read a dataset with for ``methods``: the views their trained models were trained on when
    none is asked (``None`` sides stay the dataset's defaults), the asked ones otherwise — with a ``UserWarning``
    when they differ from a model's training views (:meth:`patlink.models.config.LinkerSettings.check_views`).

    Returns:
        ``(item_view, patent_view)`` for :meth:`patlink.data.dataset.Dataset.with_views`.

    Raises:
        ValueError: two trained models recorded different views and none was asked.
    """
    from patlink.models.config import LinkerSettings, normalize_view

    out = [normalize_view(item_view), normalize_view(patent_view)]
    chosen: list[tuple | None] = [None, None]
    for m in methods:
        for recorded in m.text_views():
            eff = LinkerSettings(backbone="", item_view=recorded[0], patent_view=recorded[1]).check_views(
                item_view, patent_view)
            for k in (0, 1):
                if out[k] is not None or eff[k] is None:
                    continue
                if chosen[k] is not None and chosen[k] != eff[k]:
                    side = ("item", "patent")[k]
                    raise ValueError(f"the trained models were trained on different {side} views "
                                     f"({','.join(chosen[k])} vs {','.join(eff[k])}): give --{side}-view")
                chosen[k] = eff[k]
    return tuple(out[k] if out[k] is not None else chosen[k] for k in (0, 1))
