"""Build a retriever from a ``--method`` string.

=====================  =====================================================================================
``bm25``               BM25 (bm25s)
``dense``              zero-shot dense retrieval with the bundled MiniLM; ``dense:NAME`` with any
                       sentence-transformers model name or path (``dense:mpnet``, ``dense:runs/ft-r1``)
``hybrid``             BM25 + dense, min-max convex combination with α tuned on validation (RRF when no
                       validation links exist); ``hybrid-rrf`` / ``hybrid-convex`` force one
``runs/NAME``          a trained patlink linker (``patlink train``)
``runs/NAME+bm25``     the trained linker fused with BM25 (α stored with the model or tuned on validation)
``runs/NAME+bm25+dense`` the trained linker fused with several baselines (``bm25``, ``dense``, ``dense@N``,
                       ``dense:MODEL``): min-max convex fusion, weights tuned on validation over the simplex
``PATH``               a sentence-transformers model folder (e.g. from ``patlink finetune``): dense retrieval
``…@N``                for ``dense``, ``dense:NAME``, ``hybrid*`` and ``PATH``: read long texts as up to N windows
                       of ``max_length`` tokens and average the window embeddings (``dense@8``, ``hybrid@8``);
                       without it texts are truncated at ``max_length`` (MiniLM: 256 tokens)
=====================  =====================================================================================
"""

from __future__ import annotations

import json
from pathlib import Path

from patlink.retrieval.base import Retriever

__all__ = ["METHODS_HELP", "get_retriever", "is_linker_dir", "is_multi_fusion", "run_split", "split_chunks"]

METHODS_HELP = ("bm25 | dense | dense:MODEL | hybrid | hybrid-rrf | hybrid-convex | runs/NAME (trained linker) | "
                "runs/NAME+bm25 | runs/NAME+bm25+dense | PATH (sentence-transformers folder); dense/hybrid/PATH "
                "take @N to read long texts as N windows (dense@8)")


def split_chunks(method: str) -> tuple[str, int]:
    """``"hybrid@8"`` → ``("hybrid", 8)``; no suffix → ``(method, 1)``. An existing path is never split (a run folder
    may have ``@`` in its name). Raises ``ValueError`` on ``@0`` or ``@x``."""
    m = method.strip()
    base, at, n = m.rpartition("@")
    if not at or Path(m).exists() or Path(m.partition("+")[0]).exists():
        return m, 1
    if not n.isdigit() or int(n) < 1:
        raise ValueError(f"bad window count in {method!r}: use METHOD@N with N >= 1 (e.g. dense@8)")
    return base, int(n)


_FUSABLE = ("bm25", "dense")


def is_multi_fusion(method: str) -> bool:
    """True for ``runs/NAME+A[+B…]`` other than ``runs/NAME+bm25``: a trained linker fused with baselines whose
    weights are tuned on validation at evaluation time (``runs/NAME+bm25+dense``, ``runs/NAME+dense@8``).

    Raises:
        ValueError: a fused part that is not ``bm25``, ``dense``, ``dense@N`` or ``dense:MODEL[@N]``.
    """
    base, plus, extra = method.strip().partition("+")
    if not plus or not is_linker_dir(base):
        return False
    parts = extra.split("+")
    for p in parts:
        name = split_chunks(p)[0].lower()
        if name not in _FUSABLE and not name.startswith("dense:"):
            raise ValueError(f"cannot fuse {p!r} with a linker in {method!r}; fuse with bm25, dense, dense@N or "
                             "dense:MODEL (e.g. runs/NAME+bm25+dense)")
    return [p.lower() for p in parts] != ["bm25"]


def is_linker_dir(path: str | Path) -> bool:
    """True if ``path`` holds a trained patlink linker (``linker.json`` written by ``Linker.save``)."""
    p = Path(path)
    return (p / "linker.json").is_file() or (p / "best" / "linker.json").is_file()


def run_split(path: str | Path) -> dict[str, list[tuple[str, str]]]:
    """The links a trained run was trained, validated and tested on (``split.json`` written by the trainer):
    ``{"train": [(item_id, patent_id), …], "val": […], "test": […]}``; ``{}`` when the run has no ``split.json``."""
    f = Path(path) / "split.json"
    if not f.is_file():
        return {}
    return {k: [tuple(x) for x in v] for k, v in json.loads(f.read_text()).items() if isinstance(v, list)}


def get_retriever(method: str, direction: str = "item2patent", *, alpha: float | None = None,
                  weights: list[float] | None = None, max_length: int = 256,
                  show_progress: bool = False) -> Retriever:
    """Return an un-indexed retriever for ``method`` (see module docstring).

    Args:
        method: the method string.
        direction: ``item2patent`` (queries are items) or ``patent2item``; matters for trained linkers, whose
            item and patent encoders differ.
        alpha: convex weight of the *first* run (BM25 for ``hybrid``, the linker for ``+bm25``); ``None`` means
            the caller tunes it (or RRF is used).
        weights: for ``runs/NAME+A+B…`` (several fused baselines): one convex weight per part, linker first;
            ``None`` = equal weights (callers tune them on validation, see ``evaluate_linkage``).

    Raises:
        ValueError: unknown method; the message lists the valid forms.
    """
    from patlink.retrieval.bm25 import BM25Retriever
    from patlink.retrieval.dense import DenseRetriever
    from patlink.retrieval.fusion import HybridRetriever

    m, chunks = split_chunks(method)
    low = m.lower()
    if low == "bm25":
        return BM25Retriever()
    if low == "dense":
        return DenseRetriever("minilm", max_length=max_length, show_progress=show_progress, max_chunks=chunks)
    if low.startswith("dense:"):
        return DenseRetriever(m.split(":", 1)[1], max_length=max_length, show_progress=show_progress,
                              max_chunks=chunks)
    if low in ("hybrid", "hybrid-rrf", "hybrid-convex"):
        fusion = "rrf" if low == "hybrid-rrf" or (low == "hybrid" and alpha is None) else "convex"
        hr = HybridRetriever(BM25Retriever(), DenseRetriever("minilm", max_length=max_length,
                                                             show_progress=show_progress, max_chunks=chunks),
                             method=fusion, alpha=0.5 if alpha is None else alpha)
        if chunks > 1:
            hr.name += f"@{chunks}"
        return hr
    base, plus, extra = m.partition("+")
    if is_linker_dir(base):
        from patlink.retrieval.linker import LinkerRetriever

        lr = LinkerRetriever(base, direction=direction)
        if not plus:
            return lr
        if is_multi_fusion(m):
            from patlink.retrieval.fusion import FusionRetriever

            parts = [get_retriever(p, direction, max_length=max_length, show_progress=show_progress)
                     for p in extra.split("+")]
            return FusionRetriever([lr, *parts], weights, name=f"{Path(base).name}+{extra}")
        if alpha is None:
            fusion_file = Path(base) / "fusion.json"
            if fusion_file.is_file():
                stored = json.loads(fusion_file.read_text())
                alpha = float(stored.get(f"alpha_{direction}", stored["alpha"]))
        hr = HybridRetriever(lr, BM25Retriever(), method="convex" if alpha is not None else "rrf",
                             alpha=0.5 if alpha is None else alpha)
        hr.name = f"{Path(base).name}+bm25"
        return hr
    p = Path(m)
    if p.is_dir() and ((p / "modules.json").is_file() or (p / "config_sentence_transformers.json").is_file()):
        return DenseRetriever(str(p), max_length=max_length, show_progress=show_progress, max_chunks=chunks)
    raise ValueError(f"unknown method {method!r}; use {METHODS_HELP}")
