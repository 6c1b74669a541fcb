"""CLI: ``patlink classify`` — multi-label CPC subclass classification (Mueller & Stone, *Sparse Multi-label Patent
Classification with Deep Learning*)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patlink.cli.common import JsonOpt, PatlinkError, console, print_json

app = typer.Typer(
    help=("Multi-label CPC subclass classification: train (CNN over GloVe or transformer tokens, linear head, "
          "k-NN), eval on the test split with 95% CIs, predict CPC codes for a text, label-frequency report."),
    no_args_is_help=True,
)

FileOpt = Annotated[Path | None, typer.Option(
    "--file", "-f", help="USPTO-2M JSON(L), generic JSONL (see --text-field/--label-field) or a PatentsView folder "
                         "(g_patent_abstract.tsv + g_cpc_current.tsv).")]
DatasetOpt = Annotated[str | None, typer.Option("--dataset", "-d", help="Bundled dataset: cpc-claims.")]
TextFieldOpt = Annotated[str | None, typer.Option("--text-field", help="JSONL text field(s), e.g. 'title,abstract'.")]
LabelFieldOpt = Annotated[str | None, typer.Option("--label-field", help="JSONL label field (list or 'A;B').")]
LabelOpt = Annotated[str, typer.Option("--label", help="Label column of cpc-claims: cpc_subclass, cpc_section.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Read at most N documents from --file.")]


def _spec(dataset, file, label, text_field, label_field, limit):
    from patlink.classify.train import DataSpec

    if dataset is None and file is None:
        raise PatlinkError("give --dataset cpc-claims or --file F")
    try:
        return DataSpec(dataset=dataset, file=str(file) if file else None, label=label, text_field=text_field,
                        label_field=label_field, limit=limit)
    except ValueError as e:
        raise PatlinkError(str(e)) from e


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write (config.json, model.safetensors).")],
    dataset: DatasetOpt = None,
    file: FileOpt = None,
    model: Annotated[str, typer.Option("--model", "-m", help="cnn-glove | cnn-tokens | linear | knn")] = "cnn-glove",
    loss: Annotated[str, typer.Option("--loss", help="bce | wbce (paper's weighted BCE) | focal")] = "wbce",
    alpha: Annotated[float | None, typer.Option("--alpha", help="wbce: positive weight (default 2); focal: "
                                                   "class balance in (0,1).")] = None,
    gamma: Annotated[float, typer.Option("--gamma", help="Focal-loss gamma.")] = 2.0,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Max epochs (per-model default).")] = None,
    filters: Annotated[int | None, typer.Option("--filters", help="CNN filters per kernel size (paper 512).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Adam learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size")] = None,
    weight_decay: Annotated[float | None, typer.Option("--weight-decay", help="Adam weight decay.")] = None,
    dropout: Annotated[float, typer.Option("--dropout", help="CNN dropout after the dense layer.")] = 0.5,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Tokens kept per text.")] = 256,
    encoder: Annotated[str, typer.Option("--encoder", help="Sentence/token model for linear, knn, cnn-tokens.")] = "minilm",
    val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of TRAIN held out for "
                                                "early stopping and thresholds.")] = 0.15,
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="Test share of a --file corpus.")] = 0.2,
    per_label_thresholds: Annotated[bool, typer.Option("--per-label-thresholds", help="Tune one threshold per "
                                                       "frequent label (else one global).")] = False,
    objective: Annotated[str, typer.Option("--objective", help="Threshold objective: micro_f1 | samples_f1")] = "micro_f1",
    min_labels: Annotated[int, typer.Option("--min-labels", help="Labels always predicted per text.")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    label: LabelOpt = "cpc_subclass",
    text_field: TextFieldOpt = None,
    label_field: LabelFieldOpt = None,
    limit: LimitOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's epoch checkpoint.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a classifier; thresholds are tuned on a validation part of TRAIN (never test)."""
    from patlink.classify.thresholds import ThresholdConfig
    from patlink.classify.train import TrainConfig, train_classifier

    spec = _spec(dataset, file, label, text_field, label_field, limit)
    cfg = TrainConfig(model=model, loss=loss, alpha=alpha, gamma=gamma, epochs=epochs, filters=filters, lr=lr,
                      batch_size=batch_size, weight_decay=weight_decay, dropout=dropout, max_tokens=max_tokens, encoder=encoder, val_fraction=val_fraction,
                      test_fraction=test_fraction, seed=seed,
                      threshold=ThresholdConfig(objective=objective, per_label=per_label_thresholds,
                                                min_labels=min_labels))
    info = train_classifier(cfg, spec, out, resume=resume, show_progress=not json_out)
    if json_out:
        print_json({k: info[k] for k in ("model", "n_train", "n_val", "thresholds", "val_metrics", "fit", "seconds",
                                         "data_report")} | {"out": str(out)})
        return
    rep = info["data_report"]["train"]
    vm = info["val_metrics"]
    console.print(f"[bold]{info['model']}[/bold] trained on {info['n_train']} documents, validated on "
                  f"{info['n_val']} ({len(info['labels'])} labels); dropped: {rep.get('empty_texts', 0)} empty "
                  f"text(s), {rep.get('unlabelled', 0)} unlabelled")
    console.print(f"threshold {info['thresholds']['global']:.2f} (per-label: "
                  f"{info['thresholds']['per_label'] is not None}); validation micro-F1 {_pct(vm['micro_f1'])}, "
                  f"example-F1 {_pct(vm['samples_f1'])}; {info['seconds']['total']:.0f} s")
    console.print(f"saved to {out}  →  patlink classify eval --model {out}")


@app.command("eval")
def eval_(
    model: Annotated[Path, typer.Option("--model", "-m", help="Run folder written by `classify train`.")],
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for 95% CIs (0: none).")] = 1000,
    label: Annotated[str | None, typer.Option("--cooc", help="Show the co-occurrence table (paper's Table 4) "
                                                 "for this label, e.g. G06F.")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate on the test split: P/R/F1 (micro, macro, example-based), p@1, r@5, per section, 95% CIs."""
    from rich.table import Table

    from patlink.classify.predict import evaluate_classifier

    rep = evaluate_classifier(model, n_bootstrap=bootstrap, seed=seed, cooc_label=label, show_progress=not json_out)
    if json_out:
        print_json(rep)
        return
    ci = rep["ci95"]
    t = Table(title=f"{rep['model']} on {rep['n_docs']} test documents ({rep['data'].get('dataset') or rep['data']['file']})")
    t.add_column("metric")
    t.add_column("value %", justify="right")
    t.add_column("95% CI", justify="right")
    for k in ("micro_p", "micro_r", "micro_f1", "macro_f1", "samples_p", "samples_r", "samples_f1", "p@1", "r@5",
              "f1@5"):
        t.add_row(k, _pct(rep[k]), f"[{_pct(ci[k][0])}, {_pct(ci[k][1])}]" if k in ci else "")
    console.print(t)
    console.print(f"labels/doc: gold {rep['labels_per_doc_true']:.2f}, predicted {rep['labels_per_doc_pred']:.2f}; "
                  f"test label assignments unseen in training: {rep['unseen_test_labels']['assignments']}; "
                  f"dropped test docs: {rep['test_report'].get('empty_texts', 0)} empty, "
                  f"{rep['test_report'].get('unlabelled', 0)} unlabelled")
    s = Table(title="per CPC section (micro over the section's labels)")
    for c in ("section", "P %", "R %", "F1 %", "patents"):
        s.add_column(c, justify="right" if c != "section" else "left")
    for sec, m in rep["per_section"].items():
        s.add_row(sec, _pct(m["p"]), _pct(m["r"]), _pct(m["f1"]), str(m["n_patents"]))
    console.print(s)
    if "cooccurrence" in rep:
        co = rep["cooccurrence"]
        for key in ("gold", "pred", "pred_correct", "pred_incorrect"):
            console.print(f"{co['label']} {key}: " + ", ".join(f"{lab} {n}" for lab, n in co[key]))


@app.command()
def predict(
    text: Annotated[str, typer.Argument(help="Patent or product text (use '-' to read stdin).")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Run folder written by `classify train`.")],
    top: Annotated[int, typer.Option("--top", "-k", help="Ranked labels to show.")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Print the best CPC subclasses for a text with scores and titles (✓ = above the tuned threshold)."""
    import sys

    from rich.table import Table

    from patlink.classify.predict import load_classifier

    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise PatlinkError("empty text: nothing to classify")
    if top < 1:
        raise PatlinkError("--top must be >= 1")
    rows = load_classifier(model).top(text, top)
    if json_out:
        print_json({"predicted": [r["code"] for r in rows if r["predicted"]], "top": rows})
        return
    t = Table()
    for c in ("rank", "CPC", "score", "predicted", "title"):
        t.add_column(c)
    for i, r in enumerate(rows, 1):
        t.add_row(str(i), r["code"], f"{r['score']:.3f}", "✓" if r["predicted"] else "", r["title"] or "")
    console.print(t)


@app.command()
def labels(
    dataset: DatasetOpt = None,
    file: FileOpt = None,
    split: Annotated[str, typer.Option("--split", help="cpc-claims split: train, test, groups1400, all.")] = "all",
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the frequency plot (.png/.pdf/.svg).")] = None,
    top: Annotated[int, typer.Option("--top", help="Most frequent labels listed.")] = 20,
    label: LabelOpt = "cpc_subclass",
    text_field: TextFieldOpt = None,
    label_field: LabelFieldOpt = None,
    limit: LimitOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Label-frequency report (paper's Fig. 1): labels, labels per document, rare labels, per section."""
    from rich.table import Table

    from patlink.classify.cpc_titles import cpc_title
    from patlink.classify.data import label_frequency, load_cpc_claims, load_file, plot_label_frequency

    spec = _spec(dataset, file, label, text_field, label_field, limit)
    if spec.dataset is not None:
        splits = ["train", "test"] if split == "all" else [split]
        labs = [lab for sp in splits for lab in load_cpc_claims(sp, label).labels]
        source = f"cpc-claims:{split}"
    else:
        data = load_file(spec.file, text_field, label_field, limit)
        labs, source = data.labels, data.source
    rep = label_frequency(labs, top=top)
    if plot is not None:
        plot_label_frequency(rep, plot, title=f"Label frequency, {source}")
    if json_out:
        print_json(rep | {"source": source, "plot": str(plot) if plot else None})
        return
    lpd = rep["labels_per_doc"]
    console.print(f"{source}: {rep['n_docs']} documents, {rep['n_labels']} labels, {lpd['mean']:.2f} labels/doc "
                  f"(max {lpd['max']}); labels with 1 doc: {rep['rare']['1']}, ≤5: {rep['rare']['<=5']}, "
                  f"≤10: {rep['rare']['<=10']}; top 10% of labels take {100 * rep['head_share']:.0f}% of assignments")
    t = Table(title=f"top {top} labels")
    for c in ("label", "docs", "title"):
        t.add_column(c)
    for lab, n in rep["top"]:
        t.add_row(lab, str(n), cpc_title(lab) or "")
    console.print(t)
    console.print("per section: " + ", ".join(f"{s} {n}" for s, n in rep["sections"].items()))
    if plot is not None:
        console.print(f"plot written to {plot}")
