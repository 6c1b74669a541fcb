"""Contrastive fine-tuning recipes R1–R4 (*Benchmarking Patent Embeddings*, multi-task evaluation of 22 models) and
PatentCL (contrastive fine-tuning of PatentSBERTa on CPC triplets) with the sentence-transformers trainer.

=========  ==========================================================  =====================================
recipe     training pairs / triplets (offline sources)                  loss
=========  ==========================================================  =====================================
r1         link pairs: pap2pat *train* links (paper title+abstract ↔   MultipleNegativesRankingLoss
           patent title+abstract); with ``--patentsview-dir``, citing   (in-batch negatives, scale 20 =
           ↔ cited patents (``g_us_patent_citation``)                   temperature 0.05)
r2         CPC-label signal: cpc-claims *train* patents sharing a CPC   MultipleNegativesRankingLoss
           subclass (claims ↔ claims)
r3         cross-section alignment: title+abstract ↔ claims of the      MultipleNegativesRankingLoss
           same pap2pat *train* patent
r4         r1 + r2 + r3, one round-robin multi-dataset run              MultipleNegativesRankingLoss
patentcl   triplets (anchor, same-CPC-group positive [cited where       TripletLoss (Euclidean, margin 5)
           citations exist], random other-group negative), input
           ``title [SEP] abstract`` (:mod:`patlink.bench.triplets`)
=========  ==========================================================  =====================================

Only training data is used: the pap2pat pairs come from the *train* links of
``patlink.graph.split_dataset(ds, seed=0)`` — the split whose *test* links ``patlink bench`` scores — and
cpc-claims from its ``train`` split (its ``test`` split and ``groups1400`` are the bench's classification and
clustering sets). The result is a sentence-transformers folder ``OUT/model`` (written to a temporary folder,
then renamed), loadable by ``patlink bench --models OUT``, ``SentenceTransformer(OUT/model)`` and every
retriever that takes a model path. Trainer checkpoints go to ``OUT/checkpoints`` and a rerun resumes from the
last one.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from patlink.io import atomic_directory, atomic_write_json

__all__ = ["FinetuneConfig", "RECIPES", "recipe_examples", "finetune"]

RECIPES = ("r1", "r2", "r3", "r4", "patentcl")


@dataclass
class FinetuneConfig:
    """Settings of one fine-tuning run.

    Attributes:
        recipe: one of :data:`RECIPES`.
        out: run folder (the model goes to ``out/model``).
        base: starting model (``minilm``, ``mpnet``, a hub name or a path).
        epochs: passes over the training examples.
        batch_size: examples per step (in-batch negatives for MNRL = batch_size − 1).
        lr: AdamW learning rate; ``warmup_ratio`` of steps warm up linearly.
        max_length: tokens per text during training.
        max_examples: cap on examples per source (None = all), seeded sample.
        patentsview_dir: PatentsView tables for PatentCL triplets and R1 citation pairs.
        seed: RNG seed (sampling, shuffling, trainer).
        save_steps: checkpoint interval in steps.
        device: where the model trains: ``cpu`` (default, reproducible on every machine), ``cuda``, ``cuda:N``,
            ``mps`` or ``auto`` (:func:`patlink.devices.resolve_device`); mixed precision (bf16/fp16) on CUDA.
    """

    recipe: str = "r3"
    out: Path = Path("runs/r3")
    base: str = "minilm"
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    max_length: int = 128
    max_examples: int | None = None
    patentsview_dir: Path | None = None
    seed: int = 0

    save_steps: int = 50
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.recipe = self.recipe.lower()
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; recipes: {', '.join(RECIPES)}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be ≥ 1 and batch_size ≥ 2 (in-batch negatives)")


def _sample(rows: list, n: int | None, seed: int) -> list:
    if n is None or len(rows) <= n:
        return rows
    return random.Random(seed).sample(rows, n)


def _pap2pat_train():
    from patlink.data import load_dataset
    from patlink.graph import split_dataset

    ds = load_dataset("pap2pat")
    return ds, split_dataset(ds, seed=0).train


def _r1(cfg: FinetuneConfig) -> list[dict]:
    ds, train = _pap2pat_train()
    items, pats = ds.item_texts(view="title,abstract"), ds.patent_texts(view="title,abstract")
    rows = [{"anchor": items[i], "positive": pats[p]} for i, p in train if items[i] and pats[p]]
    if cfg.patentsview_dir:
        rows += _citation_pairs(Path(cfg.patentsview_dir), cfg)
    return _sample(rows, cfg.max_examples, cfg.seed)


def _citation_pairs(folder: Path, cfg: FinetuneConfig) -> list[dict]:
    """Citing ↔ cited patent pairs (title [SEP] abstract) from PatentsView, via DuckDB."""
    import duckdb

    from patlink.bench.triplets import SEP, _find, _reader

    g_patent, g_cit = _find(folder, "g_patent"), _find(folder, "g_us_patent_citation")
    if g_patent is None or g_cit is None:
        raise FileNotFoundError(f"{folder}: R1 citation pairs need g_patent.tsv and g_us_patent_citation.tsv")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    limit = cfg.max_examples or 100_000
    q = f"""WITH p AS (SELECT patent_id, coalesce(patent_title, '') || '{SEP}' ||
                      coalesce(patent_abstract, '') AS text FROM {_reader(g_patent)})
            SELECT a.text, b.text FROM {_reader(g_cit)} c JOIN p a ON a.patent_id = c.patent_id
            JOIN p b ON b.patent_id = c.citation_patent_id ORDER BY hash(c.patent_id, c.citation_patent_id, {cfg.seed})
            LIMIT {int(limit)}"""
    return [{"anchor": a, "positive": b} for a, b in con.execute(q).fetchall()]


def _r2(cfg: FinetuneConfig) -> list[dict]:
    from patlink.data import load_dataset

    ds = load_dataset("cpc-claims")
    ids = ds.doc_splits["train"]
    texts, labels = ds.patent_texts(ids, view="claims"), ds.labels["cpc_subclass"]
    by: dict[str, list[str]] = {}
    for p in ids:
        for lab in labels.get(p, []):
            by.setdefault(lab, []).append(p)
    rng = random.Random(cfg.seed)
    rows = []
    for p in ids:  # one pair per patent: a random other patent of one of its subclasses
        cands = sorted({q for lab in labels.get(p, []) for q in by[lab] if q != p})
        if cands and texts[p]:
            rows.append({"anchor": texts[p][:2000], "positive": texts[rng.choice(cands)][:2000]})
    return _sample(rows, cfg.max_examples, cfg.seed)


def _r3(cfg: FinetuneConfig) -> list[dict]:
    ds, train = _pap2pat_train()
    ta, cl = ds.patent_texts(view="title,abstract"), ds.patent_texts(view="claims")
    rows = [{"anchor": ta[p], "positive": cl[p][:2000]} for _, p in train if ta[p] and cl[p]]
    return _sample(rows, cfg.max_examples, cfg.seed)


def _patentcl(cfg: FinetuneConfig) -> list[dict]:
    from patlink.bench.triplets import TripletConfig, cpc_claims_triplets, patentsview_triplets

    tc = TripletConfig(max_anchors=cfg.max_examples or 10_000, seed=cfg.seed)
    trip = patentsview_triplets(cfg.patentsview_dir, tc) if cfg.patentsview_dir else cpc_claims_triplets(tc)
    return [{"anchor": t["anchor_text"], "positive": t["positive_text"], "negative": t["negative_text"]}
            for t in trip]


def recipe_examples(cfg: FinetuneConfig) -> dict[str, list[dict]]:
    """Training examples of a recipe: source name → rows (``anchor``, ``positive`` [, ``negative``])."""
    if cfg.recipe == "r1":
        return {"r1_links": _r1(cfg)}
    if cfg.recipe == "r2":
        return {"r2_cpc": _r2(cfg)}
    if cfg.recipe == "r3":
        return {"r3_sections": _r3(cfg)}
    if cfg.recipe == "r4":
        return {"r1_links": _r1(cfg), "r2_cpc": _r2(cfg), "r3_sections": _r3(cfg)}
    return {"patentcl": _patentcl(cfg)}


def finetune(cfg: FinetuneConfig, log=print) -> Path:
    """Fine-tune ``cfg.base`` with recipe ``cfg.recipe``; returns the saved model folder ``cfg.out/model``.

    Writes ``cfg.out/finetune.json`` (config, example counts, training loss, seconds).

    Raises:
        ValueError: unknown recipe, no training example, or a model that cannot be loaded offline.
    """
    import torch
    from datasets import Dataset as HFDataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss, TripletLoss

    from patlink.config import resolve_model_path

    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    examples = recipe_examples(cfg)
    counts = {k: len(v) for k, v in examples.items()}
    if not any(counts.values()):
        raise ValueError(f"recipe {cfg.recipe}: no training example")
    log(f"[finetune] {cfg.recipe}: {counts} examples, base {cfg.base}")
    from patlink.devices import amp_dtype, resolve_device

    device = resolve_device(cfg.device)
    amp = amp_dtype(device)
    model = SentenceTransformer(resolve_model_path(cfg.base), device=device)
    model.max_seq_length = cfg.max_length
    loss_cls = TripletLoss if cfg.recipe == "patentcl" else MultipleNegativesRankingLoss
    datasets = {k: HFDataset.from_list(v) for k, v in examples.items() if v}
    losses = {k: loss_cls(model) for k in datasets}
    one = len(datasets) == 1
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr,
        warmup_ratio=cfg.warmup_ratio,
        seed=cfg.seed,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=1,
        logging_steps=10,
        report_to="none",
        use_cpu=device == "cpu",
        bf16=amp == torch.bfloat16,
        fp16=amp == torch.float16,
        dataloader_drop_last=True,
        batch_sampler="no_duplicates" if cfg.recipe != "patentcl" else "batch_sampler",
        multi_dataset_batch_sampler="round_robin",
        disable_tqdm=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args,
        train_dataset=next(iter(datasets.values())) if one else datasets,
        loss=next(iter(losses.values())) if one else losses,
    )
    ckpts = sorted((out / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    result = trainer.train(resume_from_checkpoint=str(ckpts[-1]) if ckpts else None)
    final = out / "model"
    with atomic_directory(final) as tmp:
        model.save(str(tmp))
    meta = {"config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
            "examples": counts, "train_loss": float(result.training_loss), "steps": int(result.global_step),
            "seconds": round(time.time() - t0, 1),
            "loss": loss_cls.__name__, "base_path": resolve_model_path(cfg.base)}
    atomic_write_json(out / "finetune.json", meta)
    log(f"[finetune] saved {final} (loss {meta['train_loss']:.4f}, {meta['steps']} steps, {meta['seconds']} s)")
    return final
