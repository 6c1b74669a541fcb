"""Train and evaluate every `patlink classify` model on the bundled cpc-claims data; print a Markdown table.

    python benchmarks/bench_classify.py --out runs/classify-bench [--only linear-wbce,knn] [--bootstrap 1000]

Protocol: train on cpc-claims `train` (1,000 patents; 15% of it held out for early stopping and thresholds),
evaluate once on `test` (100 patents) with bootstrap 95% CIs. Results also go to `<out>/results.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from patlink.classify.predict import evaluate_classifier
from patlink.classify.train import DataSpec, TrainConfig, train_classifier

CONFIGS = {
    "cnn-glove-bce": {"model": "cnn-glove", "loss": "bce"},
    "cnn-glove-wbce": {"model": "cnn-glove", "loss": "wbce", "alpha": 2.0},
    "cnn-tokens-wbce": {"model": "cnn-tokens", "loss": "wbce", "alpha": 2.0},
    "linear-bce": {"model": "linear", "loss": "bce"},
    "linear-wbce": {"model": "linear", "loss": "wbce", "alpha": 2.0},
    "knn": {"model": "knn"},
}
COLS = ("micro_p", "micro_r", "micro_f1", "macro_f1", "samples_f1", "p@1", "r@5")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/classify-bench")
    ap.add_argument("--only", default="")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res_path = out / "results.json"
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    names = [n for n in CONFIGS if not args.only or n in args.only.split(",")]
    for name in names:
        t0 = time.perf_counter()
        info = train_classifier(TrainConfig(**CONFIGS[name]), DataSpec(dataset="cpc-claims"), out / name)
        rep = evaluate_classifier(out / name, n_bootstrap=args.bootstrap)
        rep["train_seconds"] = info["seconds"]["total"]
        rep["total_seconds"] = round(time.perf_counter() - t0, 1)
        rep["best_epoch"] = info["fit"].get("best_epoch")
        rep["k"] = info["fit"].get("k")
        results[name] = rep
        res_path.write_text(json.dumps(results, indent=2, default=str))
        print(name, {k: round(rep[k], 3) for k in COLS}, f"{rep['total_seconds']} s", flush=True)
    print("\n| model | " + " | ".join(COLS) + " | train s |")
    print("|---" * (len(COLS) + 2) + "|")
    for name, rep in results.items():
        cells = [f"{100 * rep[k]:.1f} [{100 * rep['ci95'][k][0]:.1f}, {100 * rep['ci95'][k][1]:.1f}]"
                 if k in rep["ci95"] else f"{100 * rep[k]:.1f}" for k in COLS]
        print(f"| {name} | " + " | ".join(cells) + f" | {rep['train_seconds']:.0f} |")


if __name__ == "__main__":
    main()
