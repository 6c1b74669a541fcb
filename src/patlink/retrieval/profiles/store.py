"""Patents represented by what is known of them: their known products (patent *profiles*) and, when hydrated,
their own text — the data every profile scorer (:mod:`patlink.retrieval.profiles`) reads.

Offline, ``honeywell-vpm`` has product texts and product–patent links but no patent text. A patent is then
represented by the products already linked to it (its *known* products: the training products in an evaluation,
every linked product when linking). :class:`PatentProfiles` holds the link matrix, degrees, texts and the cached
embeddings (backbone and trained-linker) of those products; the scorers turn them into scores.
A patent with no known product (and no text) cannot be represented: it is absent from item → patent rankings and
its patent → item ranking is empty, so links to it count as misses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PatentProfiles", "ProfileConfig", "knn_link_scores"]

_KNN_TIE_EPS = 1e-6


@dataclass
class ProfileConfig:
    """Settings of patent-profile linking.

    Attributes:
        model: sentence-transformers model (name or path) for ``profile-mean``, ``knn``, ``dense``; bundled MiniLM.
        max_length: tokens embedded per product text.
        knn_k: neighbours of ``knn`` when it cannot be tuned (no validation links).
        knn_k_grid: values of ``k`` tried on validation.
        tune_metric: validation metric maximised by the α / ``k`` tuning (a metric name of
            :func:`patlink.evaluation.metrics.mean_metric`).
        max_evidence: supporting products listed per patent by :func:`link_new_product`.
        split_seed: seed of the new-product split whose validation links tune α / ``k`` in :func:`link_new_product`.
        show_progress: progress bars while embedding.
        memo: an :class:`~patlink.retrieval.embed.EmbeddingMemo` the product and query embeddings are read from
            and put into (shared with the other methods of one command; ``None``: the on-disk cache only).
    """

    model: str = "minilm"
    max_length: int = 256
    knn_k: int = 10
    knn_k_grid: tuple[int, ...] = (5, 10, 20, 50)
    tune_metric: str = "mrr"
    max_evidence: int = 10
    split_seed: int = 0
    show_progress: bool = False
    memo: object | None = field(default=None, repr=False, compare=False)


# ---------------------------------------------------------------------------------------------- profiles
class PatentProfiles:
    """Patents represented by their known products (and by their own text when the dataset has some).

    Args:
        ds: the :class:`~patlink.data.Dataset`.
        known_links: ``(item_id, patent_id)`` links whose items form the profiles (training links in an
            evaluation: held-out products must not be among them).
        config: :class:`ProfileConfig`.
        extra_patent_texts: more patents with text (e.g. distractors); only used when ``ds`` has patent text.

    Attributes:
        items: sorted ids of the known products (``n_items``).
        patent_ids: the pool, sorted: every patent with at least one known product, plus every patent with text.
        link_matrix: ``(n_patents, n_items)`` scipy CSR float32, 1 where the product is linked to the patent.
        degree: ``(n_patents,)`` float32, number of known products per patent.
        patent_text: patent id → non-empty own text (empty dict when patents have no text).
    """

    def __init__(self, ds, known_links: Iterable[tuple[str, str]], config: ProfileConfig | None = None,
                 extra_patent_texts: dict[str, str] | None = None):
        from scipy.sparse import csr_matrix

        self.ds = ds
        self.cfg = config or ProfileConfig()
        known = sorted(set(known_links))
        self.items: list[str] = sorted({i for i, _ in known})
        self.patent_text: dict[str, str] = {}
        if ds.has_patent_text:
            self.patent_text = {p: t for p, t in ds.patent_texts().items() if t.strip()}
            for p, t in (extra_patent_texts or {}).items():
                if t.strip():
                    self.patent_text.setdefault(p, t)
        self.patent_ids: list[str] = sorted({p for _, p in known} | set(self.patent_text))
        self._pcol = {p: k for k, p in enumerate(self.patent_ids)}
        icol = {i: k for k, i in enumerate(self.items)}
        rows = np.fromiter((self._pcol[p] for _, p in known), dtype=np.int64, count=len(known))
        cols = np.fromiter((icol[i] for i, _ in known), dtype=np.int64, count=len(known))
        self.link_matrix = csr_matrix((np.ones(len(known), dtype=np.float32), (rows, cols)),
                                      shape=(len(self.patent_ids), len(self.items)), dtype=np.float32)
        self.degree = np.asarray(self.link_matrix.sum(axis=1), dtype=np.float32).ravel()
        self.item_text: dict[str, str] = ds.item_texts(self.items)
        self._cache: dict = {}

    # ------------------------------------------------------------------ basic facts
    @property
    def has_text(self) -> bool:
        """True when some patents of the pool have their own text (hydrated)."""
        return bool(self.patent_text)

    @property
    def has_profile(self) -> np.ndarray:
        """``(n_patents,)`` bool: the patent has at least one known product."""
        return self.degree > 0

    def products_of(self, patent_id: str) -> list[str]:
        """Known products linked to ``patent_id`` (sorted ids; empty if none or unknown)."""
        k = self._pcol.get(patent_id)
        if k is None:
            return []
        a = self.link_matrix
        return [self.items[j] for j in a.indices[a.indptr[k]:a.indptr[k + 1]]]

    def profile_texts(self) -> dict[str, str]:
        """Patent id → concatenated texts of its known products (only patents with a known product)."""
        if "profile_texts" not in self._cache:
            a = self.link_matrix
            out = {}
            for k, p in enumerate(self.patent_ids):
                idx = a.indices[a.indptr[k]:a.indptr[k + 1]]
                if len(idx):
                    out[p] = "\n".join(self.item_text[self.items[j]] for j in idx)
            self._cache["profile_texts"] = out
        return self._cache["profile_texts"]

    # ------------------------------------------------------------------ embeddings
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings with ``config.model`` (cached on disk)."""
        from patlink.retrieval.embed import encode_texts

        c = self.cfg
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return encode_texts(list(texts), c.model, max_length=c.max_length, show_progress=c.show_progress,
                            memo=c.memo)

    @property
    def item_emb(self) -> np.ndarray:
        """``(n_items, d)`` embeddings of the known products."""
        if "item_emb" not in self._cache:
            self._cache["item_emb"] = self.embed([self.item_text[i] for i in self.items])
        return self._cache["item_emb"]

    @property
    def profile_emb(self) -> np.ndarray:
        """``(n_patents, d)`` re-normalised mean embedding of each patent's known products (zero rows if none)."""
        if "profile_emb" not in self._cache:
            m = np.asarray(self.link_matrix @ self.item_emb, dtype=np.float32)
            norm = np.linalg.norm(m, axis=1, keepdims=True)
            self._cache["profile_emb"] = np.divide(m, norm, out=np.zeros_like(m), where=norm > 0)
        return self._cache["profile_emb"]

    @property
    def text_emb(self) -> np.ndarray:
        """``(n_patents, d)`` embeddings of the patents' own texts (zero rows without text)."""
        if "text_emb" not in self._cache:
            ids = [p for p in self.patent_ids if p in self.patent_text]
            e = self.embed([self.patent_text[p] for p in ids])
            out = np.zeros((len(self.patent_ids), e.shape[1] if e.size else self.item_emb.shape[1]), np.float32)
            for r, p in enumerate(ids):
                out[self._pcol[p]] = e[r]
            self._cache["text_emb"] = out
        return self._cache["text_emb"]

    # ------------------------------------------------------------------ BM25
    def _bm25(self, key: str, docs: dict[str, str]):
        from patlink.retrieval.bm25 import BM25Retriever

        if key not in self._cache:
            r = BM25Retriever()
            r.index(docs)
            self._cache[key] = r
        return self._cache[key]

    def _bm25_patent_matrix(self, key: str, docs: dict[str, str], queries: Sequence[str]) -> np.ndarray:
        """BM25 of queries against patent documents ``docs`` (a subset of the pool); -inf where no document."""
        out = np.full((len(queries), len(self.patent_ids)), -np.inf, dtype=np.float32)
        if not docs:
            return out
        r = self._bm25(key, docs)
        _, dids, s = r.score_matrix({str(k): t for k, t in enumerate(queries)})
        out[:, [self._pcol[d] for d in dids]] = s
        return out

    # ------------------------------------------------------------------ trained linker
    def linker(self, path: str):
        """The trained :class:`~patlink.models.linker.Linker` in ``path`` (loaded once).

        Raises:
            ValueError: when the linker module or its set encoder is unavailable, or ``path`` holds no model.
        """
        key = ("linker", path)
        if key not in self._cache:
            try:
                from patlink.models.linker import Linker
                from patlink.retrieval.linker import resolve_model_dir
            except ImportError as e:  # pragma: no cover - depends on the optional training stack
                raise ValueError(f"profile-linker needs patlink.models.linker (the trained linker): {e}") from None
            if not hasattr(Linker, "encode_patent_sets") or not hasattr(Linker, "encode_items"):
                raise ValueError("profile-linker needs Linker.encode_patent_sets and Linker.encode_items")
            self._cache[key] = Linker.load(resolve_model_dir(path))
        return self._cache[key]

    def linker_profile_emb(self, path: str) -> np.ndarray:
        """``(n_patents, d)`` patent-encoder embeddings of each patent's SET of known product texts."""
        key = ("linker_profile", path)
        if key not in self._cache:
            a = self.link_matrix
            sets = [[self.item_text[self.items[j]] for j in a.indices[a.indptr[k]:a.indptr[k + 1]]]
                    for k in range(len(self.patent_ids))]
            self._cache[key] = np.asarray(self.linker(path).encode_patent_sets(sets), dtype=np.float32)
        return self._cache[key]

    def linker_member_emb(self, path: str) -> np.ndarray:
        """``(n_items, d)`` patent-encoder embeddings of each known product ALONE (a one-member set)."""
        key = ("linker_member", path)
        if key not in self._cache:
            texts = [[self.item_text[i]] for i in self.items]
            self._cache[key] = np.asarray(self.linker(path).encode_patent_sets(texts), dtype=np.float32)
        return self._cache[key]

    def linker_text_emb(self, path: str) -> np.ndarray:
        """``(n_patents, d)`` patent-encoder embeddings of the patents' own texts (zero rows without text)."""
        key = ("linker_text", path)
        if key not in self._cache:
            ids = [p for p in self.patent_ids if p in self.patent_text]
            e = np.asarray(self.linker(path).encode_patents([self.patent_text[p] for p in ids]), dtype=np.float32)
            out = np.zeros((len(self.patent_ids), e.shape[1]), np.float32)
            for r, p in enumerate(ids):
                out[self._pcol[p]] = e[r]
            self._cache[key] = out
        return self._cache[key]

    # ------------------------------------------------------------------ scoring
    def query_emb(self, leaf: str, texts: Sequence[str], param: str | None = None) -> np.ndarray:
        """Embeddings of item texts for ``leaf`` (the linker's item encoder for linker leaves).

        Linker embeddings of the last few query sets are kept in memory: tuning ``k`` or α on validation scores
        the same queries once per grid value (the backbone's embeddings are cached on disk already)."""
        if leaf not in ("profile-linker", "text-linker", "knn-linker"):
            return self.embed(texts)
        path = param[0] if leaf == "knn-linker" else param
        texts = tuple(texts)
        memo = self._cache.setdefault("query_emb", {})
        key = (path, texts)
        if key not in memo:
            if len(memo) >= 8:   # bounded: drop the oldest entry
                memo.pop(next(iter(memo)))
            memo[key] = np.asarray(self.linker(path).encode_items(list(texts)), dtype=np.float32)
        return memo[key]

    def knn_scores(self, q_emb: np.ndarray, k: int, item_emb: np.ndarray | None = None) -> np.ndarray:
        """``(n_q, n_patents)`` kNN scores (module docstring) from query embeddings ``(n_q, d)``; ``item_emb``:
        the known products' embeddings (default: the backbone's, :attr:`item_emb`)."""
        members = self.item_emb if item_emb is None else item_emb
        scores = knn_link_scores(q_emb, members, self.link_matrix.T, k)
        top = float(self.degree.max()) if len(self.degree) else 0.0
        if top > 0:
            scores += _KNN_TIE_EPS * self.degree / top
        return scores

    def has_text_mask(self) -> np.ndarray:
        """``(n_patents,)`` bool: the patent has its own (hydrated) text."""
        return np.array([p in self.patent_text for p in self.patent_ids], dtype=bool)

    def product_similarity(self, text: str, lexical: bool) -> np.ndarray:
        """``(n_items,)`` similarity of ``text`` to each known product: BM25 (``lexical``) or cosine (MiniLM)."""
        if lexical:
            r = self._bm25("bm25_items", self.item_text)
            _, dids, s = r.score_matrix({"q": text})
            pos = {d: j for j, d in enumerate(dids)}
            return s[0][[pos[i] for i in self.items]]
        return (self.embed([text]) @ self.item_emb.T)[0]

    def evidence(self, text: str, patent_ids: Sequence[str], lexical: bool,
                 limit: int | None = None) -> dict[str, list[str]]:
        """The known products that support each patent for a query ``text``: ``{patent id: [item id, …]}``, each
        patent's known products (:meth:`products_of`) most similar to ``text`` first (:meth:`product_similarity`:
        BM25 when ``lexical``, MiniLM cosine otherwise; ties by id), at most ``limit`` (default
        ``config.max_evidence``). A patent without a known product gets ``[]``."""
        limit = self.cfg.max_evidence if limit is None else limit
        sim = self.product_similarity(text, lexical) if len(self.items) else np.zeros(0, np.float32)
        pos = self._cache.setdefault("item_pos", {i: j for j, i in enumerate(self.items)})
        return {p: sorted(self.products_of(p), key=lambda i: (-float(sim[pos[i]]), i))[:limit] for p in patent_ids}


def knn_link_scores(queries: np.ndarray, members: np.ndarray, member_patent, k: int) -> np.ndarray:
    """``score(q, p) = Σ_{n ∈ N_k(q), n linked to p} max(0, cos(q, n))`` over the ``k`` members nearest to ``q``.

    Args:
        queries: ``(n_q, d)`` L2-normalised query embeddings.
        members: ``(n_members, d)`` L2-normalised embeddings of the known items (the patents' members).
        member_patent: ``(n_members, n_patents)`` sparse 0/1 link matrix (scipy).
        k: neighbours per query, clipped to ``[1, n_members]``.

    Returns:
        ``(n_q, n_patents)`` float32; 0 where no neighbour supports a patent.
    """
    from scipy.sparse import csr_matrix

    n_q, n_m = queries.shape[0], members.shape[0]
    k = max(1, min(int(k), n_m))
    s = queries @ members.T
    idx = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < n_m else np.tile(np.arange(n_m), (n_q, 1))
    vals = np.clip(np.take_along_axis(s, idx, axis=1), 0.0, None).astype(np.float32)
    near = csr_matrix((vals.ravel(), idx.ravel(), np.arange(0, n_q * k + 1, k)), shape=(n_q, n_m))
    return np.asarray((near @ member_patent).todense(), dtype=np.float32)
