"""``patlink compare``: significance tests between methods of one or several ``patlink eval`` reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patlink.cli.common import JsonOpt, PatlinkError, console, print_json


def parse_methods(specs: list[str]) -> dict[str, list[str]]:
    """``--method`` values → label → method name per report.

    ``hybrid`` (same name in every report) or ``LABEL=NAME0,NAME1,…`` (one name per report, e.g. trained runs
    whose folder differs per partition).

    Raises:
        PatlinkError: on an empty spec or a label given twice.
    """
    out: dict[str, list[str]] = {}
    for spec in specs:
        label, eq, names = spec.partition("=")
        label = label.strip()
        parts = [n.strip() for n in (names if eq else label).split(",") if n.strip()]
        if not label or not parts:
            raise PatlinkError(f"bad --method {spec!r}: use NAME or LABEL=NAME_IN_REPORT_1,NAME_IN_REPORT_2,…")
        if label in out:
            raise PatlinkError(f"--method label {label!r} given twice")
        out[label] = parts
    return out


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        reports: Annotated[list[Path], typer.Argument(
            help="Report folders of `patlink eval --out DIR`; several = one per fold partition (--seed) of the "
                 "same cross-validation, combined as repeated k-fold CV.")],
        method: Annotated[list[str], typer.Option(
            "--method", "-m",
            help="A method to compare (repeatable): NAME as in the reports, or LABEL=NAME1,NAME2,… with one name "
                 "per report (trained runs differ per partition).")],
        reference: Annotated[str, typer.Option(help="Label every other method is tested against (the best "
                                                    "baseline).")],
        metric: Annotated[str, typer.Option(help="Per-query metric: mrr, map, ndcg@10, recall@10, …")] = "mrr",
        direction: Annotated[str, typer.Option(help="item2patent, patent2item or both.")] = "both",
        seeds: Annotated[str | None, typer.Option(
            help="Partition seed of each report, comma-separated, for cross-validation reports written before "
                 "patlink stored their folds (the folds are then recomputed from the bundled dataset).")] = None,
        match: Annotated[str, typer.Option(
            help="common: queries tested in every report (cross-validation partitions); any: every query tested "
                 "at least once, averaged over the reports that tested it (repeated single splits, e.g. graph "
                 "splits with several --seed); auto: common for K-fold reports, else any.")] = "auto",
        resamples: Annotated[int, typer.Option(help="Monte Carlo draws of the randomization test.")] = 10_000,
        out: Annotated[Path | None, typer.Option(help="Write comparison.md and comparison.json here.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Paired significance tests between methods, over one report or repeated cross-validation.

        Per query, each method's metric is averaged over the reports (each query is tested once per partition);
        then the paired t-test, a randomization test and the Wilcoxon test compare each method with the
        reference. With cross-validation reports it adds the corrected repeated-CV t-test of Nadeau & Bengio
        (2003) over the fold means, which also accounts for the overlap of the folds' training sets.

        Examples:
          patlink compare reports/cv5 -m hybrid -m runs/cv5+bm25 --reference hybrid
          patlink compare reports/cv-s0 reports/cv-s1 reports/cv-s2 -m hybrid \\
              -m "linker+bm25=runs/cv-s0+bm25,runs/cv-s1+bm25,runs/cv-s2+bm25" --reference hybrid
          patlink compare reports/hw-s0 reports/hw-s1 reports/hw-s2 -m bm25 -m hybrid --reference bm25
              (three `patlink eval --seed S` graph splits: repeated holdout)
        """
        from patlink.evaluation.repeated import compare_reports, format_comparison, load_report, write_comparison

        seed_list: list[int | None] = [None] * len(reports)
        if seeds:
            try:
                seed_list = [int(s) for s in seeds.split(",")]
            except ValueError:
                raise PatlinkError(f"--seeds must be integers, got {seeds!r}") from None
            if len(seed_list) != len(reports):
                raise PatlinkError(f"--seeds gives {len(seed_list)} seeds for {len(reports)} reports")
        directions = ("item2patent", "patent2item") if direction == "both" else (direction,)
        if any(d not in ("item2patent", "patent2item") for d in directions):
            raise PatlinkError(f"unknown direction {direction!r}; use item2patent, patent2item or both")
        try:
            reps = [load_report(r, seed=s) for r, s in zip(reports, seed_list)]
            comps = compare_reports(reps, parse_methods(method), reference, metric, directions,
                                    n_resamples=resamples, match=match)
        except (FileNotFoundError, ValueError) as e:
            raise PatlinkError(str(e)) from None
        if out is not None:
            md = write_comparison(comps, out, "patlink compare: " + ", ".join(map(str, reports)))
        else:
            md = format_comparison(comps)
        if json_out:
            print_json([c.to_dict() for c in comps])
            return
        console.print(md, markup=False, highlight=False)
