"""``--method`` strings → :class:`patlink.methods.Method` objects: the ONE place patlink parses them.

Every command that takes ``--method`` (eval, link, bench, cross-validation, the demo) calls :func:`parse_methods`
and hands the objects to the library. The forms:

=============================  =====================================================================================
``bm25``                       BM25 (bm25s, Lucene, English stop words and stemming)
``dense`` / ``dense:MODEL``    zero-shot dense retrieval, bundled MiniLM or any sentence-transformers name or folder
``hybrid``                     BM25 + dense, min-max convex fusion, α tuned on validation MRR; equal weights without
                               validation data (:class:`patlink.methods.Hybrid`)
``hybrid-rrf``                 BM25 + dense by reciprocal rank fusion (k = 60)
``runs/NAME``                  a trained linker (``patlink train``) or bi-encoder (``patlink train --architecture
                               biencoder``: the run folder's ``biencoder.json``); ``runs/NAME@N`` reads a bi-encoder's
                               texts as N windows
``runs/NAME+bm25``             the linker or bi-encoder fused with BM25 (the weight stored at training, else tuned
                               on validation, else RRF)
``runs/NAME+bm25+dense``       the linker fused with several baselines (``bm25``, ``dense``, ``dense@N``,
                               ``dense:MODEL``), weights tuned on validation over the simplex
``PATH``                       a sentence-transformers model folder (e.g. from ``patlink finetune``): dense
``…@N``                        ``dense``, ``dense:MODEL``, ``hybrid`` and ``PATH``: read long texts as N windows of
                               256 tokens (``dense@8``)
``profile-mean``               new products: cosine to the mean embedding of a patent's known products
``profile-bm25``               new products: BM25 over the concatenated texts of a patent's known products
``knn`` / ``knn:K``            new products: nearest known products (``k`` tuned on validation unless given)
``popularity``                 new products: number of known products (item → patent only)
``knn-linker:runs/NAME``       new products: kNN over a trained linker's embeddings
``profile-linker:runs/NAME``   new products: a trained linker pooling each patent's set of known products
``knn…+bm25``                  ``knn``, ``knn-linker:…`` and ``profile-linker:…`` fused with BM25 (α tuned on
                               validation)
=============================  =====================================================================================

Under ``--protocol new-product`` (and for ``patlink link`` on patents without text) ``bm25``, ``dense`` and
``hybrid`` rank patents by their known products (:func:`patlink.methods.for_new_products`); a trained linker or
bi-encoder ``runs/NAME`` is refused there with one line (use the profile and kNN forms).
"""

from __future__ import annotations

from pathlib import Path

from patlink.methods import (
    BM25,
    KNN,
    BiEncoderMethod,
    Dense,
    Fusion,
    Hybrid,
    KNNLinker,
    LinkerMethod,
    Method,
    Popularity,
    ProfileBM25,
    ProfileLinker,
    ProfileMean,
    is_biencoder_dir,
    is_linker_dir,
)

__all__ = ["METHOD_HELP", "parse_method", "parse_methods"]

METHOD_HELP = ("bm25 | dense | dense:MODEL | hybrid | hybrid-rrf | runs/NAME (trained linker or bi-encoder; "
               "a bi-encoder takes @N windows) | runs/NAME+bm25 | "
               "runs/NAME+bm25+dense (weights tuned on validation) | PATH (sentence-transformers folder); "
               "dense/hybrid/PATH take @N to read long texts as N windows of 256 tokens (dense@8). New products "
               "(--protocol new-product, or patents without text): profile-mean | profile-bm25 | knn | knn:K | "
               "popularity | knn-linker:runs/NAME | profile-linker:runs/NAME, and knn…+bm25. Comma-separate "
               "several to compare them.")


def _is_trained_root(path: str | Path, is_run=is_linker_dir) -> bool:
    """A trained linker (``is_run``: a bi-encoder with :func:`is_biencoder_dir`), or a cross-validation folder of
    them (``fold0/``, ``seed0/fold0/``)."""
    p = Path(path)
    return is_run(p) or any(is_run(c) for c in (p / "fold0", p / "seed0" / "fold0")) or any(
        is_run(c / "fold0") for c in p.glob("seed*")) if p.is_dir() else False


def _is_st_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "modules.json").is_file() or
                              (path / "config_sentence_transformers.json").is_file())


def _windows(spec: str) -> tuple[str, int]:
    """``"hybrid@8"`` → ``("hybrid", 8)``; an existing path is never split (a folder may have ``@`` in its name).
    Raises ``ValueError`` on ``@0`` or ``@x``."""
    base, at, n = spec.rpartition("@")
    if not at or Path(spec).exists() or Path(spec.partition("+")[0]).exists():
        return spec, 1
    if not n.isdigit() or int(n) < 1:
        raise ValueError(f"bad window count in {spec!r}: use METHOD@N with N >= 1 (e.g. dense@8)")
    return base, int(n)


def _lexical_or_dense(base: str, n: int, dev: dict) -> Method | None:
    """``bm25``, ``dense`` or ``dense:MODEL`` read with ``n`` windows; ``None`` for any other form. ``dev``: the
    ``device`` and ``memo`` of the dense methods."""
    low = base.lower()
    if low == "bm25" and n == 1:
        return BM25()
    if low == "dense":
        return Dense(windows=n, **dev)
    if low.startswith("dense:"):
        return Dense(base.split(":", 1)[1], windows=n, **dev)
    return None


def _baseline(part: str, whole: str, dev: dict) -> Method:
    """A baseline fused with a trained linker: bm25, dense, dense@N, dense:MODEL[@N]."""
    m = _lexical_or_dense(*_windows(part.strip()), dev)
    if m is not None:
        return m
    raise ValueError(f"cannot fuse {part!r} with a linker in {whole!r}; fuse with bm25, dense, dense@N or "
                     "dense:MODEL (e.g. runs/NAME+bm25+dense)")


def _model_path(spec: str, kind: str) -> str:
    path = spec.split(":", 1)[1].strip() if ":" in spec else ""
    if not path:
        raise ValueError(f"{kind} needs a trained model folder: --method {kind}:runs/NAME")
    return path


def _with_baselines(trained: Method, head: str, extra: str, whole: str, dev: dict) -> Fusion:
    """A trained model (linker or bi-encoder run ``head``) fused with the baselines ``extra`` (``bm25``,
    ``bm25+dense`` …): with BM25 alone the weight the run stored (tuned on validation when it was trained),
    otherwise weights tuned on validation."""
    parts = [_baseline(p, whole, dev) for p in extra.split("+")]
    name = f"{Path(head).name}+{extra}"
    if [p.lower() for p in extra.split("+")] == ["bm25"]:
        return Fusion([trained, *parts], weights="stored", untuned="rrf", name=name)
    return Fusion([trained, *parts], untuned="validation", name=name)


def parse_method(spec: str, *, device: str = "cpu", memo=None) -> Method:
    """Parse one ``--method`` string (see the module docstring) into a method object.

    Args:
        spec: the string.
        device: where the method's networks run (dense models, trained linkers): ``cpu``, ``cuda``, ``cuda:N``,
            ``mps`` or ``auto`` (``--device``; :func:`patlink.devices.resolve_device`).
        memo: the :class:`patlink.retrieval.embed.EmbeddingMemo` its dense parts share with the other methods of
            the command (``None``: a memo of its own).

    Raises:
        ValueError: an unknown form (the message lists the valid ones), a bad ``@N``, a linker path that holds no
            trained linker, or a baseline that cannot be fused with a linker.
    """
    dev = {"device": device, "memo": memo}
    m = spec.strip()
    low = m.lower()
    if not m:
        raise ValueError(f"empty method; use {METHOD_HELP}")
    # new-product (profile) methods, with an optional +bm25
    if low.endswith("+bm25") and low.startswith(("knn", "profile-linker")):
        first = parse_method(m[: -len("+bm25")], device=device, memo=memo)
        return Fusion([first, BM25()], untuned="rrf", name=f"{first.name}+bm25")
    if low in ("profile-mean", "profile-bm25"):
        return ProfileMean() if low == "profile-mean" else ProfileBM25()
    if low == "knn" or low.startswith("knn:"):
        k = m.split(":", 1)[1] if ":" in m else None
        if k is not None and (not k.isdigit() or int(k) < 1):
            raise ValueError(f"bad neighbour count in {spec!r}: use knn:K with K >= 1")
        return KNN(int(k) if k else None)
    if low == "popularity":
        return Popularity()
    if low.startswith("knn-linker"):
        return KNNLinker(_model_path(m, "knn-linker"))
    if low.startswith("profile-linker"):
        return ProfileLinker(_model_path(m, "profile-linker"))
    # a fine-tuned bi-encoder (runs/NAME, runs/NAME@N, runs/NAME@N+bm25 …)
    be_head, be_windows = _windows(m.partition("+")[0])
    if _is_trained_root(be_head, is_biencoder_dir):
        head, plus, extra = m.partition("+")
        be = BiEncoderMethod(be_head, windows=be_windows if be_head != head else None, device=device, memo=memo)
        return _with_baselines(be, head, extra, m, dev) if plus else be
    # text methods
    base, n = _windows(m)
    text = _lexical_or_dense(base, n, dev)
    if text is not None:
        return text
    low = base.lower()
    if low in ("hybrid", "hybrid-convex"):
        return Hybrid(windows=n, **dev)
    if low == "hybrid-rrf":
        return Hybrid(windows=n, how="rrf", **dev)
    head, plus, extra = m.partition("+")
    if _is_trained_root(head):
        linker = LinkerMethod(head, device=device)
        return _with_baselines(linker, head, extra, m, dev) if plus else linker
    path = Path(base)
    if _is_st_folder(path):
        return Dense(str(path), windows=n, **dev)
    if plus or path.exists():
        raise ValueError(f"{head} holds no trained linker (expected {head}/best/linker.json from `patlink train`) "
                         "and is not a sentence-transformers folder")
    raise ValueError(f"unknown method {spec!r}; use {METHOD_HELP}")


def parse_methods(specs: str, *, device: str = "cpu", memo=None) -> dict[str, Method]:
    """Comma-separated ``--method`` strings → ``{string as given: method}`` (in order). Raises ``ValueError``.

    ``device`` as in :func:`parse_method`. The methods share one
    :class:`~patlink.retrieval.embed.EmbeddingMemo` (``memo``, or a new one): ``dense,hybrid`` reads each text's
    vector once, not once per method."""
    from patlink.retrieval.embed import EmbeddingMemo

    memo = memo if memo is not None else EmbeddingMemo()
    out: dict[str, Method] = {}
    for s in (x.strip() for x in specs.split(",")):
        if s:
            out[s] = parse_method(s, device=device, memo=memo)
    if not out:
        raise ValueError(f"no method given; use {METHOD_HELP}")
    return out
