"""Approximate nearest-neighbour (ANN) indexes over L2-normalised embeddings, and chunked exact search.

The approximate indexes are FAISS indexes (Johnson, Douze & Jégou, "Billion-scale similarity search with GPUs";
Douze et al., "The Faiss library") under the inner-product metric, so on L2-normalised vectors a score is the
cosine similarity:

* ``"hnsw"``: a hierarchical navigable small-world graph over the full float vectors (Malkov & Yashunin,
  "Efficient and robust approximate nearest neighbor search using Hierarchical Navigable Small World graphs"),
  ``faiss.IndexHNSWFlat``; parameters ``M`` (graph degree), ``ef_construction``, ``ef_search``.
* ``"ivf-flat"``: an inverted file (spherical k-means coarse quantizer into ``nlist`` cells, ``nprobe`` cells
  scanned per query) holding the full float vectors, ``faiss.IndexIVFFlat``; exact scores for what it finds.
* ``"ivf-sq8"``: the same inverted file holding 8-bit scalar-quantized residuals (one byte per dimension),
  ``faiss.IndexIVFScalarQuantizer``.
* ``"ivf-pq"``: the same inverted file holding product-quantized residuals (Jégou, Douze & Schmid, "Product
  quantization for nearest neighbor search"): ``m`` sub-vectors of ``nbits`` bits, ``faiss.IndexIVFPQ``.

Every IVF kind takes ``refine`` (an integer ``k_factor``; 0 = off): the index then keeps the float vectors
too (``faiss.IndexRefineFlat``), fetches ``refine * k`` candidates and re-scores them exactly, so the returned
scores are exact inner products. ``"exact"`` builds no index: :func:`exact_search` scans the (possibly
memory-mapped) matrix itself.

Threads: FAISS uses OpenMP, which reads ``OMP_NUM_THREADS``; ``PATLINK_THREADS`` (a positive integer), when
set, overrides it for the calls of this module (:func:`ann_threads`). Nothing here hard-codes a count.

Measured trade-offs (build time, memory, Recall@100, latency at 1M and 10M vectors on 2 cores) are in
``docs/benchmarks.md`` ("Approximate nearest-neighbour search at 1M and 10M vectors"), produced by
``benchmarks/bench_ann.py``; :data:`EXACT_MAX` and the defaults of :func:`choose_ann` come from that run.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ANN_KINDS",
    "EXACT_MAX",
    "AnnConfig",
    "AnnIndex",
    "ann_threads",
    "build_ann",
    "choose_ann",
    "exact_search",
]

ANN_KINDS: tuple[str, ...] = ("exact", "hnsw", "ivf-flat", "ivf-sq8", "ivf-pq")
"""The index kinds :class:`AnnConfig` accepts."""

EXACT_MAX: int = 200_000
"""Largest corpus (number of vectors) for which ``choose_ann(n, d)`` picks exact search.

Measured by ``benchmarks/bench_ann.py exact`` (``exact_latency*`` in ``docs/benchmarks/ann.json``): single-query
(batch of 1, k = 100) :func:`exact_search` over an in-RAM float32 matrix of d = 384 MiniLM-distributed vectors at
n = 10k, 50k, 100k, 200k, 300k, 500k and 1M on the 2-core development machine, 200 queries per n, in two runs
(load average ~2-3 from other work, and ~2 from this benchmark alone). 200k is the largest n whose p99 stayed
below 50 ms in both (33.9 and 24.3 ms); 300k met it only on the quieter run (56.1 and 33.8 ms). Latency grows
linearly with n·d, so for other dimensions scale accordingly.
"""

_PARAM_KEYS: dict[str, frozenset[str]] = {
    "exact": frozenset(),
    "hnsw": frozenset({"M", "ef_construction", "ef_search"}),
    "ivf-flat": frozenset({"nlist", "nprobe", "refine", "train_size", "niter"}),
    "ivf-sq8": frozenset({"nlist", "nprobe", "refine", "train_size", "niter"}),
    "ivf-pq": frozenset({"nlist", "nprobe", "refine", "train_size", "niter", "m", "nbits"}),
}
_SEARCH_KEYS: dict[str, frozenset[str]] = {
    "exact": frozenset(),
    "hnsw": frozenset({"ef_search"}),
    "ivf-flat": frozenset({"nprobe", "refine"}),
    "ivf-sq8": frozenset({"nprobe", "refine"}),
    "ivf-pq": frozenset({"nprobe", "refine"}),
}
_ADD_CHUNK = 65_536          # rows copied from the (memory-mapped) matrix per add() call
_NORM_TOL = 1e-2             # |‖v‖ - 1| allowed on the training sample


def _check_kind(kind: str) -> str:
    if kind not in ANN_KINDS:
        raise ValueError(f"unknown ANN kind {kind!r}; expected one of: {', '.join(ANN_KINDS)}")
    return kind


@dataclass(frozen=True)
class AnnConfig:
    """Which index to build and with which parameters; recorded as JSON in an index manifest.

    Attributes:
        kind: one of :data:`ANN_KINDS` (``"exact"``, ``"hnsw"``, ``"ivf-flat"``, ``"ivf-sq8"``, ``"ivf-pq"``).
        params: JSON-serialisable parameters. ``hnsw``: ``M`` (neighbours per node), ``ef_construction``,
            ``ef_search``. IVF kinds: ``nlist`` (cells), ``nprobe`` (cells scanned per query), ``refine``
            (k-factor of exact re-scoring, 0 = off), ``train_size`` (vectors sampled to train; default
            ``min(n, 64 * nlist)``), ``niter`` (k-means iterations, default 10). ``ivf-pq`` also: ``m``
            (sub-quantizers, must divide d), ``nbits`` (bits per sub-quantizer code).

    Raises:
        ValueError: unknown kind, or a parameter the kind does not take.
    """

    kind: str = "exact"
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        unknown = set(self.params) - _PARAM_KEYS[self.kind]
        if unknown:
            allowed = ", ".join(sorted(_PARAM_KEYS[self.kind])) or "none"
            raise ValueError(f"ANN kind {self.kind!r} takes no parameter {', '.join(sorted(unknown))} "
                             f"(allowed: {allowed})")

    def to_dict(self) -> dict:
        """``{"kind": str, "params": dict}`` (a copy, JSON-serialisable)."""
        return {"kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict) -> AnnConfig:
        """Inverse of :meth:`to_dict`. Raises ``ValueError`` on a missing/unknown kind or parameter."""
        if not isinstance(d, dict) or "kind" not in d:
            raise ValueError(f"an ANN config needs a 'kind' field, got {d!r}")
        return cls(kind=d["kind"], params=dict(d.get("params") or {}))

    def replace(self, **params: Any) -> AnnConfig:
        """A copy with ``params`` updated (same kind)."""
        return AnnConfig(self.kind, {**self.params, **params})


def ann_threads() -> int | None:
    """Thread count for FAISS taken from the environment: ``PATLINK_THREADS`` if set, else ``None`` (OpenMP's
    own default, which honours ``OMP_NUM_THREADS``). Raises ``ValueError`` if ``PATLINK_THREADS`` is not a
    positive integer."""
    raw = os.environ.get("PATLINK_THREADS", "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"PATLINK_THREADS must be a positive integer, got {raw!r}")
    return n


def _apply_threads() -> None:
    n = ann_threads()
    if n is not None:
        import faiss

        faiss.omp_set_num_threads(n)


_NLIST_MAX = 4096


def _default_nlist(n: int) -> int:
    # ~4·sqrt(n) cells (the low end of the FAISS guideline 4·sqrt(n)..16·sqrt(n)), at least 39 training points per
    # cell, at most 4,096: adding costs n·nlist·d flops (every vector is assigned to its nearest cell), which on 2
    # cores dominates the build (docs/benchmarks.md), while queries only scan nprobe/nlist of the vectors.
    return max(1, min(round(4 * math.sqrt(max(n, 1))), max(n, 1) // 39, _NLIST_MAX))


def _default_pq_m(d: int) -> int:
    # 8 dimensions per sub-quantizer (48 bytes per 384-d vector); the largest divisor of d not above d / 8.
    for m in range(max(1, d // 8), 0, -1):
        if d % m == 0:
            return m
    return 1


# Cells scanned per query (capped at nlist), from the benchmark (docs/benchmarks.md): nprobe 32 gave ivf-sq8
# Recall@100 0.974 / 0.978 / 0.973 at 200k / 1M / 10M vectors (nlist 1,789 / 4,000 / 4,096), while a fixed
# fraction of nlist fell short on small indexes (nprobe 14 of 1,789: 0.939); ivf-pq with refine 8: 0.971 at 64.
_NPROBE = {"ivf-flat": 32, "ivf-sq8": 32, "ivf-pq": 64}
_AUTO_KIND = "ivf-sq8"


def choose_ann(n: int, d: int, kind: str = "auto") -> AnnConfig:
    """The index configuration for ``n`` vectors of dimension ``d``.

    Args:
        n: number of vectors (>= 0).
        d: their dimension (>= 1).
        kind: ``"auto"`` picks ``"exact"`` when ``n <= EXACT_MAX`` and otherwise ``"ivf-sq8"`` with
            ``nlist = min(4·sqrt(n), 4096)`` and ``nprobe = 32``: in ``benchmarks/bench_ann.py`` it met
            Recall@100 >= 0.95 vs exact with p99 < 50 ms per single query on 2 cores at 200k (0.974, 1.1 ms),
            1M (0.978, 1.9 ms) and 10M vectors (0.973, 14.4 ms) with the smallest index of the kinds that did
            (1 byte per dimension: 3.7 GiB at 10M; hnsw, ivf-flat and refined ivf-pq keep the float vectors,
            4 bytes per dimension). Any kind of :data:`ANN_KINDS` gets its default parameters scaled to ``n``
            (IVF: ``nlist`` as above with at least 39 vectors per cell, ``nprobe`` 32, 64 for ``ivf-pq``, at
            most ``nlist``; ``ivf-pq``: ``m`` = d / 8 sub-quantizers of 8 bits, ``refine`` 8; ``hnsw``: ``M`` 32,
            ``ef_construction`` 100, ``ef_search`` 512).

    Raises:
        ValueError: negative ``n``, ``d < 1``, or an unknown ``kind`` (the message lists the kinds).
    """
    if n < 0 or d < 1:
        raise ValueError(f"choose_ann needs n >= 0 and d >= 1, got n={n}, d={d}")
    if kind == "auto":
        kind = "exact" if n <= EXACT_MAX else _AUTO_KIND
    elif kind not in ANN_KINDS:
        raise ValueError(f"unknown ANN kind {kind!r}; expected 'auto' or one of: {', '.join(ANN_KINDS)}")
    if kind == "exact":
        return AnnConfig("exact")
    if kind == "hnsw":
        return AnnConfig("hnsw", {"M": 32, "ef_construction": 100, "ef_search": 512})
    nlist = _default_nlist(n)
    params: dict[str, Any] = {"nlist": nlist, "nprobe": min(nlist, _NPROBE[kind])}
    if kind == "ivf-pq":
        params.update(m=_default_pq_m(d), nbits=8, refine=8)
    return AnnConfig(kind, params)


# --------------------------------------------------------------------------------------------- exact search

def _check_matrix(a: np.ndarray, name: str, d: int | None = None) -> None:
    if not isinstance(a, np.ndarray) or a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows, dim), got {getattr(a, 'shape', type(a))}")
    if d is not None and a.shape[1] != d:
        raise ValueError(f"{name} have dimension {a.shape[1]}, expected {d}")


def _merge_topk(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` per row of candidate ``(scores, ids)``: higher score first, then lower id; -1 ids last."""
    key_ids = np.where(ids < 0, np.iinfo(np.int64).max, ids)
    o = np.argsort(key_ids, axis=1, kind="stable")
    scores, ids = np.take_along_axis(scores, o, 1), np.take_along_axis(ids, o, 1)
    o = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, o, 1), np.take_along_axis(ids, o, 1)


def _chunk_topk(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns per row of ``s`` (ties to the lower column), as (scores, column ids), unsorted."""
    c = s.shape[1]
    if k >= c:
        return s, np.broadcast_to(np.arange(c, dtype=np.int64), s.shape).copy()
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    sel = np.take_along_axis(s, part, 1)
    kth = sel.min(axis=1)
    # argpartition picks arbitrary members of a tie at the k-th value; redo the (rare) rows where it matters.
    n_tied_sel = (sel == kth[:, None]).sum(axis=1)
    n_tied_all = (s == kth[:, None]).sum(axis=1)
    for r in np.flatnonzero(n_tied_all > n_tied_sel):
        o = np.lexsort((np.arange(c), -s[r]))[:k]
        part[r], sel[r] = o, s[r, o]
    return sel, part.astype(np.int64)


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int, *,
                 chunk: int = 262_144) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-``k`` over a (possibly memory-mapped) matrix, ``chunk`` rows at a time.

    Args:
        vectors: ``(n, d)`` float32 (other float dtypes are converted chunk by chunk); may be a ``np.memmap``.
        queries: ``(m, d)`` float32.
        k: results per query (>= 1); ``k > n`` pads with id -1 and score ``-inf``.
        chunk: rows of ``vectors`` scored at once; memory is ~``chunk * d`` floats plus ``min(m, ·) * chunk``
            scores (queries are processed in blocks of at most 2^26 / chunk rows).

    Returns:
        ``(scores, ids)``: ``(m, k)`` float32 inner products and ``(m, k)`` int64 row numbers into ``vectors``,
        best first; equal scores are ordered by lower row number.

    Raises:
        ValueError: arrays not 2-D, dimensions differ, ``k < 1`` or ``chunk < 1``.
    """
    _check_matrix(vectors, "vectors")
    _check_matrix(queries, "queries", vectors.shape[1])
    if k < 1 or chunk < 1:
        raise ValueError(f"exact_search needs k >= 1 and chunk >= 1, got k={k}, chunk={chunk}")
    n, m = vectors.shape[0], queries.shape[0]
    q_all = np.ascontiguousarray(queries, dtype=np.float32)
    best_s = np.full((m, k), -np.inf, dtype=np.float32)
    best_i = np.full((m, k), -1, dtype=np.int64)
    qblock = max(1, (1 << 26) // min(chunk, max(n, 1)))
    for s0 in range(0, n, chunk):
        block = np.asarray(vectors[s0:s0 + chunk], dtype=np.float32)
        for q0 in range(0, m, qblock):
            rows = slice(q0, q0 + qblock)
            sc = q_all[rows] @ block.T
            cs, ci = _chunk_candidates(sc, best_s[rows, k - 1], k)
            if cs is None:
                continue
            ci = np.where(ci >= 0, ci + s0, -1)
            best_s[rows], best_i[rows] = _merge_topk(np.concatenate([best_s[rows], cs], 1),
                                                     np.concatenate([best_i[rows], ci], 1), k)
    return best_s, best_i


def _chunk_candidates(sc: np.ndarray, kth: np.ndarray, k: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Columns of ``sc`` that can enter the running top-``k`` whose k-th score per row is ``kth``.

    Chunks come in increasing row order, so a column that only ties the k-th score loses to it (higher id):
    only scores strictly above ``kth`` are candidates. When few pass (every chunk once the top-k has filled),
    they are gathered into a ``-inf``/-1 padded block; otherwise the chunk's own top-``k`` is taken.
    """
    mask = sc > kth[:, None]
    counts = mask.sum(axis=1)
    most = int(counts.max()) if counts.size else 0
    if most == 0:
        return None, None
    if most > 4 * k:
        return _chunk_topk(sc, k)
    r, c = np.nonzero(mask)
    pos = np.arange(r.size) - np.repeat(np.cumsum(counts) - counts, counts)
    cs = np.full((sc.shape[0], most), -np.inf, dtype=np.float32)
    ci = np.full((sc.shape[0], most), -1, dtype=np.int64)
    cs[r, pos], ci[r, pos] = sc[r, c], c
    return cs, ci


# --------------------------------------------------------------------------------------------- ANN indexes

def _kind_of(index) -> str:
    import faiss

    inner = faiss.downcast_index(index.base_index) if isinstance(index, faiss.IndexRefine) else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFPQ):
        return "ivf-pq"
    if isinstance(inner, faiss.IndexIVFScalarQuantizer):
        return "ivf-sq8"
    if isinstance(inner, faiss.IndexIVFFlat):
        return "ivf-flat"
    raise ValueError(f"not an index this module builds: {type(inner).__name__}")


class AnnIndex:
    """A FAISS approximate index over row-numbered vectors (inner product), with its configuration.

    Build one with :func:`build_ann` or :meth:`load`; row ``i`` of the indexed matrix has id ``i`` and
    :meth:`add` appends ids ``ntotal, ntotal + 1, …``.

    Attributes:
        config: the :class:`AnnConfig` (updated by :meth:`set_search_params`).
        index: the underlying ``faiss.Index``.
        build_stats: set by :func:`build_ann`: ``{"train_s": float, "add_s": float, "train_size": int}``
            (seconds of training and of adding; ``train_size`` 0 for hnsw); empty for a loaded index.
    """

    def __init__(self, index, config: AnnConfig):
        import faiss

        self._owner = index                      # keeps the owning SWIG proxy alive
        self.index = faiss.downcast_index(index)
        if config.kind == "exact":
            raise ValueError("an 'exact' config has no ANN index; use exact_search")
        self.config = config
        self.build_stats: dict = {}
        self._apply_search_params(config.params)

    @property
    def ntotal(self) -> int:
        """Number of indexed vectors."""
        return int(self.index.ntotal)

    @property
    def d(self) -> int:
        """Vector dimension."""
        return int(self.index.d)

    def _inner(self):
        import faiss

        if isinstance(self.index, faiss.IndexRefine):
            return faiss.downcast_index(self.index.base_index)
        return self.index

    def _apply_search_params(self, params: dict) -> None:
        import faiss

        inner = self._inner()
        if "ef_search" in params:
            inner.hnsw.efSearch = int(params["ef_search"])
        if "nprobe" in params:
            inner.nprobe = int(params["nprobe"])
        if "refine" in params and isinstance(self.index, faiss.IndexRefine):
            self.index.k_factor = float(max(1, int(params["refine"])))

    def set_search_params(self, **params: Any) -> None:
        """Change query-time parameters: ``ef_search`` (hnsw), ``nprobe`` and ``refine`` (IVF kinds; ``refine``
        only changes the k-factor of an index built with refinement). :attr:`config` records the new values.

        Raises:
            ValueError: a parameter the kind has no query-time setting for, or a value < 1 (``refine`` >= 1).
        """
        allowed = _SEARCH_KEYS[self.config.kind]
        unknown = set(params) - allowed
        if unknown:
            raise ValueError(f"ANN kind {self.config.kind!r} has no search parameter {', '.join(sorted(unknown))} "
                             f"(allowed: {', '.join(sorted(allowed))})")
        bad = {k: v for k, v in params.items() if int(v) < 1}
        if bad:
            raise ValueError(f"search parameters must be >= 1, got {bad}")
        if "refine" in params and not self.config.params.get("refine"):
            raise ValueError("refine can only be changed on an index built with refine > 0")
        self._apply_search_params(params)
        self.config = self.config.replace(**{k: int(v) for k, v in params.items()})

    def search(self, queries: np.ndarray, k: int, *,
               rescore: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-``k`` by inner product.

        Args:
            queries: ``(m, d)`` float32 (L2-normalised for cosine scores).
            k: results per query (>= 1).
            rescore: optionally the indexed ``(ntotal, d)`` matrix (e.g. the index folder's memory-mapped
                vectors): the ``k`` rows found are re-scored exactly from it and re-sorted, which gives exact
                scores for the quantized kinds without keeping a float copy in the index (``m * k`` row reads).

        Returns:
            ``(scores, ids)``: ``(m, k)`` float32 inner products (exact when the config refines or ``rescore``
            is given; for ``ivf-sq8`` and ``ivf-pq`` otherwise the quantized estimate) and ``(m, k)`` int64 row
            numbers, best first; id -1 and score ``-inf`` where fewer than ``k`` were found.

        Raises:
            ValueError: not a 2-D array of the index dimension, ``k < 1``, or ``rescore`` not ``(ntotal, d)``.
        """
        _check_matrix(queries, "queries", self.d)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if rescore is not None:
            _check_matrix(rescore, "rescore vectors", self.d)
            if rescore.shape[0] != self.ntotal:
                raise ValueError(f"rescore has {rescore.shape[0]} rows, the index {self.ntotal}")
        _apply_threads()
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if self.ntotal == 0 or q.shape[0] == 0:
            return (np.full((q.shape[0], k), -np.inf, dtype=np.float32),
                    np.full((q.shape[0], k), -1, dtype=np.int64))
        scores, ids = self.index.search(q, k)
        ids = ids.astype(np.int64, copy=False)
        if rescore is not None:
            return _rescore(rescore, q, ids, k)
        scores = np.where(ids < 0, np.float32(-np.inf), scores).astype(np.float32, copy=False)
        return scores, ids

    def add(self, vectors: np.ndarray, *, show_progress: bool = False) -> None:
        """Append rows (ids ``ntotal …``) without retraining, ``65,536`` rows at a time (memmap-friendly).

        Raises:
            ValueError: not a 2-D array of the index dimension.
            RuntimeError: the index was loaded memory-mapped (read-only).
        """
        _check_matrix(vectors, "vectors", self.d)
        if getattr(self, "_read_only", False):
            raise RuntimeError("this index was loaded with mmap=True (read-only); load it without mmap to add")
        _apply_threads()
        _add_chunks(self.index, vectors, show_progress)

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (``faiss.write_index``) atomically: a temporary file in the same folder,
        then ``os.replace``. Parent folders are created."""
        import faiss

        from patlink.io import atomic_path

        with atomic_path(Path(path)) as tmp:
            faiss.write_index(self.index, str(tmp))

    @classmethod
    def load(cls, path: Path, config: AnnConfig, *, mmap: bool = False) -> AnnIndex:
        """Read an index written by :meth:`save` (``faiss.read_index``).

        Args:
            path: the index file.
            config: its configuration (from the manifest); its search parameters are applied.
            mmap: map the file instead of reading it (``faiss.IO_FLAG_MMAP``; for IVF kinds the inverted lists
                stay on disk and are paged in on demand; kinds FAISS cannot map are read normally). A mapped
                index is read-only (:meth:`add` raises).

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file holds a different kind of index than ``config.kind``.
        """
        import faiss

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no ANN index file at {path}")
        mapped = False
        if mmap:
            try:
                index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
                mapped = True
            except RuntimeError:
                index = faiss.read_index(str(path))
        else:
            index = faiss.read_index(str(path))
        kind = _kind_of(faiss.downcast_index(index))
        if kind != config.kind:
            raise ValueError(f"{path} holds a {kind!r} index but the config says {config.kind!r}")
        out = cls(index, config)
        out._read_only = mapped
        return out


def _rescore(vectors: np.ndarray, q: np.ndarray, ids: np.ndarray, k: int,
             block: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores of the found ``ids`` from ``vectors`` (rows read in sorted order), re-sorted best first."""
    scores = np.full(ids.shape, -np.inf, dtype=np.float32)
    for b in range(0, len(ids), block):
        i = ids[b:b + block]
        rows, inv = np.unique(np.where(i >= 0, i, 0), return_inverse=True)
        v = np.asarray(vectors[rows], dtype=np.float32)[inv.reshape(i.shape)]
        s = np.einsum("md,mkd->mk", q[b:b + block], v)
        scores[b:b + block] = np.where(i >= 0, s, -np.inf)
    return _merge_topk(scores, ids, k)


def _add_chunks(index, vectors: np.ndarray, show_progress: bool) -> None:
    n = vectors.shape[0]
    starts = range(0, n, _ADD_CHUNK)
    if show_progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=math.ceil(n / _ADD_CHUNK), desc="adding to ANN index", unit="chunk")
    for s in starts:
        index.add(np.ascontiguousarray(vectors[s:s + _ADD_CHUNK], dtype=np.float32))


def build_ann(vectors: np.ndarray, config: AnnConfig, *, seed: int = 0,
              show_progress: bool = False) -> AnnIndex | None:
    """Build the index ``config`` describes over ``vectors`` (row ``i`` gets id ``i``).

    IVF kinds train their spherical k-means coarse quantizer (and the scalar / product quantizer) on
    ``train_size`` rows sampled with ``seed`` (default ``min(n, 64 * nlist)``), then add all rows in chunks of
    65,536, so memory stays ~ the index plus one chunk; a ``np.memmap`` input is read, never loaded whole.

    Args:
        vectors: ``(n, d)`` float32, L2-normalised rows (checked on the training sample); may be a memmap.
        config: an :class:`AnnConfig`; its parameters missing from ``params`` take the defaults of
            :func:`choose_ann` for this ``n`` and ``d``.
        seed: seeds the training sample, k-means, PQ training and HNSW level draws.
        show_progress: a progress bar over the added chunks.

    Returns:
        The :class:`AnnIndex`, or ``None`` for kind ``"exact"`` (use :func:`exact_search`). IVF builds are
        deterministic for a seed; an HNSW graph is deterministic for a seed only when built with one thread
        (FAISS inserts nodes in parallel), which changes results only within its approximation.

    Raises:
        ValueError: not a 2-D array, no rows, rows not L2-normalised, fewer rows than an IVF kind needs to
            train (``nlist``, and 2^nbits for ``ivf-pq``), or ``m`` not dividing d.
    """
    import faiss

    _check_matrix(vectors, "vectors")
    if config.kind == "exact":
        return None
    n, d = vectors.shape
    if n == 0:
        raise ValueError("cannot build an ANN index over zero vectors")
    _apply_threads()
    defaults = choose_ann(n, d, config.kind).params
    p = {**defaults, **config.params}
    config = AnnConfig(config.kind, p)
    rng = np.random.default_rng(seed)
    t0, train_size = time.perf_counter(), 0
    if config.kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, int(p["M"]), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(p["ef_construction"])
        index.hnsw.rng = faiss.RandomGenerator(int(seed))
        sample = np.asarray(vectors[np.sort(rng.choice(n, min(n, 4096), replace=False))], dtype=np.float32)
        _check_normalised(sample)
    else:
        nlist = int(p["nlist"])
        train_size = min(n, int(p.get("train_size") or 64 * nlist))
        need = max(nlist, 2 ** int(p["nbits"]) if config.kind == "ivf-pq" else 1)
        if train_size < need:
            raise ValueError(f"{config.kind} with nlist={nlist} needs at least {need} training vectors, "
                             f"got {train_size} (use fewer cells or exact search)")
        quantizer = faiss.IndexFlatIP(d)
        if config.kind == "ivf-flat":
            ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        elif config.kind == "ivf-sq8":
            ivf = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                faiss.METRIC_INNER_PRODUCT)
        else:
            m, nbits = int(p["m"]), int(p["nbits"])
            if d % m:
                raise ValueError(f"ivf-pq needs m dividing d, got m={m}, d={d}")
            ivf = faiss.IndexIVFPQ(quantizer, d, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
            ivf.pq.cp.seed = int(seed)
        ivf.own_fields = True
        quantizer.this.disown()
        ivf.cp.seed = int(seed)
        ivf.cp.niter = int(p.get("niter") or 10)
        ivf.cp.spherical = True
        ivf.cp.max_points_per_centroid = 1 << 30   # we sampled already: no second subsampling inside faiss
        idx = np.sort(rng.choice(n, train_size, replace=False))
        sample = np.ascontiguousarray(vectors[idx], dtype=np.float32)
        _check_normalised(sample)
        ivf.train(sample)
        del sample
        index = ivf
        if int(p.get("refine") or 0) > 0:
            index = faiss.IndexRefineFlat(ivf)
            index.own_fields = True
            ivf.this.disown()
    t1 = time.perf_counter()
    _add_chunks(index, vectors, show_progress)
    out = AnnIndex(index, config)
    out.build_stats = {"train_s": round(t1 - t0, 3), "add_s": round(time.perf_counter() - t1, 3),
                       "train_size": train_size}
    return out


def _check_normalised(sample: np.ndarray) -> None:
    norms = np.linalg.norm(sample, axis=1)
    if not np.all(np.abs(norms - 1) <= _NORM_TOL):
        worst = float(norms[np.argmax(np.abs(norms - 1))])
        raise ValueError(f"ANN indexes expect L2-normalised vectors (a row has norm {worst:.4g})")
