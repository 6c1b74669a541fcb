"""CLI: ``patlink train`` — train the dual-encoder linker (El Bouari & de Rassenfosse, *Product-Patent linkage
prediction*, §3.2–3.4), or, with ``--architecture biencoder``, fine-tune a sentence-transformers bi-encoder end to
end on the same splits (:mod:`patlink.training.biencoder`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patlink.cli.common import (
    BeirOpt,
    DatasetOpt,
    DeviceOpt,
    ItemViewOpt,
    PatentViewOpt,
    PatlinkError,
    TextsOpt,
    check_out_folder,
    console,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("train")
    def train(
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder, e.g. runs/pap2pat-claims.")],
        dataset: DatasetOpt = None,
        beir: BeirOpt = None,
        item_view: ItemViewOpt = None,
        patent_view: PatentViewOpt = None,
        texts: TextsOpt = None,
        missing_text: Annotated[str, typer.Option(
            "--missing-text", help="When only some patents have text in the patent view (a partly hydrated or "
                                   "summarised store): error (refuse) or drop (train and validate without the "
                                   "patents lacking text and their links; give `patlink eval` the same option so "
                                   "that it makes the same split).")] = "error",
        config: Annotated[Path | None, typer.Option(
            "--config", help="TrainConfig (linker) or BiEncoderConfig (--architecture biencoder) as JSON (partial: "
                             "missing keys keep their defaults).")] = None,
        epochs: Annotated[int | None, typer.Option("--epochs", help="Maximum epochs.")] = None,
        negatives: Annotated[str | None, typer.Option(
            "--negatives", help="inbatch | random | bm25 | known | adversarial | mined (extra negatives, §3.4 "
                                "curriculum; known: the dataset's judged non-relevant pairs, e.g. BEIR qrels rows "
                                "with score 0; mined: BM25 candidates without those scoring above 0.95 x the "
                                "positive's, --config negatives.mining for dense/simans). Bi-encoder: inbatch | mined "
                                "(--mine-with, --mine-strategy, --n-negatives).")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Seed of the split and of training.")] = None,
        lr: Annotated[float | None, typer.Option("--lr", help="AdamW learning rate.")] = None,
        patent_repr: Annotated[str | None, typer.Option(
            "--patent-repr", help="text (patents' own text) | item_set (a patent = the SET of its training items' "
                                  "texts, for patents without text, e.g. honeywell-vpm).")] = None,
        protocol: Annotated[str | None, typer.Option(
            "--protocol", help="Split: graph (default) or new-product (held-out items, shared patents; default "
                               "with --patent-repr item_set). Must match `patlink eval --protocol`.")] = None,
        max_chunks: Annotated[int | None, typer.Option(
            "--max-chunks", "--windows",
            help="Windows of 256 backbone tokens per text (default 1 = truncate). E.g. 8: claims (median ~1,130 "
                 "tokens) are read to ~2,000 tokens instead of 256. Linker: attention pooling over the tokens of "
                 "all windows. Bi-encoder: a text is the mean of its window embeddings, and each link trains one "
                 "(item, window) pair per window of the patent (cost x N).")] = None,
        architecture: Annotated[str, typer.Option(
            "--architecture", help="linker: frozen backbone + trained attention-pooling head (the paper's model, "
                                   "cheap: token embeddings cached once). biencoder: the whole sentence-transformers "
                                   "model fine-tuned on the training links (MultipleNegativesRankingLoss, in-batch "
                                   "negatives; far more compute per epoch than the linker, nothing cached), kept at "
                                   "the epoch with the best validation MRR (epoch 0 = the base model); on pap2pat "
                                   "claims (5-fold CV) biencoder+bm25 is the best ranking measured, ahead of "
                                   "linker+bm25 by +0.005/+0.010 MRR, at ~8 min and 8.7 GiB per epoch on 2 CPU "
                                   "cores; it needs patent text. Both write a run folder for `patlink eval "
                                   "--method OUT,OUT+bm25`.")] = "linker",
        batch_size: Annotated[int | None, typer.Option(
            "--batch-size", help="Links per step (in-batch negatives = batch size - 1). Bi-encoder default 32; "
                                 "with --loss cached-mnrl a large batch (128-512) fits the memory of "
                                 "--mini-batch-size.")] = None,
        base_model: Annotated[str | None, typer.Option(
            "--base-model", help="Bi-encoder: the model fine-tuned (default minilm, the bundled all-MiniLM-L6-v2; "
                                 "any sentence-transformers name or folder).")] = None,
        loss: Annotated[str | None, typer.Option(
            "--loss", help="Bi-encoder: mnrl (MultipleNegativesRankingLoss, default) or cached-mnrl (the same loss "
                           "with GradCache: batches larger than memory, computed --mini-batch-size texts at a "
                           "time).")] = None,
        mini_batch_size: Annotated[int | None, typer.Option(
            "--mini-batch-size", help="Bi-encoder with --loss cached-mnrl: texts per forward pass (default 16).")
        ] = None,
        asymmetric: Annotated[bool | None, typer.Option(
            "--asymmetric/--symmetric", help="Bi-encoder: separate weights for items (query route) and patents "
                                             "(document route), a sentence-transformers Router of two copies of "
                                             "the base model (2x parameters); default symmetric (one model).")
        ] = None,
        mine_with: Annotated[str | None, typer.Option(
            "--mine-with", help="Bi-encoder with --negatives mined: bm25 (default) or dense (the base model) ranks "
                                "the TRAINING patents for each training item to find hard negatives.")] = None,
        mine_strategy: Annotated[str | None, typer.Option(
            "--mine-strategy", help="Bi-encoder with --negatives mined: percpos (default: below 0.95 x the "
                                    "positive's score) | simans | topk | random.")] = None,
        n_negatives: Annotated[int | None, typer.Option(
            "--n-negatives", help="Bi-encoder with --negatives mined: hard negatives per training link, each a "
                                  "column of its training row (default 1).")] = None,
        folds: Annotated[int, typer.Option(
            "--folds", help="K-fold cross-validation (K >= 2): train one model per fold into OUT/fold0 … "
                            "OUT/fold{K-1} (finished folds are skipped); evaluate with `patlink eval --folds K "
                            "--method OUT`.")] = 0,
        fold: Annotated[list[int] | None, typer.Option(
            "--fold", help="With --folds: train only this fold (repeatable), e.g. to run folds in parallel.")] = None,
        repeats: Annotated[int, typer.Option(
            "--repeats", help="Repeated cross-validation: with --folds K, train the K folds of R partitions (seeds "
                              "SEED … SEED+R-1) into OUT/seed{s}/fold{f}; evaluate with `patlink eval --folds K "
                              "--repeats R --method OUT`.")] = 1,
        resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoint.pt.")] = False,
        plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write training.png / policy.png.")] = True,
        device: DeviceOpt = "auto",
    ) -> None:
        """Train the linker (or, with --architecture biencoder, fine-tune a bi-encoder); the checkpoint with the
        best validation MRR is kept in OUT/best.

        Split: the rule of `patlink eval` (patlink.resolve_splits): a BEIR folder's qrels/test.tsv is the test
        split, never trained on; train.tsv trains and dev.tsv (or val.tsv) validates, else validation is carved
        from the training links. Without qrels splits: patlink.graph.split_dataset(ds, seed=seed) (random for
        one-to-one data such as pap2pat, graph-aware otherwise). Token embeddings of the frozen backbone are cached
        on disk; an interrupted run resumes with --resume.

        Bi-encoder (the whole model fine-tuned; --negatives inbatch | mined), e.g. pap2pat abstracts to claims
        read as 8 windows, then evaluated alone and fused with BM25 against all 1,513 patents:

          patlink train --architecture biencoder --dataset pap2pat --item-view abstract --patent-view claims
          --windows 8 --out runs/be-claims

          patlink eval --dataset pap2pat --item-view abstract --patent-view claims --pool all
          --method bm25,runs/be-claims,runs/be-claims+bm25
        """
        import dataclasses

        from patlink.cli.common import load_input
        from patlink.training.runs import check_run

        check_out_folder(out)
        from patlink.devices import resolve_device

        if architecture not in ("linker", "biencoder"):
            raise PatlinkError(f"unknown --architecture {architecture!r}; use linker or biencoder")
        if architecture == "biencoder":
            if patent_repr is not None:
                raise PatlinkError("--patent-repr is a linker option: the bi-encoder reads each patent's own text")
            cfg = _biencoder_config(config, epochs=epochs, negatives=negatives, seed=seed, lr=lr, windows=max_chunks,
                                    batch_size=batch_size, base_model=base_model, loss=loss,
                                    mini_batch_size=mini_batch_size, asymmetric=asymmetric, mine_with=mine_with,
                                    mine_strategy=mine_strategy, n_negatives=n_negatives)
        else:
            given = [o for o, v in (("--base-model", base_model), ("--loss", loss), ("--mini-batch-size",
                                    mini_batch_size), ("--asymmetric/--symmetric", asymmetric), ("--mine-with",
                                    mine_with), ("--mine-strategy", mine_strategy), ("--n-negatives", n_negatives))
                     if v is not None]
            if given:
                raise PatlinkError(f"{given[0]} is a bi-encoder option: add --architecture biencoder")
            from patlink.training.config import TrainConfig

            cfg = _read_config(config) if config else TrainConfig()
            changes = {k: v for k, v in (("epochs", epochs), ("negatives", negatives), ("seed", seed), ("lr", lr),
                                         ("patent_repr", patent_repr), ("batch_size", batch_size)) if v is not None}
            cfg = cfg.replace(**changes)   # flat option names map onto the nested config
            if max_chunks is not None:
                cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, max_chunks=max_chunks))
        cfg = dataclasses.replace(cfg, device=resolve_device(device))   # the device used is what config.json records
        # the config, and the encoder against the backbone's width, before any data is read or file written (a
        # resumed run's checkpoint is compared with the config by train_run, before it writes anything)
        try:
            check_run(cfg, out)
        except ValueError as e:
            raise PatlinkError(str(e)) from None
        if missing_text not in ("error", "drop"):
            raise PatlinkError(f"unknown --missing-text {missing_text!r} for training; use error or drop (every "
                               "training patent needs text, unless --patent-repr item_set)")
        ds = load_input(dataset, beir, item_view, patent_view, texts=texts, missing_text=missing_text)
        item_set = architecture == "linker" and cfg.patents.representation == "item_set"
        protocol = protocol or ("new-product" if item_set else "graph")
        if protocol not in ("graph", "new-product"):
            raise PatlinkError(f"unknown protocol {protocol!r}; use graph or new-product")
        if repeats < 1 or (repeats > 1 and not folds):
            raise PatlinkError("--repeats R needs R >= 1 and --folds K (R partitions of K folds)")
        from patlink.training.runs import train_folds, train_repeated, train_run

        def log(msg: str) -> None:
            from rich.markup import escape

            console.print(escape(msg))

        try:
            if repeats > 1:
                train_repeated(ds, cfg, out, folds, repeats, protocol=protocol, only=fold, resume=resume,
                               plots=plots, log=log)
                return
            if folds or fold:
                train_folds(ds, cfg, out, folds, protocol=protocol, only=fold, resume=resume, plots=plots, log=log)
                return
        except ValueError as e:
            raise PatlinkError(str(e)) from None
        split = _split_for(ds, cfg.seed, protocol)
        try:
            res = train_run(ds, cfg, out, split, protocol=protocol, resume=resume, plots=plots, log=log)
        except ValueError as e:
            raise PatlinkError(str(e)) from None
        best = res.best_val
        console.print(f"best epoch {res.best_epoch} (step {res.best_step}): validation MRR item→patent "
                      f"{best.get('mrr_item2patent', float('nan')):.4f}, patent→item "
                      f"{best.get('mrr_patent2item', float('nan')):.4f}; model in {res.model_dir}"
                      + (" (stopped early)" if res.stopped_early else ""))
        if res.fusion:
            console.print(f"BM25 fusion weight tuned on validation: alpha={res.fusion['alpha']} "
                          f"(item→patent {res.fusion['alpha_item2patent']}, patent→item "
                          f"{res.fusion['alpha_patent2item']}) → {out / 'fusion.json'}")


def _biencoder_config(path: Path | None, *, windows: int | None, **options):
    """The BiEncoderConfig of ``--config FILE`` (or the defaults) with the options given on the command line."""
    from patlink.training.biencoder import BiEncoderConfig

    if path is not None and not path.is_file():
        raise PatlinkError(f"--config {path}: no such file" if not path.exists() else f"--config {path} is not a file")
    try:
        cfg = BiEncoderConfig.from_json(path) if path is not None else BiEncoderConfig()
        changes = {k: v for k, v in options.items() if v is not None}
        if windows is not None:
            changes["windows"] = windows
        cfg = cfg.replace(**changes)
        cfg.validate()
    except (TypeError, ValueError) as e:
        raise PatlinkError(str(e) if path is None or str(e).startswith(str(path)) else f"--config {path}: {e}"
                           ) from None
    return cfg


def _read_config(path: Path):
    """``--config FILE`` as a TrainConfig; every problem is one line naming the file."""
    from patlink.training.config import TrainConfig

    if not path.is_file():
        raise PatlinkError(f"--config {path}: no such file" if not path.exists() else f"--config {path} is not a file")
    try:
        cfg = TrainConfig.from_json(path)
        cfg.check_types()   # a wrongly typed value is the file's error, even where an option replaces it
        return cfg
    except ValueError as e:
        msg = str(e)
        raise PatlinkError(msg if msg.startswith(str(path)) else f"--config {path}: {msg}") from None


def _split_for(ds, seed: int, protocol: str = "graph") -> dict:
    """Train/val/test links: the same rule as ``patlink eval``
    (:func:`patlink.evaluation.experiment.resolve_splits`), so the test links are never trained on."""
    from patlink.evaluation.experiment import resolve_splits

    try:
        return resolve_splits(ds, seed=seed, protocol=protocol, need_val=True)
    except ValueError as e:
        raise PatlinkError(str(e)) from None
