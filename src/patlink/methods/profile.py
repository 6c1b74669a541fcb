"""Methods that represent a patent by its KNOWN items (patent profiles), for linking new products to a company's
patents when the patents have no text (the new-product protocol, e.g. ``honeywell-vpm``).

Each method needs the known links (:meth:`Method.with_known`, a :class:`~patlink.methods.base.KnownLinks`): the
training links in an evaluation, every link when linking. The scorers live in :mod:`patlink.retrieval.profiles`
(one per file, over a :class:`~patlink.retrieval.profiles.PatentProfiles`); the scores are documented there.

=================  ====================================================================================
``ProfileMean``    cosine(query, mean embedding of the patent's known products)
``ProfileBM25``    BM25 against the concatenated texts of the patent's known products
``KNN``            nearest known products: ``Σ_{n ∈ N_k(q), n linked to p} max(0, cos(q, n))``; ``k`` tuned on
                   validation (grid ``ProfileConfig.knn_k_grid``) unless given
``Popularity``     number of known products of the patent (the same ranking for every query; item → patent only)
``KNNLinker``      ``KNN`` over a trained linker's embeddings (item encoder for the query, patent encoder for
                   each known product; a linker trained with ``set_scoring="members"``)
``ProfileLinker``  a trained linker whose patent encoder pools the SET of the patent's known products
=================  ====================================================================================
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np

from patlink.methods.base import Direction, KnownLinks, Method, Validation
from patlink.retrieval.base import Run, top_k_run
from patlink.retrieval.profiles import get_scorer

__all__ = ["KNN", "KNNLinker", "Popularity", "ProfileBM25", "ProfileLeaf", "ProfileLinker", "ProfileMean",
           "evidence_is_lexical", "for_new_products"]


class ProfileLeaf(Method):
    """One profile scorer (:data:`patlink.retrieval.profiles.SCORERS`) as a method.

    Args:
        leaf: the scorer key (``profile-mean``, ``profile-bm25``, ``knn``, ``popularity``, ``knn-linker``,
            ``profile-linker``, or a patent-text scorer ``text-dense`` / ``text-bm25`` / ``text-linker`` used
            when hydrated patents have text).
        param: ``k`` for ``knn``; the model folder for linker leaves; ``(folder, k)`` for ``knn-linker``.
        display: name shown in reports.

    item → patent ranks the profile pool (every patent with a known product, plus patents with text) restricted
    to the indexed corpus; patent → item ranks the indexed items for patent ids (the query texts are unused).
    Patents a leaf cannot represent are left out of the runs.
    """

    def __init__(self, leaf: str, param=None, *, display: str | None = None, tune_k: bool = False):
        self.leaf, self.param = leaf, param
        self._display = display
        self.tune_k = tune_k
        self.known: KnownLinks | None = None
        self._corpus: dict[str, str] | None = None

    @property
    def name(self) -> str:
        if self._display:
            return self._display
        if self.leaf in ("profile-linker", "text-linker"):
            return f"{self.leaf}:{self.param}"
        if self.leaf == "knn-linker":
            return f"knn-linker:{self.param[0]}"
        return self.leaf

    def label(self) -> str:
        if self.leaf == "knn":
            return f"knn(k={self.param})"
        if self.leaf == "knn-linker":
            return f"knn-linker(k={self.param[1]}):{self.param[0]}"
        return self.name

    def params(self) -> dict:
        if self.leaf == "knn":
            return {self.name: {"k": self.param}}
        if self.leaf == "knn-linker":
            return {self.name: {"k": self.param[1]}}
        return {}

    @property
    def directions(self) -> tuple[Direction, ...]:
        return get_scorer(self.leaf).directions

    @property
    def tunable(self) -> bool:
        return self.tune_k

    def _reset(self) -> None:
        self._corpus = None

    def _model_path(self) -> Path | None:
        if self.leaf == "knn-linker":
            return Path(self.param[0])
        if self.leaf in ("profile-linker", "text-linker"):
            return Path(self.param)
        return None

    def trained_paths(self) -> list[Path]:
        p = self._model_path()
        return [p] if p is not None else []

    def with_subfolder(self, sub: str) -> ProfileLeaf:
        p = self._model_path()
        if p is None or not (p / sub).is_dir():
            return self
        m = copy.copy(self)
        m.param = (str(p / sub), self.param[1]) if self.leaf == "knn-linker" else str(p / sub)
        return m

    def with_known(self, known: KnownLinks) -> ProfileLeaf:
        m = copy.copy(self)
        m.known, m._corpus = known, None
        return m

    @property
    def profiles(self):
        if self.known is None:
            raise RuntimeError(f"{self.name} represents patents by their known items: call with_known() first")
        return self.known.profiles

    def _with_k(self, k: int):
        return k if self.leaf == "knn" else (self.param[0], k)

    def fit(self, validation: Validation | None) -> ProfileLeaf:
        """Tune ``k`` of ``knn`` / ``knn-linker`` on ``validation`` (grid ``ProfileConfig.knn_k_grid``; the first
        best value wins). Other leaves have nothing to tune."""
        if not self.tune_k or not validation:
            return self
        from patlink.retrieval.measures import mean_metric

        m = copy.copy(self)
        m.index(validation.documents)
        best, best_v = m.param, -1.0
        for k in self.profiles.cfg.knn_k_grid:
            m.param = self._with_k(k)
            v = mean_metric(validation.qrels, m.search(validation.queries, validation.depth), validation.metric)
            if v > best_v + 1e-12:
                best, best_v = m.param, v
        m.param, m._corpus = best, None
        return m

    def index(self, corpus: dict[str, str]) -> None:
        if not corpus:
            raise ValueError("cannot index an empty corpus")
        self._corpus = corpus

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        if self._corpus is None:
            raise RuntimeError("call index() first")
        prof = self.profiles
        scorer = get_scorer(self.leaf)
        qids = list(queries)
        if self.direction == "item2patent":
            s = scorer.item2patent(prof, [queries[q] for q in qids], self.param)
            pool = prof.patent_ids
            keep = [j for j, p in enumerate(pool) if p in self._corpus]
            if len(keep) < len(pool):
                return qids, [pool[j] for j in keep], s[:, keep]
            return qids, list(pool), s
        s = scorer.patent2item(prof, qids, self._corpus, self.param)
        return qids, list(self._corpus), s

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        qids, dids, s = self.score_matrix(queries)
        if s.size == 0:
            return {q: {} for q in qids}
        run = top_k_run(qids, dids, s, top_k)
        return {q: {d: v for d, v in docs.items() if math.isfinite(v)} for q, docs in run.items()}


def ProfileMean() -> ProfileLeaf:
    """cosine(query, mean of the L2-normalised embeddings of the patent's known products), bundled MiniLM."""
    return ProfileLeaf("profile-mean")


def ProfileBM25() -> ProfileLeaf:
    """BM25 with each patent's document = the concatenated texts of its known products."""
    return ProfileLeaf("profile-bm25")


def Popularity() -> ProfileLeaf:
    """Number of known products linked to the patent (same ranking for every query; item → patent only)."""
    return ProfileLeaf("popularity")


def KNN(k: int | None = None, *, default_k: int = 10) -> ProfileLeaf:
    """Nearest known products (see the module docstring); ``k=None`` tunes it on validation, starting from
    ``default_k`` (used when there is no validation data)."""
    return ProfileLeaf("knn", k or default_k, display="knn" if k is None else f"knn:{k}", tune_k=k is None)


def KNNLinker(path: str | Path, k: int | None = None, *, default_k: int = 10) -> ProfileLeaf:
    """``KNN`` on a trained linker's embeddings (``patlink train --patent-repr item_set`` with
    ``set_scoring="members"``); ``k`` tuned on validation unless given."""
    return ProfileLeaf("knn-linker", (str(path), k or default_k), tune_k=k is None)


def ProfileLinker(path: str | Path) -> ProfileLeaf:
    """A trained linker whose patent encoder pools the SET of the patent's known products' texts."""
    return ProfileLeaf("profile-linker", str(path))


def evidence_is_lexical(method: Method) -> bool:
    """Whether the evidence of ``method``'s candidates ranks a patent's known products by BM25 to the query (every
    profile leaf of the method, fusions included, is ``profile-bm25`` or ``text-bm25``) rather than by MiniLM
    cosine (:meth:`patlink.retrieval.profiles.PatentProfiles.evidence`)."""
    from patlink.methods.fusion import Fusion

    def leaves(m: Method) -> list[ProfileLeaf]:
        if isinstance(m, Fusion):
            return [x for p in m.parts for x in leaves(p)]
        return [m] if isinstance(m, ProfileLeaf) else []

    return all(x.leaf in ("profile-bm25", "text-bm25") for x in leaves(method))


def for_new_products(method: Method, has_text: bool) -> Method:
    """``method`` as the new-product protocol ranks it, where patents are known by their products.

    Text methods become their profile counterparts: ``BM25`` → ``profile-bm25``, ``Dense`` (bundled model) →
    ``profile-mean``, ``Hybrid`` → the fusion of both. When the dataset's patents have text (hydrated), BM25 and
    dense score that text instead, and each ``profile-*`` leaf is fused with the matching patent-text scorer
    (``profile-mean+text``). Fusions convert their parts and keep their weights; without validation data a
    converted fusion uses reciprocal rank fusion (``Hybrid``: its untuned weights). kNN and popularity methods are returned as they are.

    A trained model that ranks patents by their own text — a linker or a fine-tuned bi-encoder (``runs/NAME``,
    alone or in a fusion) — is refused, with or without patent text: it was trained to read patent texts, not the
    products a patent is known by, and silently embedding empty patent texts would rank at random.

    Raises:
        ValueError: a trained text linker (``runs/NAME``: use ``knn-linker:`` / ``profile-linker:``), a bi-encoder
            run (use ``profile-mean``, ``profile-bm25``, ``knn`` or a linker's profile forms), or a dense model other
            than the bundled one.
    """
    from patlink.methods.biencoder import BiEncoderMethod
    from patlink.methods.dense import Dense
    from patlink.methods.fusion import Fusion, Hybrid
    from patlink.methods.lexical import BM25
    from patlink.methods.linker import LinkerMethod

    def with_text(leaf: ProfileLeaf) -> Method:
        if not has_text:
            return leaf
        text = {"profile-mean": "text-dense", "profile-bm25": "text-bm25", "profile-linker": "text-linker"}[leaf.leaf]
        return Fusion([leaf, ProfileLeaf(text, leaf.param)], untuned="rrf", name=f"{leaf.name}+text")

    if isinstance(method, Hybrid):
        from patlink.methods.fusion import HYBRID_UNTUNED_WEIGHTS

        return Fusion([with_text(ProfileBM25()), with_text(ProfileMean())], untuned=HYBRID_UNTUNED_WEIGHTS,
                      name="hybrid+text" if has_text else "hybrid")
    if isinstance(method, Fusion):
        m = copy.copy(method)
        m.parts = [for_new_products(p, has_text) for p in method.parts]
        m.untuned = "rrf"
        return m
    if isinstance(method, BM25):
        return ProfileLeaf("text-bm25") if has_text else ProfileLeaf(
            "profile-bm25", display="profile-bm25 (bm25 without patent text)")
    if isinstance(method, Dense):
        if method.model != "minilm" or method.windows != 1:
            raise ValueError(f"{method.name}: the new-product protocol embeds products with the bundled model, one "
                             "window (use dense)")
        return ProfileLeaf("text-dense") if has_text else ProfileLeaf(
            "profile-mean", display="profile-mean (dense without patent text)")
    if isinstance(method, LinkerMethod):
        raise ValueError(f"{method.name} ranks patents by their own text; under the new-product protocol use "
                         f"knn-linker:{method.path} or profile-linker:{method.path}")
    if isinstance(method, BiEncoderMethod):
        raise ValueError(f"{method.name} ranks patents by their own text and has no form that knows a patent by its "
                         "products: under the new-product protocol use profile-mean, profile-bm25, knn or knn+bm25 "
                         "(or a linker's knn-linker:/profile-linker:)")
    if isinstance(method, ProfileLeaf) and method.leaf in ("profile-mean", "profile-bm25", "profile-linker"):
        return with_text(method)
    return method
