"""Hard-negative mining for training retrievers: the candidates a teacher ranks highest for each training query,
filtered or sampled around the score of the query's positive.

A *teacher* — any :class:`patlink.methods.Method` (``BM25()``, ``Dense()``, a trained ``LinkerMethod``) — indexes
the documents and ranks each query to a depth; the query's known positives are removed from the candidates, and a
strategy picks the negatives:

``topk``
    The highest-scoring candidates: the naive hard negatives, known to contain false negatives (relevant documents
    nobody linked).
``percpos``
    Positive-aware filtering, "TopK-PercPos" of Moreira et al., "NV-Retriever: Improving text embedding models with
    effective hard-negative mining" (2024): a candidate scoring above ``margin`` × the positive's score is dropped as
    a likely false negative (the paper uses 95 %), then the highest-scoring remaining candidates are taken.
``simans``
    Zhou et al., "SimANS: Simple Ambiguous Negatives Sampling for Dense Text Retrieval" (EMNLP 2022): negatives are
    sampled without replacement among the candidates with probability ∝ ``exp(−a (s − s⁺ − b)²)``, so candidates
    scored near the positive ("ambiguous") are drawn most, the much-higher (likely false negatives) and much-lower
    (uninformative) ones least.
``random``
    Uniform over every non-positive document (the teacher is not used): the baseline at the same budget.

::

    from patlink.methods import BM25
    from patlink.training.mining import mine_hard_negatives

    neg = mine_hard_negatives(queries, docs, positives, scorer=BM25(), depth=100, n_negatives=4)
    neg["q1"]          # ['d7', 'd3', 'd12', 'd40'], best first
    neg.report.summary()

Scores and scales (``percpos``, ``simans``). The anchor ``s⁺`` is the score of the query's positive; with several
positives it is the LOWEST positive score (the weakest known positive: for ``percpos`` the strictest threshold, so
no candidate scoring like a known positive survives). A positive ranked below ``depth`` is scored directly through
:meth:`~patlink.methods.base.Method.score_matrix` where the teacher has one (BM25, dense, linker); otherwise
(fusions) the query is skipped and reported. ``percpos`` compares ``s`` with ``margin · s⁺``, which is the same as
comparing the ratio ``s / s⁺`` with ``margin``: it is meaningful for any positive anchor — unbounded non-negative
BM25 scores as well as cosines — and a query whose anchor is ``<= 0`` is skipped and reported. ``simans`` depends
on the scale of score differences, so: when every score of the run (candidates and anchors) lies in [−1, 1]
(cosines: dense, linker, bi-encoder; fusions of min-max-normalised scores) the raw scores are used, as in the
paper; otherwise the scores must be non-negative (BM25, not comparable across queries) and each query's scores are
divided by its anchor (``s / s⁺``, so the positive sits at 1), queries with anchor 0 skipped; scores that are
unbounded AND negative raise ``ValueError``. :attr:`MiningReport.scale` says which was used.

SimANS defaults ``a = 0.5, b = 0`` are those of the authors' released code (SimXNS, ``TraditionDataset``). Their
scores are inner products of an unnormalised dense retriever; on cosines (differences within [−2, 2]) ``a = 0.5``
gives weights between ``e^-2 ≈ 0.14`` and 1, a broad distribution, and a larger ``a`` concentrates it near the
positive.

Determinism: each query's draws come from a generator seeded by ``(seed, CRC-32 of the query id)``, so a query's
negatives do not depend on the other queries or their order; ties in score keep the teacher's order.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from patlink.methods.base import Method

__all__ = ["STRATEGIES", "Candidates", "MiningReport", "MiningResult", "mine_hard_negatives", "score_candidates",
           "select_negatives", "simans_weights"]

STRATEGIES = ("topk", "percpos", "simans", "random")
SIMANS_A = 0.5   # the authors' code default (SimXNS TraditionDataset)
SIMANS_B = 0.0


@dataclass(frozen=True, eq=False)
class Candidates:
    """One query's non-positive candidates, as the teacher ranked them.

    Attributes:
        doc_ids: the candidates, best first (the top ``depth`` documents minus the query's positives; ties keep the
            teacher's order).
        scores: ``(len(doc_ids),)`` float64 teacher scores, non-increasing.
        positive_score: the anchor ``s⁺``: the lowest score of the query's positives that are documents, ``None``
            when the query has no positive among the documents or the teacher cannot score one below ``depth``.
        scored_directly: the anchor came from :meth:`~patlink.methods.base.Method.score_matrix` because a positive
            was not retrieved within ``depth``.
        why: why ``positive_score`` is ``None`` (empty otherwise).
    """

    doc_ids: list[str]
    scores: np.ndarray
    positive_score: float | None = None
    scored_directly: bool = False
    why: str = ""


@dataclass(frozen=True)
class MiningReport:
    """What a mining run did.

    Attributes:
        strategy / n_negatives / depth: as asked.
        counts: query id → negatives returned (every query).
        skipped: query id → why the strategy could not apply to it (it got no negative): no positive among the
            documents, a positive the teacher could not score, a non-positive anchor.
        scored_directly: queries whose anchor positive was ranked below ``depth`` and scored directly.
        dropped_above_margin: ``percpos``: candidates dropped for scoring above ``margin`` × the anchor (before the
            top ``n_negatives`` were taken); 0 for the other strategies.
        scale: ``simans``: ``raw`` (cosine-like scores used as they are) or ``ratio`` (scores divided by the
            anchor); ``None`` for the other strategies.
    """

    strategy: str
    n_negatives: int
    depth: int
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    scored_directly: tuple[str, ...] = ()
    dropped_above_margin: int = 0
    scale: str | None = None

    @property
    def full(self) -> int:
        """Queries that got all ``n_negatives``."""
        return sum(1 for n in self.counts.values() if n >= self.n_negatives)

    @property
    def short(self) -> dict[str, int]:
        """Queries (not skipped) whose candidates ran out: query id → the fewer negatives they got."""
        return {q: n for q, n in self.counts.items() if n < self.n_negatives and q not in self.skipped}

    def summary(self) -> str:
        """One line: ``percpos: 48/50 queries with 4 negatives, 1 short, 1 skipped …``."""
        parts = [f"{self.strategy}: {self.full}/{len(self.counts)} queries with {self.n_negatives} negatives",
                 f"{len(self.short)} short", f"{len(self.skipped)} skipped"]
        if self.scored_directly:
            parts.append(f"{len(self.scored_directly)} positives scored below depth {self.depth}")
        if self.strategy == "percpos":
            parts.append(f"{self.dropped_above_margin} candidates dropped above the margin")
        if self.scale:
            parts.append(f"scale {self.scale}")
        return ", ".join(parts)

    def to_dict(self, names: Sequence[str] | Mapping[str, str] | None = None, examples: int = 5) -> dict:
        """The report in a run's records (``run.json``, ``metrics.json``): counts, not one entry per query.

        Args:
            names: the display id of each query id (a mapping, or a sequence indexed by the integer query ids of
                :class:`patlink.training.negatives.MinedNegatives`); ``None``: the query ids as they are.
            examples: skipped queries listed with their reason (the first, by query id).

        Returns:
            ``{"strategy", "n_negatives", "depth", "queries", "full", "short", "skipped", "kept",
            "dropped_above_margin", "scored_directly", "scale", "skipped_examples", "summary"}``: ``kept`` is the
            number of negatives kept over all queries, ``full`` / ``short`` / ``skipped`` count queries
            (all ``n_negatives``, fewer, none), ``summary`` is :meth:`summary`.
        """
        def name(q: str) -> str:
            if names is None:
                return q
            return str(names[q] if isinstance(names, Mapping) else names[int(q)])

        return {"strategy": self.strategy, "n_negatives": self.n_negatives, "depth": self.depth,
                "queries": len(self.counts), "full": self.full, "short": len(self.short), "skipped": len(self.skipped),
                "kept": int(sum(self.counts.values())), "dropped_above_margin": int(self.dropped_above_margin),
                "scored_directly": len(self.scored_directly), "scale": self.scale,
                "skipped_examples": {name(q): self.skipped[q] for q in sorted(self.skipped)[:examples]},
                "summary": self.summary()}


class MiningResult(dict):
    """Query id → negative document ids (a plain ``dict[str, list[str]]``: every query is a key, best first for
    ``topk``/``percpos``, in draw order for ``simans``/``random``), with the run's :class:`MiningReport` as
    :attr:`report`."""

    report: MiningReport

    def __init__(self, negatives: Mapping[str, list[str]], report: MiningReport):
        super().__init__(negatives)
        self.report = report

    def __reduce__(self):
        return type(self), (dict(self), self.report)


# ---------------------------------------------------------------------------------------------- the one call
def mine_hard_negatives(queries: Mapping[str, str], docs: Mapping[str, str], positives: Mapping[str, set[str]], *,
                        scorer, depth: int = 100, n_negatives: int = 1, strategy: str = "percpos",
                        margin: float = 0.95, seed: int = 0, a: float = SIMANS_A, b: float = SIMANS_B
                        ) -> dict[str, list[str]]:
    """Mine ``n_negatives`` hard negatives per query with ``strategy`` (module docstring).

    Args:
        queries: query id → text. docs: document id → text (the pool negatives come from).
        positives: query id → its known positive document ids (every one; none of them is ever returned). A query
            absent here has no positive.
        scorer: the teacher, a :class:`~patlink.methods.base.Method`; it ranks in its own direction
            (``scorer.direction``: pass ``LinkerMethod(p).for_direction("patent2item")`` for patent queries) on a
            copy (:meth:`~patlink.methods.base.Method.for_direction`), so the object given is not re-indexed. May be
            ``None`` for ``strategy="random"``.
        depth: documents retrieved per query (positives included) — the candidates are the non-positives among
            them.
        n_negatives: negatives per query (>= 1); a query with fewer candidates gets fewer.
        strategy: ``topk`` | ``percpos`` | ``simans`` | ``random``.
        margin: ``percpos``: candidates scoring above ``margin`` × the anchor positive's score are dropped, in
            (0, 1] (NV-Retriever: 0.95).
        seed: seeds ``simans`` and ``random`` (>= 0); ``topk``/``percpos`` are deterministic.
        a, b: ``simans``: ``p ∝ exp(−a (s − s⁺ − b)²)``, ``a > 0`` (the density), ``b`` the offset of the peak from
            the positive's score.

    Returns:
        A :class:`MiningResult`: a ``dict`` query id → negative ids (every query of ``queries`` is a key,
        ``[]`` for skipped queries), with :attr:`MiningResult.report` (counts, skipped queries and why, anchors
        scored below depth, candidates dropped, scale).

    Raises:
        ValueError: an unknown strategy, an argument out of range, empty ``docs``, ``simans`` on scores that are
            neither within [−1, 1] nor non-negative, or ``percpos``/``simans`` where no query has a usable positive
            (nothing could be mined).
        TypeError: ``scorer`` is not a Method (and the strategy needs one).
    """
    _check_args(docs, depth, n_negatives, strategy, margin, seed, a)
    if strategy == "random":
        return _random(queries, docs, positives, n_negatives, seed)
    if not isinstance(scorer, Method):
        raise TypeError(f"scorer must be a patlink Method (BM25(), Dense(), LinkerMethod(...)), got "
                        f"{type(scorer).__name__}")
    cands = score_candidates(queries, docs, positives, scorer=scorer, depth=depth,
                             score_positives=strategy != "topk")
    return select_negatives(cands, strategy=strategy, n_negatives=n_negatives, margin=margin, seed=seed, a=a, b=b,
                            depth=depth)


# ---------------------------------------------------------------------------------------------- the two steps
def score_candidates(queries: Mapping[str, str], docs: Mapping[str, str], positives: Mapping[str, set[str]], *,
                     scorer: Method, depth: int = 100, score_positives: bool = True,
                     batch_size: int = 256) -> dict[str, Candidates]:
    """Rank every query with the teacher and keep its non-positive candidates and its anchor score.

    ``scorer`` is copied (``scorer.for_direction(scorer.direction)``), the copy indexes ``docs`` and searches
    ``queries`` to ``depth``. The anchor of a query is the lowest score among its positives that are documents; a
    positive missing from the top ``depth`` is scored with the copy's ``score_matrix`` (only for those queries,
    ``batch_size`` queries at a time: each call holds a ``(batch_size, len(docs))`` float32 matrix); a teacher
    without one (fusions) leaves ``positive_score=None`` with the reason in :attr:`Candidates.why`. With
    ``score_positives=False`` (``topk`` needs no anchor) nothing is scored beyond the search.

    Returns:
        Query id → :class:`Candidates`, for every query of ``queries``.

    Raises:
        ValueError: ``depth`` < 1 or empty ``docs`` (from :meth:`~patlink.methods.base.Method.index`).
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if not docs:
        raise ValueError("cannot mine negatives from an empty document pool")
    if not queries:
        return {}
    m = scorer.for_direction(scorer.direction)
    m.index(dict(docs))
    run = m.search(dict(queries), top_k=depth)
    out: dict[str, Candidates] = {}
    missing: dict[str, list[str]] = {}      # query with a positive not in its run → its positives in docs
    for q in queries:
        row = run.get(q, {})
        pos = positives.get(q) or set()
        ranked = sorted(((d, float(s)) for d, s in row.items()), key=lambda x: -x[1])   # stable: ties keep order
        ids = [d for d, _ in ranked if d not in pos]
        scores = np.array([s for d, s in ranked if d not in pos], dtype=np.float64)
        in_docs = [p for p in pos if p in docs]
        got = [row[p] for p in in_docs if p in row]
        if not in_docs:
            out[q] = Candidates(ids, scores, None, False, "no positive among the documents")
        elif len(got) == len(in_docs):
            out[q] = Candidates(ids, scores, float(min(got)))
        else:
            out[q] = Candidates(ids, scores)
            missing[q] = in_docs
    if missing and score_positives:
        qs = list(missing)
        for lo in range(0, len(qs), max(1, batch_size)):
            if not _score_directly(m, {q: queries[q] for q in qs[lo: lo + batch_size]}, missing, out):
                why = (f"a positive ranked below depth {depth} and {scorer.name} cannot score it directly (no score "
                       "matrix)")
                for q in qs:
                    out[q] = Candidates(out[q].doc_ids, out[q].scores, None, False, why)
                break
    elif missing:
        for q in missing:
            out[q] = Candidates(out[q].doc_ids, out[q].scores, None, False,
                                f"a positive ranked below depth {depth} (not scored)")
    return out


def _score_directly(m: Method, batch: dict[str, str], missing: dict[str, list[str]],
                    out: dict[str, Candidates]) -> bool:
    """Anchor scores of ``batch`` from ``m.score_matrix``; False when ``m`` has no score matrix."""
    try:
        qids, dids, S = m.score_matrix(batch)
    except NotImplementedError:
        return False
    col = {d: j for j, d in enumerate(dids)}
    for r, q in enumerate(qids):
        c = out[q]
        if any(p not in col for p in missing[q]):
            out[q] = Candidates(c.doc_ids, c.scores, None, False, "a positive is not in the scorer's index")
        else:
            out[q] = Candidates(c.doc_ids, c.scores, float(min(S[r, col[p]] for p in missing[q])), True)
    return True


def select_negatives(candidates: Mapping[str, Candidates], *, strategy: str = "percpos", n_negatives: int = 1,
                     margin: float = 0.95, seed: int = 0, a: float = SIMANS_A, b: float = SIMANS_B,
                     depth: int = 0) -> MiningResult:
    """Pick each query's negatives from its scored candidates (:func:`score_candidates`) with ``strategy``
    (``topk``, ``percpos`` or ``simans``; ``random`` needs the whole pool: :func:`mine_hard_negatives`).

    Args:
        candidates: query id → :class:`Candidates`. depth: recorded in the report only.
        The rest as :func:`mine_hard_negatives`.

    Raises:
        ValueError: as :func:`mine_hard_negatives`.
    """
    if strategy == "random":
        raise ValueError("strategy 'random' draws from the whole document pool, not from ranked candidates: use "
                         "mine_hard_negatives(..., strategy='random')")
    _check_strategy_args(n_negatives, strategy, margin, seed, a)
    neg: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    dropped = 0
    scale = None
    if strategy == "topk":
        neg = {q: c.doc_ids[:n_negatives] for q, c in candidates.items()}
    elif strategy == "percpos":
        skipped = _unanchored(candidates, strategy)
        for q, c in candidates.items():
            if q in skipped:
                neg[q] = []
                continue
            keep = c.scores <= margin * c.positive_score
            dropped += int((~keep).sum())
            neg[q] = [d for d, k in zip(c.doc_ids, keep) if k][:n_negatives]
    else:
        logw, skipped, scale = simans_weights(candidates, a=a, b=b)
        for q, c in candidates.items():
            neg[q] = [] if q in skipped else [c.doc_ids[j] for j in _gumbel_top(logw[q], n_negatives, _rng(seed, q))]
    report = MiningReport(strategy, n_negatives, depth, {q: len(v) for q, v in neg.items()}, skipped,
                          tuple(q for q, c in candidates.items() if c.scored_directly), dropped, scale)
    return MiningResult(neg, report)


# ---------------------------------------------------------------------------------------------- SimANS
def simans_weights(candidates: Mapping[str, Candidates], *, a: float = SIMANS_A, b: float = SIMANS_B
                   ) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    """The SimANS sampling distribution of each query over its candidates (Zhou et al., "SimANS: Simple Ambiguous
    Negatives Sampling for Dense Text Retrieval"): ``log p = −a (x − x⁺ − b)²`` up to a constant, with ``x = s``
    when the scores are cosine-like (``raw``: all within [−1, 1]) and ``x = s / s⁺`` (so ``x⁺ = 1``) when they are
    non-negative and unbounded (``ratio``: BM25); module docstring.

    Returns:
        ``(log_weights, skipped, scale)``: query id → ``(len(doc_ids),)`` float64 log-weights (their softmax is the
        distribution) for every query with an anchor; query id → why for the others (no scored positive, or an
        anchor of 0 under ``ratio``); ``raw`` or ``ratio``.

    Raises:
        ValueError: ``a`` <= 0, no query with an anchor, non-finite scores, or scores outside [−1, 1] with some
            negative (no comparable scale).
    """
    if not a > 0:
        raise ValueError(f"SimANS a must be > 0, got {a}")
    skipped = _unanchored(candidates, "simans")
    usable = {q: c for q, c in candidates.items() if q not in skipped}
    scale = _scale(usable.values())
    out = {}
    for q, c in usable.items():
        s, sp = c.scores, c.positive_score
        if scale == "ratio":
            if sp <= 0:
                skipped[q] = "positive score 0: the scores cannot be divided by it"
                continue
            s, sp = s / sp, 1.0
        out[q] = -a * (s - sp - b) ** 2
    if candidates and not out:
        raise ValueError("strategy 'simans' needs a positive score > 0 with non-negative unbounded scores and no "
                         "query has one")
    return out, skipped, scale


def _unanchored(candidates: Mapping[str, Candidates], strategy: str) -> dict[str, str]:
    """Query id → why ``strategy`` cannot apply to it. Raises ``ValueError`` when that is every query."""
    skipped = {}
    for q, c in candidates.items():
        if c.positive_score is None:
            skipped[q] = c.why or "no scored positive"
        elif strategy == "percpos" and c.positive_score <= 0:
            skipped[q] = (f"positive score {c.positive_score:g} <= 0: a percentage of it is no threshold above the "
                          "negatives")
    if candidates and len(skipped) == len(candidates):
        first = next(iter(skipped.items()))
        raise ValueError(f"strategy {strategy!r} needs each query's positive score and no query has one "
                         f"({len(skipped)} skipped, e.g. {first[0]!r}: {first[1]}); use strategy='topk' or a "
                         "scorer that retrieves or scores the positives")
    return skipped


def _scale(candidates) -> str:
    """``raw`` when every candidate and anchor score lies in [−1, 1] (cosines), ``ratio`` when they are
    non-negative and some exceed 1 (BM25); ``ValueError`` otherwise (no comparable scale, or non-finite scores)."""
    vals = [np.append(c.scores, c.positive_score) for c in candidates]
    if not vals:
        return "raw"
    v = np.concatenate(vals)
    if not np.isfinite(v).all():
        raise ValueError("SimANS needs finite teacher scores")
    lo, hi = float(v.min()), float(v.max())
    eps = 1e-6
    if lo >= -1 - eps and hi <= 1 + eps:
        return "raw"
    if lo >= 0:
        return "ratio"
    raise ValueError(f"SimANS needs scores on a comparable scale: cosines within [-1, 1] or non-negative scores "
                     f"such as BM25 (divided by the positive's score); this teacher gave scores from {lo:g} to "
                     f"{hi:g}")


# ---------------------------------------------------------------------------------------------- helpers
def _random(queries, docs, positives, n: int, seed: int) -> MiningResult:
    ids = sorted(docs)
    neg = {}
    for q in queries:
        pos = positives.get(q) or set()
        k = min(len(ids), n + sum(1 for p in pos if p in docs))
        draw = _rng(seed, q).choice(len(ids), size=k, replace=False)
        neg[q] = [ids[j] for j in draw if ids[j] not in pos][:n]
    report = MiningReport("random", n, 0, {q: len(v) for q, v in neg.items()})
    return MiningResult(neg, report)


def _gumbel_top(logw: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` indices sampled without replacement with probabilities ``softmax(logw)`` (Gumbel top-k: the first
    index is drawn with probability ``softmax(logw)``, each next one among the rest likewise)."""
    if len(logw) == 0:
        return np.empty(0, dtype=np.int64)
    keys = logw + rng.gumbel(size=len(logw))
    return np.argsort(-keys, kind="stable")[:k]


def _rng(seed: int, qid: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(str(qid).encode("utf-8"))])


def _check_args(docs, depth, n_negatives, strategy, margin, seed, a) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if not docs:
        raise ValueError("cannot mine negatives from an empty document pool")
    _check_strategy_args(n_negatives, strategy, margin, seed, a)


def _check_strategy_args(n_negatives, strategy, margin, seed, a) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if isinstance(n_negatives, bool) or not isinstance(n_negatives, int) or n_negatives < 1:
        raise ValueError(f"n_negatives must be an integer >= 1, got {n_negatives!r}")
    if not 0 < margin <= 1:
        raise ValueError(f"margin must be in (0, 1] (a fraction of the positive's score), got {margin}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not a > 0:
        raise ValueError(f"SimANS a must be > 0, got {a}")
