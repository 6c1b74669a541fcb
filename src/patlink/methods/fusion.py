"""Fusion of any number of methods' runs: min-max convex combination with weights tuned on validation, or
reciprocal rank fusion; and ``Hybrid``, patlink's BM25 + dense fusion.

``Fusion([a, b, …])`` ranks by ``s(d) = Σ_i w_i · minmax_q(s_i(d))`` (ranx ``wsum`` over min-max-normalised scores,
a document missing from a part's run gets 0 from it) with ``w`` tuned on VALIDATION data by exhaustive search of
the weight simplex (step 0.1; ties go to the weights closest to uniform), or by reciprocal rank fusion (Cormack,
Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual Rank Learning Methods", k = 60).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Literal

from patlink.methods.base import Direction, KnownLinks, Method, Validation, _paths
from patlink.retrieval.base import Run
from patlink.retrieval.fusion import fuse, tune_convex_weight, tune_convex_weights

__all__ = ["HYBRID_UNTUNED_WEIGHTS", "Fusion", "Hybrid"]

FusionHow = Literal["convex", "rrf"]

#: Weights (BM25, dense) of :class:`Hybrid` when no validation data tunes them. Chosen by measurement on the
#: bundled tasks (every direction and pool of pap2pat title+abstract and abstract→claims, and honeywell-vpm new
#: products): the only setting that is never below the better of its two parts there. See docs/api.md.
HYBRID_UNTUNED_WEIGHTS: tuple[float, float] = (0.5, 0.5)


class Fusion(Method):
    """Fuse the runs of several methods.

    Args:
        parts: two or more methods (any: BM25, dense, a trained linker, profile methods, other fusions).
        how: ``convex`` (min-max weighted sum) or ``rrf`` (reciprocal rank fusion, no weights).
        weights: fixed convex weights, one per part (summing to 1), or ``{direction: weights}``, or ``"stored"``
            (the BM25 weight a trained linker, the first part, stored after training: ``runs/NAME+bm25``; tuned
            like ``None`` when the linker stored none); ``None`` = tuned by :meth:`fit`.
        untuned: what a convex fusion with no fixed weights does when no validation data tuned it: ``"rrf"``, a
            tuple of weights, ``"validation"`` (refuse: :meth:`search` raises ``ValueError``) or ``None`` (equal
            weights).
        depth: documents each part retrieves per query before fusion.
        name: display name (default: the parts' names joined by ``+``).
        rrf_k: the RRF constant.

    Raises:
        ValueError: fewer than two parts, an unknown ``how``, or weights of the wrong length.
    """

    def __init__(self, parts: Sequence[Method], *, how: FusionHow = "convex",
                 weights: Sequence[float] | dict[str, Sequence[float]] | None = None,
                 untuned: str | Sequence[float] | None = None, depth: int = 1000, name: str | None = None,
                 rrf_k: int = 60):
        if len(parts) < 2:
            raise ValueError("a fusion needs at least two methods")
        if how not in ("convex", "rrf"):
            raise ValueError(f"unknown fusion {how!r}; use 'convex' or 'rrf'")
        self.parts = list(parts)
        self.how = how
        self._weights = weights
        for w in (weights.values() if isinstance(weights, dict) else [weights]):
            if w is not None and w != "stored" and len(w) != len(self.parts):
                raise ValueError(f"{len(w)} weights for {len(self.parts)} methods")
        if untuned is not None and untuned not in ("rrf", "validation") and len(untuned) != len(self.parts):
            raise ValueError(f"{len(untuned)} untuned weights for {len(self.parts)} methods")
        self.untuned = untuned
        self.depth, self.rrf_k = depth, rrf_k
        self._name = name
        self.tuned_on_validation = False

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return self._name or "+".join(p.name for p in self.parts)

    @property
    def weights(self) -> list[float] | None:
        """Convex weights used in :attr:`direction` (``None`` for RRF)."""
        if self.how == "rrf":
            return None
        w = self._fixed_weights()
        if w is None:
            u = self.untuned
            if u == "rrf":
                return None
            if u == "validation":
                raise ValueError(f"{self.name} fuses {len(self.parts)} runs with weights tuned on validation links, "
                                 "and none were given (fit() it on validation data, or fix its weights)")
            return list(u) if u is not None else [1.0 / len(self.parts)] * len(self.parts)
        return [float(x) for x in w]

    def _fixed_weights(self) -> list[float] | None:
        w = self._weights
        if w == "stored":
            stored = getattr(self.parts[0], "stored_fusion_alpha", lambda d: None)(self.direction)
            return None if stored is None else [stored, 1.0 - stored]
        if isinstance(w, dict):
            return w.get(self.direction)
        return w

    @property
    def alpha(self) -> float | None:
        """The first part's weight for two-part convex fusions (BM25 in ``hybrid``, the linker in
        ``linker+bm25``); ``None`` otherwise."""
        try:
            w = self.weights
        except ValueError:
            return None
        return w[0] if w is not None and len(w) == 2 else None

    def _how_now(self) -> str:
        return "rrf" if self.weights is None else "convex"

    def label(self) -> str:
        try:
            w = self.weights
        except ValueError:
            return f"{self.name}[untuned]"
        how = "rrf" if w is None else ("convex(α=%.2f)" % w[0] if len(w) == 2 else
                                       "convex(w=%s)" % ",".join(f"{x:.2f}" for x in w))
        return f"{self.name}[{how}]"

    def params(self) -> dict:
        try:
            w = self.weights
        except ValueError:
            w = None
        out = {self.name: {"weights": w, "tuned_on_validation": self.tuned_on_validation}}
        for p in self.parts:
            out.update(p.params())
        return out

    # ------------------------------------------------------------------ configuration
    @property
    def directions(self) -> tuple[Direction, ...]:
        return tuple(d for d in self.parts[0].directions if all(d in p.directions for p in self.parts))

    @property
    def tunable(self) -> bool:
        return (self.how == "convex" and self._fixed_weights() is None) or any(p.tunable for p in self.parts)

    def for_direction(self, direction: Direction) -> Fusion:
        m = super().for_direction(direction)
        m.parts = [p.for_direction(direction) for p in self.parts]
        return m

    def with_known(self, known: KnownLinks) -> Fusion:
        m = copy.copy(self)
        m.parts = [p.with_known(known) for p in self.parts]
        return m

    def trained_paths(self):
        return _paths(self.parts)

    def text_views(self) -> list[tuple]:
        return [v for p in self.parts for v in p.text_views()]

    def with_subfolder(self, sub: str) -> Fusion:
        m = copy.copy(self)
        m.parts = [p.with_subfolder(sub) for p in self.parts]
        return m

    def fit(self, validation: Validation | None) -> Fusion:
        """Tune the parts (each on ``validation``), then the convex weights on their validation runs (when they
        are not fixed). Returns a tuned copy; ``self`` when ``validation`` is empty."""
        if not validation:
            return self
        m = copy.copy(self)
        m.parts = [p.fit(validation) for p in self.parts]
        if self.how == "convex" and self._fixed_weights() is None:
            runs = []
            for p in m.parts:
                p.index(validation.documents)
                runs.append(p.search(validation.queries, validation.depth))
            m = m.fit_runs(runs, validation.qrels, validation.metric)
        return m

    def fit_runs(self, runs: Sequence[Run], qrels: dict, metric: str = "mrr") -> "Fusion":
        """A copy whose convex weights maximise ``metric`` of the fused ``runs`` (the parts' runs of VALIDATION
        queries, in order) on ``qrels``: the grid 0, 0.1, …, 1 for two parts (ties to 0.5), the simplex (step 0.1,
        ties to uniform) for more. For callers that already hold the parts' validation runs (the benchmark)."""
        if len(runs) != len(self.parts):
            raise ValueError(f"{len(runs)} runs for {len(self.parts)} methods")
        if len(runs) == 2:
            a = tune_convex_weight(runs[0], runs[1], qrels, metric)
            w = [a, 1 - a]
        else:
            w = tune_convex_weights(runs, qrels, metric)[0]
        m = copy.copy(self)
        m._weights = {m.direction: w}
        m.tuned_on_validation = True
        return m

    # ------------------------------------------------------------------ ranking
    def index(self, corpus: dict[str, str]) -> None:
        for p in self.parts:
            p.index(corpus)

    def runs(self, queries: dict[str, str], depth: int | None = None) -> list[Run]:
        """Each part's run of ``depth`` documents per query (default :attr:`depth`)."""
        return [p.search(queries, depth or self.depth) for p in self.parts]

    def fuse_runs(self, runs: Sequence[Run], top_k: int) -> Run:
        """The fused run of the parts' ``runs``, cut at ``top_k`` per query."""
        w = self.weights
        fused = fuse(list(runs), "rrf", rrf_k=self.rrf_k) if w is None else fuse(list(runs), "convex", w)
        return {q: dict(sorted(d.items(), key=lambda kv: -kv[1])[:top_k]) for q, d in fused.items()}

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        fused = self.fuse_runs(self.runs(queries, max(top_k, self.depth)), top_k)
        return {q: fused.get(q, {}) for q in queries}


class Hybrid(Fusion):
    """patlink's ``hybrid``: BM25 + zero-shot dense (bundled MiniLM), one meaning everywhere (eval, link, bench,
    cross-validation, the Python API).

    A min-max convex combination ``α·BM25 + (1-α)·dense`` whose weight α is tuned on validation MRR (grid
    0, 0.1, …, 1; ties to 0.5) when validation data is given to :meth:`fit`; without validation data the weights
    are :data:`HYBRID_UNTUNED_WEIGHTS`. ``how="rrf"`` gives reciprocal rank fusion instead (``hybrid-rrf``).

    Args:
        model: the dense model (sentence-transformers name or folder).
        windows: windows of 256 tokens read per text by the dense part (``hybrid@8``).
        how: ``convex`` (default) or ``rrf``.
        weights: fixed (BM25, dense) weights instead of tuning.
        device / memo: of the dense part (:class:`~patlink.methods.dense.Dense`): where its model runs, and the
            embedding memo it shares with the other methods of a command.
    """

    def __init__(self, model: str = "minilm", *, windows: int = 1, how: FusionHow = "convex",
                 weights: Sequence[float] | None = None, max_length: int = 256, depth: int = 1000,
                 show_progress: bool = False, device: str = "cpu", memo=None):
        from patlink.methods.dense import Dense
        from patlink.methods.lexical import BM25

        dense = Dense(model, windows=windows, max_length=max_length, show_progress=show_progress, device=device,
                      memo=memo)
        name = ("hybrid" if how == "convex" else "hybrid-rrf") + (f":{model}" if model != "minilm" else "") + (
            f"@{windows}" if windows > 1 else "")
        super().__init__([BM25(), dense], how=how, weights=weights, untuned=HYBRID_UNTUNED_WEIGHTS, depth=depth,
                         name=name)
