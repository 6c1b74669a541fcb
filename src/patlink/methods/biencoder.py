"""A bi-encoder fine-tuned end to end on the linkage task (``patlink train --architecture biencoder``) as a
:class:`~patlink.methods.base.Method`, and the window-averaged ("MeanP") embedding it and its training share.

A bi-encoder run folder (:func:`patlink.training.biencoder.train_biencoder`) holds::

    biencoder.json    marker: format, base model, text views, windows, max length, routes, best epoch, fusion α
    best/             a sentence-transformers model folder (``SentenceTransformer(RUN/best)`` loads it), with
                      ``best/biencoder_model.json`` (the step it was saved at and a fingerprint that names its
                      embedding cache)
    split.json        the train/val/test links (the leakage check of ``patlink eval`` reads it)

Items are read through the ``query`` route and patents through the ``document`` route of an asymmetric model
(sentence-transformers ``Router``), whatever the ranking direction, as the linker's item and patent encoders; a
symmetric model reads both the same way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from patlink.methods.base import DIRECTIONS, Direction, Method, _check_corpus
from patlink.retrieval.base import Run

__all__ = ["BIENCODER_FORMAT", "BIENCODER_MARKER", "BiEncoderMethod", "encode_windows", "is_biencoder_dir",
           "read_biencoder_marker"]

#: The marker file of a bi-encoder run folder.
BIENCODER_MARKER = "biencoder.json"
#: The ``format`` written in it.
BIENCODER_FORMAT = "patlink-biencoder-run/1"
#: The file inside ``best/`` naming the saved model (step, fingerprint); written with the model, atomically.
MODEL_INFO = "biencoder_model.json"
#: Route of each side in an asymmetric model.
ROUTES = {"item": "query", "patent": "document"}


def is_biencoder_dir(path: str | Path) -> bool:
    """True if ``path`` is a bi-encoder run folder (its ``biencoder.json`` and ``best/`` model exist)."""
    p = Path(path)
    return (p / BIENCODER_MARKER).is_file() and (p / "best").is_dir()


def read_biencoder_marker(path: str | Path) -> dict:
    """The ``biencoder.json`` of a run folder.

    Raises:
        ValueError: no marker, or one that is not a bi-encoder marker of a known format.
    """
    f = Path(path) / BIENCODER_MARKER
    try:
        meta = json.loads(f.read_text())
    except (OSError, ValueError):
        raise ValueError(f"{path} holds no bi-encoder run (expected {f} from `patlink train --architecture "
                         "biencoder`)") from None
    if not isinstance(meta, dict) or meta.get("format") != BIENCODER_FORMAT:
        raise ValueError(f"{f}: not a bi-encoder marker of format {BIENCODER_FORMAT}")
    return meta


def _is_router(model) -> bool:
    return type(model[0]).__name__ == "Router"


def set_max_length(model, max_length: int) -> None:
    """Tokens per text of every transformer of ``model`` (both routes of a ``Router`` model)."""
    model.max_seq_length = max_length
    for m in model.modules():
        if hasattr(m, "max_seq_length") and type(m).__name__ == "Transformer":
            m.max_seq_length = max_length


def encode_windows(model, texts: Sequence[str], *, side: str, windows: int, max_length: int, tokenizer: str,
                   batch_size: int = 64, cache=None, memo=None, memo_key: tuple | None = None,
                   show_progress: bool = False) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` read as windows and averaged ("MeanP").

    Each text is cut into its first ``windows`` windows of ``max_length`` tokens
    (:func:`patlink.data.chunking.backbone_chunks` with ``tokenizer``; ``windows=1`` is plain truncation), every
    window is embedded (L2-normalised), the windows of a text are summed and the sum L2-normalised: the rule of
    ``Dense(windows=N)`` (:class:`patlink.retrieval.dense.DenseRetriever`).

    Args:
        model: a ``SentenceTransformer`` (a ``Router`` model is read through the route of ``side``).
        side: ``item`` (the ``query`` route) or ``patent`` (the ``document`` route).
        tokenizer: model name or path whose tokenizer cuts the windows (the run's base model).
        cache: an :class:`patlink.retrieval.embed.EmbeddingCache` of window vectors (``None``: none), and
            ``memo`` / ``memo_key`` an :class:`~patlink.retrieval.embed.EmbeddingMemo` and its setting key: a
            window already embedded for this model is not embedded again.

    Returns:
        ``(len(texts), d)`` float32.

    Raises:
        ValueError: an unknown ``side`` or ``windows < 1``.
    """
    import hashlib

    from patlink.data.chunking import backbone_chunks

    if side not in ROUTES:
        raise ValueError(f"side must be item or patent, got {side!r}")
    if windows < 1:
        raise ValueError(f"windows must be >= 1, got {windows}")
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension() or 0), dtype=np.float32)
    cut = [backbone_chunks(t, tokenizer, max_length, windows) for t in texts]
    flat = [w for ws in cut for w in ws]
    keys = [hashlib.sha1(w.encode("utf-8")).hexdigest() for w in flat]
    found: dict[str, np.ndarray] = {}
    if memo is not None and memo_key is not None:
        found.update(memo.get(memo_key, keys))
    if cache is not None and len(found) < len(set(keys)):
        from_disk = cache.get([k for k in keys if k not in found])
        if memo is not None and memo_key is not None:
            memo.put(memo_key, from_disk)
        found.update(from_disk)
    missing = {k: w for k, w in zip(keys, flat) if k not in found}
    if missing:
        order = sorted(missing, key=lambda k: -len(missing[k]))   # longest first: least padding
        kw = {"task": ROUTES[side]} if _is_router(model) else {}
        set_max_length(model, max_length)
        vecs = model.encode([missing[k] for k in order], batch_size=batch_size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=show_progress, **kw).astype(np.float32)
        new = dict(zip(order, vecs))
        found.update(new)
        if memo is not None and memo_key is not None:
            memo.put(memo_key, new)
        if cache is not None:
            cache.put(order, vecs)
    emb = np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
    if windows == 1:
        return np.ascontiguousarray(emb)
    owner = np.repeat(np.arange(len(texts)), [len(ws) for ws in cut])
    out = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
    np.add.at(out, owner, emb)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


class BiEncoderMethod(Method):
    """Rank with a bi-encoder fine-tuned on the linkage task: cosine of the window-averaged embeddings of the
    fine-tuned sentence-transformers model (in [-1, 1]).

    Items are embedded through the ``query`` route and patents through the ``document`` route of an asymmetric
    run, in both directions (:meth:`for_direction` picks which side the queries are); a symmetric run embeds both
    with the same model.

    Args:
        path: a run folder of ``patlink train --architecture biencoder`` (its ``best/`` model is used), or a
            cross-validation folder of them (``fold{f}/``, ``seed{s}/fold{f}/``; :meth:`with_subfolder`).
        windows: windows of the run's ``max_length`` tokens read per text (``runs/NAME@8``); ``None`` = the
            windows the run was trained with.
        batch_size: windows per forward pass.
        device: where the model runs: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``
            (:func:`patlink.devices.resolve_device`, resolved when the model is first used).
        memo: an :class:`~patlink.retrieval.embed.EmbeddingMemo` shared with the other methods of a command
            (``None``: one of its own, shared by its copies).
        cache: keep window vectors on disk (:class:`~patlink.retrieval.embed.EmbeddingCache`, one file per saved
            model: the fingerprint in ``best/biencoder_model.json`` names it, so a retrained run never reads
            the vectors of the model it replaced).

    Raises:
        ValueError: ``windows < 1`` or a device string of an unknown form (at once); ``path`` holding no
            bi-encoder run (when it is first used).
    """

    def __init__(self, path: str | Path, *, windows: int | None = None, batch_size: int = 64,
                 show_progress: bool = False, device: str = "cpu", memo=None, cache: bool = True):
        from patlink.devices import check_device_spec
        from patlink.retrieval.embed import EmbeddingMemo

        if windows is not None and windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        self.path = Path(path)
        self._windows = windows
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.device = check_device_spec(device)
        self.memo = memo if memo is not None else EmbeddingMemo()
        self.cache = cache
        self._shared: dict = {}   # the loaded model and marker, shared by the copies of for_direction / fit
        self._doc_ids: list[str] = []
        self._doc_emb: np.ndarray | None = None
        self._vectors = None      # a VectorSearch over _doc_emb (exact, or an attached ANN index)

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return f"biencoder:{self.path.name}" + (f"@{self._windows}" if self._windows else "")

    @property
    def marker(self) -> dict:
        """The run's ``biencoder.json`` (read once). Raises ``ValueError`` when there is none."""
        if "marker" not in self._shared:
            self._shared["marker"] = read_biencoder_marker(self.path)
        return self._shared["marker"]

    @property
    def windows(self) -> int:
        """Windows read per text: the ``@N`` asked, else the run's."""
        return self._windows or int(self.marker.get("windows", 1))

    @property
    def max_length(self) -> int:
        return int(self.marker.get("max_length", 256))

    @property
    def asymmetric(self) -> bool:
        return bool(self.marker.get("asymmetric", False))

    def params(self) -> dict:
        return {self.name: {"windows": self.windows}} if is_biencoder_dir(self.path) else {}

    # ------------------------------------------------------------------ configuration
    def _reset(self) -> None:
        self._doc_ids, self._doc_emb, self._vectors = [], None, None

    def trained_paths(self) -> list[Path]:
        return [self.path]

    def with_subfolder(self, sub: str) -> BiEncoderMethod:
        inner = self.path / sub
        if inner.is_dir():
            m = copy.copy(self)
            m.path, m._shared = inner, {}
            m._reset()
            return m
        if is_biencoder_dir(self.path):
            return self   # one model for every fold: the leakage check refuses it where it saw the test links
        raise ValueError(f"{self.path} has no {sub}/ (train it with `patlink train --architecture biencoder "
                         "--folds K [--repeats R]`)")

    def text_views(self) -> list[tuple]:
        if not is_biencoder_dir(self.path):
            return []
        m = self.marker
        return [(tuple(m["item_view"]) if m.get("item_view") else None,
                 tuple(m["patent_view"]) if m.get("patent_view") else None)]

    def stored_fusion_alpha(self, direction: Direction) -> float | None:
        """The BM25 fusion weight tuned on validation after training (``runs/NAME+bm25``): the value tuned for
        ``direction`` when recorded, else the joint one; ``None`` when none was stored (the fusion is then tuned
        on validation by ``patlink eval``)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be item2patent or patent2item, got {direction!r}")
        f = self.marker.get("fusion") or {}
        a = f.get(f"alpha_{direction}", f.get("alpha"))
        return None if a is None else float(a)

    # ------------------------------------------------------------------ model
    @property
    def model(self):
        """The loaded ``SentenceTransformer`` of ``best/`` (eval mode)."""
        if "model" not in self._shared:
            from sentence_transformers import SentenceTransformer

            from patlink.devices import resolve_device

            meta = self.marker
            best = self.path / meta.get("model_dir", "best")
            try:
                model = SentenceTransformer(str(best), device=resolve_device(self.device))
            except Exception as e:  # noqa: BLE001 - many loader errors; one line
                raise ValueError(f"cannot load the bi-encoder model {best} ({type(e).__name__}: "
                                 f"{str(e).splitlines()[0] if str(e) else ''})") from None
            model.eval()
            self._shared["model"] = model
            try:
                info = json.loads((best / MODEL_INFO).read_text())
            except (OSError, ValueError):
                info = {}
            self._shared["fingerprint"] = info.get("fingerprint")
        return self._shared["model"]

    def _embed(self, texts: list[str], side: str) -> np.ndarray:
        model = self.model
        fp = self._shared.get("fingerprint")
        key = f"biencoder-{fp}-{ROUTES[side] if self.asymmetric else 'shared'}" if fp else None
        cache = None   # without a fingerprint (a model folder written by hand) nothing is kept: it may change
        if key and self.cache:
            from patlink.retrieval.embed import EmbeddingCache

            cache = EmbeddingCache(key, self.max_length)
        return encode_windows(model, texts, side=side, windows=self.windows, max_length=self.max_length,
                              tokenizer=self.marker.get("base_model_path") or self.marker.get("base_model", "minilm"),
                              batch_size=self.batch_size, cache=cache, memo=self.memo if key else None,
                              memo_key=(key, self.max_length, True, False) if key else None,
                              show_progress=self.show_progress)

    @property
    def _sides(self) -> tuple[str, str]:
        """(query side, document side) in :attr:`direction`."""
        return ("item", "patent") if self.direction == "item2patent" else ("patent", "item")

    # ------------------------------------------------------------------ ranking
    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised query embeddings (items for ``item2patent``)."""
        return self._embed(list(texts), self._sides[0])

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised document embeddings (patents for ``item2patent``)."""
        return self._embed(list(texts), self._sides[1])

    def index(self, corpus: dict[str, str]) -> None:
        _check_corpus(corpus)
        ids = list(corpus)
        self.attach(ids, self.encode_documents([corpus[d] for d in ids]))

    def attach(self, doc_ids: list[str], vectors: np.ndarray, ann=None) -> None:
        """Rank against precomputed document embeddings (a saved index, :mod:`patlink.index`) instead of
        :meth:`index`.

        Args:
            doc_ids: one id per row; vectors: ``(n_docs, d)`` float32 from :meth:`encode_documents` (may be
                memory-mapped); ann: an :class:`patlink.retrieval.ann.AnnIndex` over the rows (``None``: exact).

        Raises:
            ValueError: ids and rows differ in number.
        """
        from patlink.retrieval.vectors import VectorSearch

        if len(doc_ids) != vectors.shape[0]:
            raise ValueError(f"{len(doc_ids)} ids for {vectors.shape[0]} vectors")
        self._doc_ids, self._doc_emb = list(doc_ids), vectors
        self._vectors = VectorSearch(vectors, ann)

    def score_matrix(self, queries: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
        if self._vectors is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        q = self.encode_queries([queries[i] for i in qids])
        return qids, self._doc_ids, self._vectors.scores(q)

    def search(self, queries: dict[str, str], top_k: int = 100) -> Run:
        if self._vectors is None:
            raise RuntimeError("call index() first")
        qids = list(queries)
        return self.search_vectors(qids, self.encode_queries([queries[i] for i in qids]), top_k)

    def search_vectors(self, query_ids: list[str], query_vectors: np.ndarray, top_k: int = 100) -> Run:
        """Top-``top_k`` documents for queries embedded with :meth:`encode_queries` (exact search breaks ties by
        document order, as :func:`patlink.retrieval.base.top_k_run`)."""
        return self._vectors.run(query_ids, query_vectors, self._doc_ids, top_k)
