"""Typed configuration of the trained linker (``000_be1f183eef23b85e.txt`` §3.2–3.4).

Defaults are sized for 1–20k training edges on a CPU: each encoder has 1.19M trainable parameters with the
MiniLM backbone (attention pooling over 384-d tokens with 2 learned queries and 4 heads, a 384-wide projection,
2 residual blocks, 384-d output plus an identity-initialised skip path), i.e. ~100× fewer than upstream's 140M per encoder for 16.7k edges. With ~1.5k
training pairs (pap2pat) a 140M-parameter head memorises the pairs in one epoch; a ~1M head keeps the parameter /
edge ratio near 100–1000 and one epoch takes seconds on 2 cores, which is what makes early stopping on validation
MRR and ablations affordable.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from patlink.models.config import EncoderConfig  # the encoder shape lives in the models layer; re-exported here

__all__ = ["AdversaryConfig", "EncoderConfig", "TrainConfig"]


@dataclass
class AdversaryConfig:
    """The two REINFORCE hard-negative policies of §3.4.

    Attributes:
        hidden: width of the policy MLP (embedding → hidden → logits over the training items/patents).
        lr: learning rate of the policies (AdamW).
        exclusive: a negative drawn for one query is masked for the next queries of the batch (§3.4 "duplicates
            among selected negatives"); otherwise each query samples independently and duplicates are merged.
        negative_embeddings: ``"bank"`` — negatives use a no-grad embedding bank refreshed at the start of every
            hard-negative epoch and updated with each batch's fresh embeddings (gradient reaches the query side
            only; cost ≈ 1.3× a plain epoch); ``"encode"`` — negatives are re-encoded with gradient every step
            (upstream behaviour, cost grows with the number of negatives).
        bank_refresh: ``once`` (default) — the bank is computed at the first hard-negative epoch (and after a
            resume) and then kept fresh by writing back every batch's embeddings: each epoch visits every training
            link, so every entry is at most one epoch old, the same staleness as a full refresh at the start of
            each epoch, without its cost (a forward pass over all training texts, ~1/3 of an epoch on pap2pat);
            ``epoch`` — full refresh at the start of every hard-negative epoch.
    """

    hidden: int = 256
    lr: float = 1e-3
    exclusive: bool = True
    negative_embeddings: str = "bank"
    bank_refresh: str = "once"


@dataclass
class TrainConfig:
    """Everything :func:`patlink.training.trainer.train_linker` needs.

    Attributes:
        encoder: :class:`EncoderConfig`. adversary: :class:`AdversaryConfig`.
        epochs: maximum epochs. batch_size: training links per step.
        lr / weight_decay: AdamW. warmup_ratio: fraction of steps of linear warm-up before the cosine decay.
        temperature: τ of eq. 1. denominator: ``negatives`` (paper eqs. 2–3) or ``all`` (upstream variant).
        negatives: ``inbatch`` | ``random`` | ``bm25`` | ``adversarial`` — where extra negatives come from.
        hard_negatives: extra negatives per query for epoch 1, 2, 3 … (last value repeats): the §3.4 curriculum.
        zclip: use ZClip adaptive gradient clipping (``zclip`` package); zclip_max_norm: its hard cap.
        patience: validation evaluations without improvement before stopping (0 = never stop early); one
            evaluation per epoch, or every ``eval_every`` steps.
        eval_every: also evaluate on validation every this many optimizer steps (0 = use ``evals_per_epoch``).
            On ~1k links the linker peaks inside the first epoch, so per-step selection matters.
        eval_at_start: validate the initial model too (step 0), so a run whose training never beats the
            zero-shot backbone on validation keeps the backbone (``best_step`` = 0).
        evals_per_epoch: when ``eval_every`` is 0, evaluations per epoch, evenly spaced (the last at the end of
            the epoch); 1 = once per epoch.
        anchor: L2-SP weight (Li et al. 2018): adds ``anchor · Σ‖θ − θ₀‖²`` to the loss, pulling the encoders
            towards their initialisation (= the zero-shot backbone with ``init="backbone"``); 0 disables.
        patent_repr: ``text`` — a patent is encoded from its own text; ``item_set`` — from the SET of texts of its
            linked training items (for patents without text, e.g. ``honeywell-vpm``; issue 3 task (b)). In a step,
            a patent's set never contains an item of the same batch (leave-batch-out, so the model cannot learn
            identity), links whose patent has no other training item are skipped, and at most ``set_max_items``
            items are sampled per set. Validation (new-product protocol): sets from all training items; each
            validation item ranks the training patents, each validation patent the validation items.
        set_max_items: items sampled per patent set in a training step (inference uses them all, up to
            ``encoder.max_set_tokens`` tokens).
        set_scoring: with ``patent_repr="item_set"``: ``pool`` — a patent is ONE vector, the attention pooling of
            its set's tokens (``profile-linker:PATH`` at evaluation); ``members`` — a patent is scored by its
            members, k-nearest-neighbour style: each known item is encoded alone by the patent encoder and a
            patent's score is the sum of the positive cosines of the query's ``members_k`` nearest members linked
            to it (``knn-linker:PATH``). Pooling blurs product families whose near-duplicate members are what the
            ``knn`` baseline exploits; ``members`` keeps them apart. Training then samples ONE other member per
            patent and step (``set_max_items`` is ignored) and validation uses the member scoring. Extra
            negatives (``negatives`` other than ``inbatch``) are supported here: a negative patent is one of its
            known items outside the batch (from the bank of patent-encoder embeddings of all training items, or
            re-encoded), and ``bm25`` pools rank patents by their profile (the concatenated texts of their items).
        members_k: neighbours of the ``members`` scoring at validation (``knn-linker`` tunes k on validation).
        member_loss: with ``set_scoring="members"``: ``supcon`` — the contrastive loss, a patent represented by one
            sampled member; ``nca`` — the soft-kNN loss (:mod:`patlink.losses.soft_knn`): each query item's softmax
            over ALL known items must put its mass on items that carry the query's patents. Only the item (query)
            encoder trains; the known items keep the patent encoder's initial embeddings (a fixed bank), so the
            ``knn-linker`` members are those of the untrained model. In-batch negatives only (the softmax already
            runs over every known item).
        tune_fusion: at the end of training, tune the convex weight α of the linker vs BM25 on the validation
            links and write ``fusion.json`` (read by ``--method runs/NAME+bm25``).
        lexical_residual: λ of residual training against BM25 (CLEAR, :mod:`patlink.training.lexical`): the
            training and validation logits get ``λ ·`` (BM25 score / the query's best BM25 score) added, so the
            linker learns what BM25 misses and is meant to be fused with it (``runs/NAME+bm25``). 0 = off (paper).
            Needs patent text (``patent_repr="text"``).
        select_metric: ``mrr_item2patent`` | ``mrr_patent2item`` | ``mrr_mean`` — picks the checkpoint.
        bm25_pool: candidates per query mined with BM25 for ``negatives="bm25"``.
        seed: seeds torch and numpy. threads: torch intra-op threads (0 = leave as is).
        progress: show progress bars. eval_batch_size: texts per encoder forward pass at evaluation.
        full_val_metrics: compute validation metrics with ``patlink.evaluation.evaluate_run`` (MRR, MAP, nDCG@10,
            P@k … on the top-100 run; the first call JIT-compiles ranx, ~40 s) when importable; otherwise (or
            when False) only the exact full-ranking MRR of a private helper.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    temperature: float = 0.05
    denominator: str = "negatives"
    negatives: str = "inbatch"
    hard_negatives: tuple[int, ...] = (0, 5, 10)
    zclip: bool = True
    zclip_max_norm: float = 5.0
    patience: int = 6
    select_metric: str = "mrr_mean"
    bm25_pool: int = 50
    seed: int = 0
    threads: int = 0
    progress: bool = True
    eval_batch_size: int = 256
    full_val_metrics: bool = True
    eval_every: int = 0
    evals_per_epoch: int = 4
    eval_at_start: bool = True
    anchor: float = 10.0
    tune_fusion: bool = True
    patent_repr: str = "text"
    set_max_items: int = 8
    set_scoring: str = "pool"
    members_k: int = 10
    member_loss: str = "supcon"
    lexical_residual: float = 0.0

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ``ValueError`` with one clear message for impossible settings (called before training)."""
        e, a = self.encoder, self.adversary
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 2, f"batch_size must be >= 2 (in-batch negatives need two links), got {self.batch_size}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}"),
            (self.temperature > 0, f"temperature must be > 0, got {self.temperature}"),
            (self.denominator in ("negatives", "all"), f"denominator must be negatives|all, got {self.denominator!r}"),
            (self.negatives in ("inbatch", "random", "bm25", "adversarial"),
             f"negatives must be inbatch|random|bm25|adversarial, got {self.negatives!r}"),
            (len(self.hard_negatives) >= 1 and all(int(k) >= 0 for k in self.hard_negatives),
             f"hard_negatives must be a non-empty list of counts >= 0, got {self.hard_negatives}"),
            (self.select_metric in ("mrr_item2patent", "mrr_patent2item", "mrr_mean"),
             f"select_metric must be mrr_item2patent|mrr_patent2item|mrr_mean, got {self.select_metric!r}"),
            (self.patience >= 0, f"patience must be >= 0, got {self.patience}"),
            (self.evals_per_epoch >= 1, f"evals_per_epoch must be >= 1, got {self.evals_per_epoch}"),
            (self.eval_every >= 0, f"eval_every must be >= 0, got {self.eval_every}"),
            (self.patent_repr in ("text", "item_set"), f"patent_repr must be text|item_set, got {self.patent_repr!r}"),
            (self.lexical_residual >= 0, f"lexical_residual must be >= 0, got {self.lexical_residual}"),
            (self.patent_repr == "text" or self.lexical_residual == 0,
             "lexical_residual needs patent text (patent_repr='text'): BM25 scores patents by their own words"),
            (self.patent_repr == "text" or self.negatives == "inbatch" or self.set_scoring == "members",
             ("extra negatives with patent_repr='item_set' need set_scoring='members' (a negative patent is one "
              "of its known items; a pooled set would contain the batch's own items)")),
            (self.set_max_items >= 1, f"set_max_items must be >= 1, got {self.set_max_items}"),
            (self.set_scoring in ("pool", "members"), f"set_scoring must be pool|members, got {self.set_scoring!r}"),
            (self.set_scoring == "pool" or self.patent_repr == "item_set",
             "set_scoring='members' needs patent_repr='item_set' (patents known by their linked items)"),
            (self.members_k >= 1, f"members_k must be >= 1, got {self.members_k}"),
            (self.member_loss in ("supcon", "nca"), f"member_loss must be supcon|nca, got {self.member_loss!r}"),
            (self.member_loss == "supcon" or (self.set_scoring == "members" and self.negatives == "inbatch"),
             ("member_loss='nca' needs set_scoring='members' and negatives='inbatch' (its softmax runs over "
              "every known item)")),
            (self.anchor >= 0, f"anchor must be >= 0, got {self.anchor}"),
            (self.bm25_pool >= 1, f"bm25_pool must be >= 1, got {self.bm25_pool}"),
            (e.max_length >= 2, f"encoder.max_length must be >= 2, got {e.max_length}"),
            (e.max_chunks >= 1, f"encoder.max_chunks must be >= 1, got {e.max_chunks}"),
            (min(e.hidden, e.out_dim, e.n_heads, e.n_queries) >= 1,
             "encoder.hidden, out_dim, n_heads and n_queries must be >= 1"),
            (e.n_blocks >= 0, f"encoder.n_blocks must be >= 0, got {e.n_blocks}"),
            (0 <= e.dropout < 1, f"encoder.dropout must be in [0, 1), got {e.dropout}"),
            (e.init in ("backbone", "random"), f"encoder.init must be backbone|random, got {e.init!r}"),
            (a.hidden >= 1 and a.lr > 0, "adversary.hidden must be >= 1 and adversary.lr > 0"),
            (a.bank_refresh in ("once", "epoch"), f"adversary.bank_refresh must be once|epoch, got {a.bank_refresh!r}"),
            (a.negative_embeddings in ("bank", "encode"),
             f"adversary.negative_embeddings must be bank|encode, got {a.negative_embeddings!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    def hard_negatives_at(self, epoch: int) -> int:
        """Extra negatives per query in (0-based) ``epoch``: 0 for ``inbatch``, else the curriculum value."""
        if self.negatives == "inbatch":
            return 0
        return int(self.hard_negatives[min(epoch, len(self.hard_negatives) - 1)])

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hard_negatives"] = list(self.hard_negatives)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a (possibly partial) dict; unknown keys raise ``ValueError`` naming them."""
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig key(s): {sorted(unknown)}; known: {sorted(known)}")
        enc = d.pop("encoder", {}) or {}
        adv = d.pop("adversary", {}) or {}
        for sub, klass in ((enc, EncoderConfig), (adv, AdversaryConfig)):
            bad = set(sub) - {f.name for f in fields(klass)}
            if bad:
                raise ValueError(f"unknown {klass.__name__} key(s): {sorted(bad)}")
        if "hard_negatives" in d:
            d["hard_negatives"] = tuple(int(k) for k in d["hard_negatives"])
        return cls(encoder=EncoderConfig(**enc), adversary=AdversaryConfig(**adv), **d)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from e
