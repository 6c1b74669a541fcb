"""Typed configuration of the trained linker (El Bouari & de Rassenfosse, "Product-Patent linkage prediction",
§3.2–3.4), as nested dataclasses, one per concern, in the manner of training-argument dataclasses.

::

    TrainConfig
    ├── encoder     EncoderConfig     backbone and the shape of both encoders (patlink.models.config)
    ├── optim       OptimConfig       AdamW, warm-up + cosine schedule, ZClip, L2-SP anchor
    ├── loss        LossConfig        supcon | nca, temperature, denominator, lexical residual
    ├── negatives   NegativesConfig   extra-negative source, its curriculum, bank, BM25 pools, adversary
    │   ├── adversary AdversaryConfig the REINFORCE policies
    │   └── mining    MiningConfig    positive-aware mined negatives (teacher, percpos | simans)
    ├── patents     PatentsConfig     patents as their own text, or as the set of their items (pooled / members)
    ├── validation  ValidationConfig  selection metric, evaluation points, early stopping, fusion tuning
    └── epochs, batch_size, seed, threads, progress, device, mixed_precision

:meth:`TrainConfig.validate` checks types, ranges and every cross-field rule, each error one line naming the field
(and its flat name in older configs); :meth:`TrainConfig.check_token_width` checks the sizes against the backbone's
token width. Both run before any token embedding is computed or file written. :meth:`TrainConfig.from_dict` reads
the nested form and the flat keys of earlier configs (``{"patent_repr": "item_set", "set_scoring": "members"}``,
every ``config.json`` written so far); :meth:`TrainConfig.to_dict` writes the nested form and round-trips.

Defaults are sized for 1–20k training edges on a CPU: each encoder has 1.19M trainable parameters with the
MiniLM backbone (attention pooling over 384-d tokens with 2 learned queries and 4 heads, a 384-wide projection,
2 residual blocks, 384-d output plus an identity-initialised skip path), ~100× fewer than the authors' 140M per
encoder for 16.7k edges. With ~1.5k training pairs (pap2pat) a 140M-parameter head memorises the pairs in one
epoch; a ~1M head keeps the parameter / edge ratio near 100–1000 and one epoch takes seconds on 2 cores, which is
what makes early stopping on validation MRR and ablations affordable.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from patlink.models.config import EncoderConfig  # the encoder shape lives in the models layer; re-exported here

__all__ = [
    "FLAT_KEYS",
    "AdversaryConfig",
    "Curriculum",
    "EncoderConfig",
    "LossConfig",
    "MiningConfig",
    "NegativesConfig",
    "OptimConfig",
    "PatentsConfig",
    "TrainConfig",
    "ValidationConfig",
]

NegativeSource = Literal["inbatch", "random", "bm25", "adversarial", "known", "mined"]
MiningScorer = Literal["bm25", "dense"]
MiningStrategy = Literal["percpos", "simans"]
KnownFallback = Literal["random", "none"]
NegativeEmbeddings = Literal["bank", "encode"]
BankRefresh = Literal["once", "epoch"]
PatentRepresentation = Literal["text", "item_set"]
SetScoring = Literal["pool", "members"]
LossName = Literal["supcon", "nca"]
Denominator = Literal["negatives", "all"]
SelectMetric = Literal["mrr_item2patent", "mrr_patent2item", "mrr_mean"]
EncoderInit = Literal["backbone", "random"]


@dataclass
class OptimConfig:
    """Optimisation of the two encoders.

    Attributes:
        lr: AdamW learning rate (> 0). weight_decay: AdamW weight decay (>= 0).
        warmup_ratio: fraction of all steps of linear warm-up before the cosine decay, in [0, 1).
        zclip: ZClip adaptive gradient clipping (``zclip`` package); zclip_max_norm: its hard cap (> 0).
        anchor: L2-SP weight (Li, Grandvalet & Davoine, "Explicit Inductive Bias for Transfer Learning with
            Convolutional Networks"): adds ``anchor · Σ‖θ − θ₀‖²`` to the loss, pulling the encoders towards their
            initialisation (the zero-shot backbone with ``encoder.init="backbone"``); 0 disables.
    """

    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    zclip: bool = True
    zclip_max_norm: float = 5.0
    anchor: float = 10.0


@dataclass
class LossConfig:
    """The training loss (:mod:`patlink.losses`).

    Attributes:
        name: ``supcon`` — bidirectional supervised contrastive loss (:class:`patlink.losses.supcon.SupConLoss`);
            ``nca`` — the soft-kNN loss (:class:`patlink.losses.soft_knn.SoftKNNLoss`), only with patents scored by
            their members (``patents.scoring="members"``) and in-batch negatives: each query item's softmax over ALL
            known items must put its mass on items carrying the query's patents; only the item (query) encoder
            trains, the known items keep the patent encoder's initial embeddings (a fixed bank).
        temperature: τ of eq. 1 (> 0). denominator: ``negatives`` (paper eqs. 2–3) or ``all`` (whole row).
        lexical_residual: λ of residual training against BM25 (:mod:`patlink.training.lexical`): the training and
            validation logits get ``λ ·`` (BM25 score / the query's best BM25 score) added, so the linker learns what
            BM25 misses and is meant to be fused with it (``runs/NAME+bm25``). 0 = off (the paper). Needs patent text.
    """

    name: LossName = "supcon"
    temperature: float = 0.05
    denominator: Denominator = "negatives"
    lexical_residual: float = 0.0


@dataclass
class AdversaryConfig:
    """The two REINFORCE hard-negative policies of §3.4 (``negatives.source="adversarial"``).

    Attributes:
        hidden: width of the policy MLP (embedding → hidden → logits over the training items/patents), >= 1.
        lr: learning rate of the policies (AdamW), > 0.
    """

    hidden: int = 256
    lr: float = 1e-3


@dataclass
class MiningConfig:
    """Mined extra negatives (``negatives.source="mined"``, :mod:`patlink.training.negatives.mined`): a teacher ranks
    each training query's candidates once, before training, and they are filtered or weighted around the score of
    the query's positive (:mod:`patlink.training.mining`).

    Attributes:
        scorer: the teacher: ``bm25`` or ``dense`` (the zero-shot backbone ``encoder.backbone``, cosine scores).
        strategy: ``percpos`` — candidates scoring above ``margin`` × the query's lowest positive score are dropped
            as likely false negatives, the rest drawn uniformly (Moreira et al., "NV-Retriever: Improving text
            embedding models with effective hard-negative mining", TopK-PercPos); ``simans`` — drawn with probability
            ∝ ``exp(−a (s − s⁺ − b)²)`` (Zhou et al., "SimANS: Simple Ambiguous Negatives Sampling for Dense Text
            Retrieval"; BM25 scores divided by the positive's).
        depth: documents the teacher retrieves per query, positives included (>= 1).
        margin: ``percpos`` threshold, in (0, 1] (the paper's 0.95).
        a / b: SimANS density (> 0) and peak offset (the authors' code defaults 0.5 and 0).
    """

    scorer: MiningScorer = "bm25"
    strategy: MiningStrategy = "percpos"
    depth: int = 50
    margin: float = 0.95
    a: float = 0.5
    b: float = 0.0


@dataclass
class NegativesConfig:
    """Where extra negatives come from, how many, and how they are embedded.

    Attributes:
        source: ``inbatch`` (the other links of the batch only) | ``random`` | ``bm25`` (drawn from each query's
            BM25 candidates) | ``known`` (drawn from each query's known negatives, the dataset's
            ``negative_links``: pairs judged non-relevant, e.g. rejected by a reviewer) | ``adversarial`` (the
            REINFORCE policies) | ``mined`` (drawn from each query's teacher candidates, positive-aware:
            :class:`MiningConfig`).
        per_epoch: extra negatives per query for epoch 1, 2, 3 … (the last value repeats): the §3.4 curriculum.
        bm25_pool: BM25 candidates per query for ``source="bm25"`` (>= 1).
        known_fallback: for ``source="known"``, what a query without known negatives among the training documents
            draws: ``random`` (uniform, as ``source="random"``) or ``none``
            (:class:`patlink.training.negatives.known.KnownNegatives`).
        exclusive: a negative drawn for one query is masked for the next queries of the batch (§3.4 "duplicates
            among selected negatives"); otherwise each query samples independently and duplicates are merged.
        embeddings: ``bank`` — negatives use a no-grad embedding bank (gradient reaches the query side only; cost
            ≈ 1.3× a plain epoch); ``encode`` — negatives are re-encoded with gradient every step (the authors'
            behaviour, cost grows with the number of negatives).
        bank_refresh: ``once`` — the bank is computed at the first epoch with extra negatives (and after a resume)
            and kept fresh by writing back every batch's embeddings (each entry at most one epoch old);
            ``epoch`` — full refresh at the start of every epoch with extra negatives.
        adversary: :class:`AdversaryConfig`. mining: :class:`MiningConfig`.
    """

    source: NegativeSource = "inbatch"
    per_epoch: tuple[int, ...] = (0, 5, 10)
    bm25_pool: int = 50
    known_fallback: KnownFallback = "random"
    exclusive: bool = True
    embeddings: NegativeEmbeddings = "bank"
    bank_refresh: BankRefresh = "once"
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)
    mining: MiningConfig = field(default_factory=MiningConfig)


@dataclass
class PatentsConfig:
    """How a patent is represented (:mod:`patlink.training.patents`).

    Attributes:
        representation: ``text`` — a patent is encoded from its own text; ``item_set`` — from the SET of texts of
            its linked training items (patents without text, e.g. ``honeywell-vpm``). In a step a patent's set
            never contains an item of the same batch (leave-batch-out, so the model cannot learn identity), links
            whose patent has no other training item are skipped. Validation (new-product protocol): sets from all
            training items; each validation item ranks the training patents, each validation patent the
            validation items.
        scoring: with ``item_set``: ``pool`` — a patent is ONE vector, the attention pooling of its set's tokens
            (``profile-linker:PATH``); ``members`` — a patent is scored by its members, kNN style: each known item
            is encoded alone by the patent encoder and a patent's score is the sum of the positive cosines of the
            query's ``members_k`` nearest members linked to it (``knn-linker:PATH``). Training then samples ONE
            other member per patent and step, and an extra negative patent is one of its known items outside the
            batch.
        set_max_items: items sampled per pooled patent set in a training step (>= 1; inference uses them all, up
            to ``encoder.max_set_tokens`` tokens).
        members_k: neighbours of the ``members`` scoring at validation (>= 1).
    """

    representation: PatentRepresentation = "text"
    scoring: SetScoring = "pool"
    set_max_items: int = 8
    members_k: int = 10


@dataclass
class ValidationConfig:
    """Validation, checkpoint selection, early stopping and the final fusion tuning.

    Attributes:
        select_metric: ``mrr_item2patent`` | ``mrr_patent2item`` | ``mrr_mean`` — picks the checkpoint.
        patience: evaluations without improvement before stopping (0 = never stop early).
        eval_every: evaluate every this many optimizer steps (0 = use ``evals_per_epoch``).
        evals_per_epoch: when ``eval_every`` is 0, evaluations per epoch, evenly spaced, the last at its end.
        eval_at_start: validate the initial model too (step 0), so a run whose training never beats the
            zero-shot backbone keeps the backbone (``best_step`` = 0).
        batch_size: texts per encoder forward pass at evaluation.
        full_metrics: besides the exact full-ranking MRR, compute MRR, MAP, nDCG@10, P@k, Recall@k and R_cap@k
            on the top-100 run with ranx (:mod:`patlink.retrieval.measures`; the first call JIT-compiles ranx).
        tune_fusion: at the end, tune the convex weight α of the linker vs BM25 on the validation links
            (``fusion.json``, read by ``--method runs/NAME+bm25``); patents with text only.
    """

    select_metric: SelectMetric = "mrr_mean"
    patience: int = 6
    eval_every: int = 0
    evals_per_epoch: int = 4
    eval_at_start: bool = True
    batch_size: int = 256
    full_metrics: bool = True
    tune_fusion: bool = True


#: Flat keys of earlier configs → their nested path (``adversary`` is handled apart: its keys moved too).
FLAT_KEYS: dict[str, tuple[str, str]] = {
    "lr": ("optim", "lr"), "weight_decay": ("optim", "weight_decay"), "warmup_ratio": ("optim", "warmup_ratio"),
    "zclip": ("optim", "zclip"), "zclip_max_norm": ("optim", "zclip_max_norm"), "anchor": ("optim", "anchor"),
    "member_loss": ("loss", "name"), "temperature": ("loss", "temperature"), "denominator": ("loss", "denominator"),
    "lexical_residual": ("loss", "lexical_residual"),
    "negatives": ("negatives", "source"), "hard_negatives": ("negatives", "per_epoch"),
    "bm25_pool": ("negatives", "bm25_pool"),
    "patent_repr": ("patents", "representation"), "set_scoring": ("patents", "scoring"),
    "set_max_items": ("patents", "set_max_items"), "members_k": ("patents", "members_k"),
    "select_metric": ("validation", "select_metric"), "patience": ("validation", "patience"),
    "eval_every": ("validation", "eval_every"), "evals_per_epoch": ("validation", "evals_per_epoch"),
    "eval_at_start": ("validation", "eval_at_start"), "eval_batch_size": ("validation", "batch_size"),
    "full_val_metrics": ("validation", "full_metrics"), "tune_fusion": ("validation", "tune_fusion"),
}
#: Keys of the flat ``adversary`` section of earlier configs → their nested path.
_FLAT_ADVERSARY: dict[str, tuple[str, ...]] = {
    "hidden": ("negatives", "adversary", "hidden"), "lr": ("negatives", "adversary", "lr"),
    "exclusive": ("negatives", "exclusive"), "negative_embeddings": ("negatives", "embeddings"),
    "bank_refresh": ("negatives", "bank_refresh"),
}
_SECTIONS = {"encoder": EncoderConfig, "optim": OptimConfig, "loss": LossConfig, "negatives": NegativesConfig,
             "patents": PatentsConfig, "validation": ValidationConfig}
_OLD_NAME = {".".join(path): flat for flat, path in FLAT_KEYS.items()}
_OLD_NAME.update({".".join(path): f"adversary.{k}" for k, path in _FLAT_ADVERSARY.items()})


def _label(path: str) -> str:
    """``negatives.source (negatives)``: the field, and its flat name in earlier configs when it had another."""
    old = _OLD_NAME.get(path)
    return f"{path} ({old})" if old and old != path else path


class Curriculum:
    """Extra negatives per query for each epoch (§3.4): ``counts[e]`` for 0-based epoch ``e``, the last repeating.

    ``Curriculum((0, 5, 10)).at(0) == 0``, ``.at(1) == 5``, ``.at(7) == 10``; ``Curriculum(())`` is in-batch only.
    """

    def __init__(self, counts: tuple[int, ...] | list[int]):
        self.counts = tuple(int(k) for k in counts)

    def at(self, epoch: int) -> int:
        """Extra negatives per query in (0-based) ``epoch``."""
        if not self.counts:
            return 0
        return self.counts[min(epoch, len(self.counts) - 1)]

    def ever(self) -> bool:
        """True when some epoch draws extra negatives."""
        return any(k > 0 for k in self.counts)


@dataclass
class TrainConfig:
    """Everything :func:`patlink.training.trainer.train_linker` needs (see the module docstring for the tree).

    Attributes:
        encoder: :class:`EncoderConfig`. optim: :class:`OptimConfig`. loss: :class:`LossConfig`.
        negatives: :class:`NegativesConfig`. patents: :class:`PatentsConfig`. validation: :class:`ValidationConfig`.
        epochs: maximum epochs (>= 1). batch_size: training links per step (>= 2: in-batch negatives).
        seed: seeds torch, numpy, the batches and the member sampling. threads: torch intra-op threads (0 = leave
            as is). progress: progress bars and one line per epoch.
        device: where the backbone (token embeddings of missing texts) and the two encoders run: ``cpu``,
            ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (:func:`patlink.devices.resolve_device`). The default is
            ``cpu``, not ``auto``, for reproducibility: a config then trains the same way, to the same numbers
            bitwise, on every machine (CUDA kernels are not bitwise equal to the CPU's and mixed precision rounds
            differently), and a saved config never silently changes meaning on a machine with a GPU. The command
            line passes ``--device`` (default ``auto``). A run may resume on another device (it is not part of the
            resume check); the extra-negative sampler and the adversary's policies always run on the CPU with the
            checkpointed generator, and after a resume on CUDA only the CPU RNG is restored (dropout then draws
            other masks than an uninterrupted CUDA run).
        mixed_precision: on CUDA, run the forward passes and the loss under :func:`patlink.devices.autocast`
            (bfloat16 where supported, else float16 with a :func:`patlink.devices.grad_scaler`); the weights,
            optimizer and validation stay float32. Ignored (float32) on the CPU and MPS.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    negatives: NegativesConfig = field(default_factory=NegativesConfig)
    patents: PatentsConfig = field(default_factory=PatentsConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    epochs: int = 10
    batch_size: int = 64
    seed: int = 0
    threads: int = 0
    progress: bool = True
    device: str = "cpu"
    mixed_precision: bool = True

    # ------------------------------------------------------------------ derived views
    @property
    def curriculum(self) -> Curriculum:
        """The extra negatives per epoch: ``negatives.per_epoch``, none at all for ``negatives.source="inbatch"``."""
        return Curriculum(() if self.negatives.source == "inbatch" else self.negatives.per_epoch)

    def hard_negatives_at(self, epoch: int) -> int:
        """Extra negatives per query in (0-based) ``epoch`` (:attr:`curriculum`)."""
        return self.curriculum.at(epoch)

    # ------------------------------------------------------------------ validation
    def check_types(self) -> None:
        """Raise ``ValueError`` with one line naming the field (and its flat name in earlier configs) whose value
        has the wrong type: ``{"epochs": "3"}``, ``{"hard_negatives": 5}`` … The first part of :meth:`validate`,
        usable on a config read from a file before command-line changes are applied to it."""
        _check_types(self, "")

    def validate(self) -> None:
        """Raise ``ValueError`` with one line naming the field for a wrong type, a value out of range or an
        impossible combination (called before training, before any embedding is computed)."""
        self.check_types()
        e, o, lo, n, p, v = self.encoder, self.optim, self.loss, self.negatives, self.patents, self.validation
        sets, members = p.representation == "item_set", p.scoring == "members"
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 2,
             f"batch_size must be >= 2 (in-batch negatives need two links), got {self.batch_size}"),
            (self.threads >= 0, f"threads must be >= 0, got {self.threads}"),
            (o.lr > 0, f"{_label('optim.lr')} must be > 0, got {o.lr}"),
            (o.weight_decay >= 0, f"{_label('optim.weight_decay')} must be >= 0, got {o.weight_decay}"),
            (0 <= o.warmup_ratio < 1, f"{_label('optim.warmup_ratio')} must be in [0, 1), got {o.warmup_ratio}"),
            (o.zclip_max_norm > 0, f"{_label('optim.zclip_max_norm')} must be > 0, got {o.zclip_max_norm}"),
            (o.anchor >= 0, f"{_label('optim.anchor')} must be >= 0, got {o.anchor}"),
            (lo.temperature > 0, f"{_label('loss.temperature')} must be > 0, got {lo.temperature}"),
            (lo.lexical_residual >= 0, f"{_label('loss.lexical_residual')} must be >= 0, got {lo.lexical_residual}"),
            (not sets or lo.lexical_residual == 0,
             (f"{_label('loss.lexical_residual')} needs patent text (patent_repr='text'): BM25 scores patents by "
              "their own words")),
            (lo.name == "supcon" or (sets and members and n.source == "inbatch"),
             (f"{_label('loss.name')}: member_loss='nca' needs set_scoring='members' (with patent_repr='item_set') "
              "and negatives='inbatch' (its softmax runs over every known item)")),
            (len(n.per_epoch) >= 1 and all(k >= 0 for k in n.per_epoch),
             f"{_label('negatives.per_epoch')} must be a non-empty list of counts >= 0, got {list(n.per_epoch)}"),
            (n.bm25_pool >= 1, f"{_label('negatives.bm25_pool')} must be >= 1, got {n.bm25_pool}"),
            (not sets or n.source == "inbatch" or members,
             (f"{_label('negatives.source')}: extra negatives with patent_repr='item_set' need "
              "set_scoring='members' (a negative patent is one of its known items; a pooled set would contain the "
              "batch's own items)")),
            (n.adversary.hidden >= 1, f"{_label('negatives.adversary.hidden')} must be >= 1, got {n.adversary.hidden}"),
            (n.adversary.lr > 0, f"{_label('negatives.adversary.lr')} must be > 0, got {n.adversary.lr}"),
            (n.mining.depth >= 1, f"negatives.mining.depth must be >= 1, got {n.mining.depth}"),
            (0 < n.mining.margin <= 1, f"negatives.mining.margin must be in (0, 1], got {n.mining.margin}"),
            (n.mining.a > 0, f"negatives.mining.a must be > 0, got {n.mining.a}"),
            (sets or not members,
             (f"{_label('patents.scoring')}: set_scoring='members' needs patent_repr='item_set' (patents known by "
              "their linked items)")),
            (p.set_max_items >= 1, f"{_label('patents.set_max_items')} must be >= 1, got {p.set_max_items}"),
            (p.members_k >= 1, f"{_label('patents.members_k')} must be >= 1, got {p.members_k}"),
            (v.patience >= 0, f"{_label('validation.patience')} must be >= 0, got {v.patience}"),
            (v.evals_per_epoch >= 1, f"{_label('validation.evals_per_epoch')} must be >= 1, got {v.evals_per_epoch}"),
            (v.eval_every >= 0, f"{_label('validation.eval_every')} must be >= 0, got {v.eval_every}"),
            (v.batch_size >= 1, f"{_label('validation.batch_size')} must be >= 1, got {v.batch_size}"),
            (e.max_length >= 2, f"encoder.max_length must be >= 2, got {e.max_length}"),
            (e.max_chunks >= 1, f"encoder.max_chunks must be >= 1, got {e.max_chunks}"),
            (e.max_set_tokens >= 1, f"encoder.max_set_tokens must be >= 1, got {e.max_set_tokens}"),
            (min(e.hidden, e.out_dim, e.n_heads, e.n_queries) >= 1,
             (f"encoder.hidden, out_dim, n_heads and n_queries must be >= 1, got {e.hidden}, {e.out_dim}, "
              f"{e.n_heads}, {e.n_queries}")),
            (e.n_blocks >= 0, f"encoder.n_blocks must be >= 0, got {e.n_blocks}"),
            (0 <= e.dropout < 1, f"encoder.dropout must be in [0, 1), got {e.dropout}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        from patlink.devices import resolve_device

        resolve_device(self.device)   # one line when the device does not exist here (e.g. cuda without a GPU)

    def check_token_width(self, d_in: int) -> None:
        """Raise ``ValueError`` when the encoder cannot pool tokens of size ``d_in`` (the backbone's width, e.g.
        384 for MiniLM): ``encoder.n_heads`` must divide it."""
        if d_in < 1 or d_in % self.encoder.n_heads:
            raise ValueError(f"encoder.n_heads={self.encoder.n_heads} must divide the token embedding size {d_in} "
                             f"of backbone {self.encoder.backbone!r}")

    # ------------------------------------------------------------------ changes and (de)serialisation
    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied: top-level fields, whole sections, or the flat keys of earlier configs
        (``cfg.replace(negatives="adversarial", lr=1e-4, seed=3)``). Raises ``ValueError`` on unknown keys."""
        return TrainConfig.from_dict(_merge(self.to_dict(), _nest(changes)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (tuples as lists); :meth:`from_dict` reads it back to an equal config."""
        return _to_jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a (possibly partial) dict, nested (``{"negatives": {"source": "bm25"}}``) or with the flat
        keys of earlier configs (``{"negatives": "bm25", "hard_negatives": [0, 5]}``, :data:`FLAT_KEYS`); missing
        keys keep their defaults. Types are not checked here (:meth:`validate` does).

        Raises:
            ValueError: a key no section has, or one setting given twice (flat and nested) with two values.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a TrainConfig must be a JSON object, got {type(d).__name__}")  # noqa: TRY004
        nested = _nest(d)
        kw: dict[str, Any] = {}
        for name, klass in _SECTIONS.items():
            sub = nested.pop(name, None) or {}
            if isinstance(sub, klass):
                kw[name] = sub
                continue
            if not isinstance(sub, dict):
                raise ValueError(f"TrainConfig.{name} must be an object, got {sub!r}")  # noqa: TRY004
            kw[name] = _build(klass, sub, name)
        top = {f.name for f in fields(cls)} - set(_SECTIONS)
        unknown = sorted(set(nested) - top)
        if unknown:
            raise ValueError(f"unknown TrainConfig key(s): {unknown}; known: {sorted(top | set(_SECTIONS))} and the "
                             f"flat keys {sorted(FLAT_KEYS) + ['adversary']}")
        return cls(**kw, **nested)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """:meth:`from_dict` of a JSON file. Raises ``ValueError`` (naming the file) for invalid JSON, bytes that
        are not UTF-8, numbers too long to read or nesting too deep to read."""
        try:
            data = json.loads(Path(path).read_bytes().decode("utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from e
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text (byte {e.start}); save the config as UTF-8 JSON") from None
        except RecursionError:
            raise ValueError(f"{path}: JSON nested too deeply to be a training config") from None
        except ValueError as e:         # e.g. an integer of thousands of digits
            raise ValueError(f"{path}: unreadable JSON value ({str(e).splitlines()[0][:120]})") from None
        return cls.from_dict(data)


# ---------------------------------------------------------------------------------------------- helpers
def _to_jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_jsonable(v) for v in x]
    return x


def _set(out: dict, path: tuple[str, ...], value: Any, given: str) -> None:
    tgt = out
    for part in path[:-1]:
        nxt = tgt.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ValueError(f"TrainConfig.{part} must be an object, got {nxt!r}")  # noqa: TRY004
        tgt = nxt
    last = path[-1]
    if last in tgt and tgt[last] != value:
        raise ValueError(f"{'.'.join(path)} is given twice with different values ({tgt[last]!r} and {value!r} as "
                         f"{given})")
    tgt[last] = value


def _nest(d: dict[str, Any]) -> dict[str, Any]:
    """Map the flat keys of earlier configs onto the nested form; nested keys pass through."""
    out: dict[str, Any] = {}
    flat: list[tuple[tuple[str, ...], Any, str]] = []
    for k, v in d.items():
        if k == "adversary" and isinstance(v, dict):     # the flat config's adversary section
            for ak, av in v.items():
                if ak not in _FLAT_ADVERSARY:
                    raise ValueError(f"unknown adversary key {ak!r}; known: {sorted(_FLAT_ADVERSARY)}")
                flat.append((_FLAT_ADVERSARY[ak], av, f"adversary.{ak}"))
        elif k in FLAT_KEYS and not (k in _SECTIONS and isinstance(v, dict)):
            flat.append((FLAT_KEYS[k], v, k))
        elif k in _SECTIONS and isinstance(v, dict):
            out[k] = {**v}
            if k == "negatives" and isinstance(v.get("adversary"), dict):
                out[k]["adversary"] = {**v["adversary"]}
        else:
            out[k] = v
    for path, v, given in flat:
        _set(out, path, v, given)
    return out


def _merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for k, v in changes.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _build(klass, d: dict[str, Any], prefix: str):
    hints = typing.get_type_hints(klass)
    names = {f.name for f in fields(klass)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown TrainConfig.{prefix} key(s): {unknown}; known: {sorted(names)}")
    kw = {}
    for k, v in d.items():
        h = hints[k]
        if dataclasses.is_dataclass(h):
            if not isinstance(v, (dict, h)):
                raise ValueError(f"TrainConfig.{prefix}.{k} must be an object, got {v!r}")
            kw[k] = v if isinstance(v, h) else _build(h, v, f"{prefix}.{k}")
        elif typing.get_origin(h) is tuple and isinstance(v, list):
            kw[k] = tuple(v)
        else:
            kw[k] = v
    return klass(**kw)


def _type_ok(value: Any, hint: Any) -> tuple[bool, str]:
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        return value in choices, "one of " + "|".join(map(str, choices))
    if origin is tuple:
        ok = isinstance(value, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
        return ok, "a list of integers"
    if hint is bool:
        return isinstance(value, bool), "true or false"
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), "an integer"
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    if hint is str:
        return isinstance(value, str), "a string"
    return True, ""


#: Encoder fields whose values are choices (EncoderConfig types them as ``str``).
_ENCODER_CHOICES = {"init": EncoderInit}


def _check_types(obj: Any, prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        path = f"{prefix}{f.name}"
        value, hint = getattr(obj, f.name), hints[f.name]
        if isinstance(obj, EncoderConfig) and f.name in _ENCODER_CHOICES:
            hint = _ENCODER_CHOICES[f.name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, hint):
                raise ValueError(f"{_label(path)} must be a {hint.__name__}, got {value!r} (flat keys of earlier "
                                 "configs such as negatives='bm25' go through TrainConfig.from_dict or .replace)")
            _check_types(value, f"{path}.")
            continue
        ok, what = _type_ok(value, hint)
        if not ok:
            raise ValueError(f"{_label(path)} must be {what}, got {value!r}")
