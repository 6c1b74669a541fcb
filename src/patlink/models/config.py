"""Typed configuration of the trained linker, in the models layer (the training layer re-exports it).

:class:`EncoderConfig` is the shape of the two encoders of the dual-encoder linker (El Bouari & de Rassenfosse,
"Product-Patent linkage prediction", §3.2); :class:`LinkerSettings` is everything a *trained* linker needs at
inference besides its weights (backbone, token windows, text views, temperature, BM25 fusion weights), recorded
in its ``linker.json`` so that a model folder describes itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DIRECTIONS", "EncoderConfig", "FusionWeights", "LinkerSettings", "normalize_view"]

#: The two ranking directions of a linker: items (products, papers) query patents, or patents query items.
DIRECTIONS = ("item2patent", "patent2item")


@dataclass
class EncoderConfig:
    """Shape of each encoder (item and patent have the same shape, separate weights).

    Attributes:
        backbone: frozen sentence-transformers model whose token embeddings are pooled (``minilm`` bundled).
        max_length: backbone tokens per text (longer texts truncated).
        hidden: width of the residual FFN blocks. out_dim: embedding size.
        n_heads: attention-pooling heads (must divide the backbone size). n_queries: learned pooling queries.
        n_blocks: residual FFN blocks. dropout: dropout of the blocks.
        max_set_tokens: cap on the concatenated tokens of a patent encoded as a set of product texts (8192 ≈ 32
            products of 256 tokens; attention pooling is O(L·d), so long sets are cheap; with 2048 the first ~8
            products only were kept and honeywell-vpm test MRR item→patent was 0.02 lower).
        max_chunks: windows of ``max_length`` tokens per text (1 = truncate at ``max_length``, the paper's
            setting). With ``max_chunks > 1`` a long text (claims: median ~1,130 MiniLM tokens) is cut into
            consecutive windows, each run through the backbone, and attention pooling runs over the tokens of all
            its windows (:mod:`patlink.data.chunking`).
        init: ``backbone`` — the untrained encoder equals the backbone's mean-pooled sentence embedding (pooling
            starts uniform, identity skip path, zero head), so training refines the zero-shot model; ``random`` —
            plain random initialisation (upstream).
    """

    backbone: str = "minilm"
    max_length: int = 256
    hidden: int = 384
    out_dim: int = 384
    n_heads: int = 4
    n_queries: int = 2
    n_blocks: int = 2
    dropout: float = 0.1
    max_set_tokens: int = 8192
    init: str = "backbone"
    max_chunks: int = 1


def normalize_view(view: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """A text view as a tuple of lower-case field names: ``"title,abstract"`` / ``"title+abstract"`` /
    ``["title", "abstract"]`` → ``("title", "abstract")``; ``None`` or an empty spec → ``None`` (no view given).

    Field names are not checked against a dataset here (:meth:`patlink.data.dataset.Dataset.with_views` does).
    """
    if view is None:
        return None
    parts = view.replace("+", ",").split(",") if isinstance(view, str) else list(view)
    out = tuple(str(p).strip().lower() for p in parts if str(p).strip())
    return out or None


@dataclass(frozen=True)
class FusionWeights:
    """Convex weights α of a linker fused with BM25 (``s = α·linker + (1-α)·bm25`` after min-max normalisation),
    tuned on the validation links at the end of training (:func:`patlink.training.fusion.tune_linker_fusion`).

    Attributes:
        alpha: the joint α, maximising the mean validation MRR of both directions.
        alpha_item2patent / alpha_patent2item: α maximising one direction's validation MRR (``None`` when not
            recorded, e.g. an old ``fusion.json``).
        metric: the tuned metric (``mrr``). tuned_on: the split tuned on (always ``val``). n_val_links: its links.
        grid: the α values tried. val_mrr: per direction, the validation metric at each grid value.

    Raises:
        ValueError: (on construction) an α outside [0, 1].
    """

    alpha: float
    alpha_item2patent: float | None = None
    alpha_patent2item: float | None = None
    metric: str = "mrr"
    tuned_on: str = "val"
    n_val_links: int | None = None
    grid: tuple[float, ...] = ()
    val_mrr: Mapping[str, Sequence[float]] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("alpha", "alpha_item2patent", "alpha_patent2item"):
            a = getattr(self, name)
            if a is not None and not 0.0 <= float(a) <= 1.0:
                raise ValueError(f"fusion weight {name}={a} is outside [0, 1]")

    def for_direction(self, direction: str) -> float:
        """The α to fuse ``direction`` with: that direction's own α when recorded, else the joint ``alpha``.

        The per-direction weight is the one tuned for the ranking actually evaluated; the joint weight is the
        fallback for records that hold only it. Raises ``ValueError`` on an unknown direction.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be item2patent or patent2item, got {direction!r}")
        own = self.alpha_item2patent if direction == "item2patent" else self.alpha_patent2item
        return float(self.alpha if own is None else own)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the keys of the historical ``fusion.json``)."""
        return {"alpha": self.alpha, "alpha_item2patent": self.alpha_item2patent,
                "alpha_patent2item": self.alpha_patent2item, "metric": self.metric, "grid": list(self.grid),
                "val_mrr": {k: list(v) for k, v in self.val_mrr.items()}, "tuned_on": self.tuned_on,
                "n_val_links": self.n_val_links}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FusionWeights:
        """Build from a ``fusion.json``-style dict (unknown keys ignored). Raises ``ValueError`` without ``alpha``."""
        if "alpha" not in d:
            raise ValueError(f"a fusion record needs 'alpha', got keys {sorted(d)}")
        opt = lambda k: None if d.get(k) is None else float(d[k])
        return cls(alpha=float(d["alpha"]), alpha_item2patent=opt("alpha_item2patent"),
                   alpha_patent2item=opt("alpha_patent2item"), metric=str(d.get("metric", "mrr")),
                   tuned_on=str(d.get("tuned_on", "val")),
                   n_val_links=None if d.get("n_val_links") is None else int(d["n_val_links"]),
                   grid=tuple(float(a) for a in d.get("grid", ())),
                   val_mrr={k: [float(x) for x in v] for k, v in (d.get("val_mrr") or {}).items()})


@dataclass(frozen=True)
class LinkerSettings:
    """What a trained linker needs at inference besides its weights, as recorded in its ``linker.json``.

    Attributes:
        backbone: the frozen sentence-transformers model whose token embeddings the encoders pool, by its real
            name or path (:func:`patlink.config.canonical_model_name`; the bundled MiniLM is
            ``sentence-transformers/all-MiniLM-L6-v2``, loaded from the bundled package's files offline).
        max_length: backbone tokens per window, special tokens included.
        max_chunks: windows of ``max_length`` tokens read per text (1 = truncation).
        temperature: τ of the training loss.
        item_view / patent_view: the text views (field names in order) the linker was trained on; ``None`` when not
            recorded (a folder saved outside ``patlink train`` with no views given).
        fusion: the BM25 fusion weights tuned on validation, ``None`` when not tuned.
    """

    backbone: str
    max_length: int = 256
    max_chunks: int = 1
    temperature: float = 0.05
    item_view: tuple[str, ...] | None = None
    patent_view: tuple[str, ...] | None = None
    fusion: FusionWeights | None = None

    def fusion_alpha(self, direction: str) -> float | None:
        """Convex weight of the linker when fused with BM25 for ``direction`` (``item2patent`` | ``patent2item``).

        Rule: the α tuned for that direction when it was recorded, else the joint α (tuned on the mean of both
        directions), ``None`` when no fusion was tuned (callers then tune on validation or use RRF).

        Raises:
            ValueError: unknown direction.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be item2patent or patent2item, got {direction!r}")
        return None if self.fusion is None else self.fusion.for_direction(direction)

    def check_views(self, item_view: str | Sequence[str] | None = None,
                    patent_view: str | Sequence[str] | None = None
                    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """The text views to read items and patents with, given those requested.

        Rule, per side: no view requested (``None``) → the recorded training view (``None`` when none was
        recorded, i.e. the dataset's default); a requested view equal to the recorded one → it; a requested view
        that differs from the recorded one → it, with a :class:`UserWarning` naming both (the linker then reads
        texts it was not trained on).

        Args:
            item_view / patent_view: ``"title,abstract"``, ``"title+abstract"``, a sequence of fields, or ``None``.

        Returns:
            ``(item_view, patent_view)``, each a tuple of lower-case field names or ``None``; pass them to
            :meth:`patlink.data.dataset.Dataset.with_views`.
        """
        out = []
        for side, asked, recorded in (("item", item_view, self.item_view), ("patent", patent_view, self.patent_view)):
            asked = normalize_view(asked)
            if asked is None:
                out.append(recorded)
                continue
            if recorded is not None and asked != recorded:
                warnings.warn(f"the trained model was trained on {side} view {','.join(recorded)!r} but is given "
                              f"{','.join(asked)!r}: its scores read texts it was not trained on",
                              UserWarning, stacklevel=2)
            out.append(asked)
        return out[0], out[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the settings part of ``linker.json``)."""
        return {"backbone": self.backbone, "max_length": self.max_length, "max_chunks": self.max_chunks,
                "temperature": self.temperature,
                "item_view": None if self.item_view is None else list(self.item_view),
                "patent_view": None if self.patent_view is None else list(self.patent_view),
                "fusion": None if self.fusion is None else self.fusion.to_dict()}
