"""Several paired tests between two methods of a ``patlink eval --out DIR`` report (robustness of a p-value).

``python benchmarks/paired_tests.py reports/cv5-claims3 runs/cv5-c8+bm25+dense hybrid --dataset pap2pat``

For each direction present in ``DIR/runs/`` prints, over the queries both runs answer: mean MRR of A and B, ΔMRR,
queries where A is better / worse, and the p-values of ranx's paired Student t-test (what ``patlink eval``
reports), ranx's Fisher randomization test (10,000 permutations; Monte Carlo, so it varies by ~±0.0005 at
p ≈ 0.002 between runs) and scipy's Wilcoxon signed-rank test.
Qrels come from the dataset's links (``--dataset``), so this suits one-to-one data such as pap2pat, where query ids
do not recur across folds. Method names are given as in ``--method``; the run files are looked up by the report's
file-name rule (``patlink.evaluation.report.run_file_stem``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _run_file(report: Path, method: str, direction: str) -> Path:
    from patlink.evaluation.report import run_file_stem

    return report / "runs" / f"{run_file_stem(method)}.{direction}.trec"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--dataset", default="pap2pat")
    args = ap.parse_args(argv)

    from ranx import Qrels, Run, compare, evaluate
    from scipy.stats import wilcoxon

    from patlink.data.registry import load_dataset

    ds = load_dataset(args.dataset)
    found = False
    for d in ("item2patent", "patent2item"):
        fa, fb = _run_file(args.report, args.a, d), _run_file(args.report, args.b, d)
        if not (fa.is_file() and fb.is_file()):
            continue
        found = True
        qrels_all = ds.qrels(list(ds.links), d)
        ra, rb = Run.from_file(str(fa), kind="trec"), Run.from_file(str(fb), kind="trec")
        qs = sorted(set(ra.keys()) & set(rb.keys()) & set(qrels_all))
        qrels = Qrels({q: qrels_all[q] for q in qs})
        ra, rb = Run({q: ra[q] for q in qs}, name="A"), Run({q: rb[q] for q in qs}, name="B")
        sa = np.asarray(evaluate(qrels, ra, "mrr", return_mean=False), dtype=float)
        sb = np.asarray(evaluate(qrels, rb, "mrr", return_mean=False), dtype=float)
        p = {t: compare(qrels, [ra, rb], ["mrr"], stat_test=t, max_p=1.0, random_seed=0,
                        n_permutations=10_000).to_dict()["A"]["comparisons"]["B"]["mrr"]
             for t in ("student", "fisher")}
        w = wilcoxon(sa, sb).pvalue if np.any(sa != sb) else 1.0
        fisher = f"{p['fisher']:.2g}" if p["fisher"] > 0 else "< 1e-4"
        print(f"{d}: {len(qs)} queries  A {sa.mean():.4f}  B {sb.mean():.4f}  ΔMRR {sa.mean() - sb.mean():+.4f}  "
              f"A better {int((sa > sb).sum())} / worse {int((sa < sb).sum())}  "
              f"p: t-test {p['student']:.2g}, Fisher {fisher}, Wilcoxon {w:.2g}")
    if not found:
        print(f"no run files for {args.a!r} and {args.b!r} under {args.report / 'runs'}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
