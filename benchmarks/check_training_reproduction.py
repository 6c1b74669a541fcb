"""Compare two linker training runs value by value: a reference run and a run of the same command with other code.

Everything a run records about its training is compared (``metrics.json``): every validation evaluation (step,
epoch, both directions' MRR, the selection metric, improved), every epoch's full validation metrics (MRR, exact
MRR, MAP, nDCG@10, P/Recall/R_cap@k in both directions), train loss, reward, learning rate and number of extra
negatives, every step's loss / drift / grad norm / reward / adversary loss, the selected checkpoint (best
epoch, step, metric, ``best_val``) and its weights (``best/model.safetensors``, bitwise), and the BM25 fusion
weights tuned at the end (``fusion.json``) when a run has them. The configs must describe the same training
(compared after :meth:`patlink.training.config.TrainConfig.from_dict`, so a flat config and its nested form are
equal). Timings are not compared.

Usage::

    python benchmarks/check_training_reproduction.py REFERENCE_RUN NEW_RUN [REFERENCE_RUN NEW_RUN ...] [--tol 1e-12]

Prints, per pair, the number of compared numbers, how many are bitwise equal, the largest absolute difference
and the first differences; exits 1 when a pair differs by more than ``--tol`` or in structure.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

TIMINGS = {"train_time_s", "mid_epoch_eval_s"}


def _flatten(x, path: str, out: dict) -> None:
    if isinstance(x, dict):
        for k, v in x.items():
            if k not in TIMINGS:
                _flatten(v, f"{path}.{k}" if path else k, out)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _flatten(v, f"{path}[{i}]", out)
    else:
        out[path] = x


def _compare_weights(a: Path, b: Path) -> str:
    """``identical (n tensors)`` when the two safetensors files hold bitwise-equal tensors, else what differs."""
    if not (a.is_file() and b.is_file()):
        return ""
    from safetensors.numpy import load_file

    ta, tb = load_file(str(a)), load_file(str(b))
    if set(ta) != set(tb):
        return f"different tensor names ({sorted(set(ta) ^ set(tb))[:3]})"
    bad = [k for k in ta if ta[k].shape != tb[k].shape or not (ta[k] == tb[k]).all()]
    return f"identical ({len(ta)} tensors)" if not bad else f"{len(bad)} of {len(ta)} tensors differ, e.g. {bad[:3]}"


def compare(ref_dir: Path, new_dir: Path, tol: float) -> tuple[bool, list[str]]:
    """Compare two run folders; returns ``(ok, report lines)``."""
    from patlink.training.config import TrainConfig

    a = json.loads((ref_dir / "metrics.json").read_text())
    b = json.loads((new_dir / "metrics.json").read_text())
    lines = [f"{ref_dir} vs {new_dir}"]
    ok = True
    if TrainConfig.from_dict(a["config"]) != TrainConfig.from_dict(b["config"]):
        lines.append("  configs differ")
        ok = False
    fa, fb = {}, {}
    for key in ("evals", "epochs", "steps", "best_epoch", "best_step", "best_metric", "best_val", "select_metric",
                "finished"):
        _flatten(a.get(key), key, fa)
        _flatten(b.get(key), key, fb)
    fusion_a, fusion_b = ref_dir / "fusion.json", new_dir / "fusion.json"
    if fusion_a.is_file() or fusion_b.is_file():   # the BM25 fusion weights tuned on validation at the end
        _flatten(json.loads(fusion_a.read_text()) if fusion_a.is_file() else None, "fusion", fa)
        _flatten(json.loads(fusion_b.read_text()) if fusion_b.is_file() else None, "fusion", fb)
    weights = _compare_weights(ref_dir / "best" / "model.safetensors", new_dir / "best" / "model.safetensors")
    if weights:
        lines.append(f"  selected model weights: {weights}")
        ok = ok and weights.startswith("identical")
    only = sorted(set(fa) ^ set(fb))
    if only:
        ok = False
        lines.append(f"  {len(only)} value(s) in one run only, e.g. {only[:5]}")
    n_num = n_equal = 0
    worst, diffs = 0.0, []
    for k in sorted(set(fa) & set(fb)):
        x, y = fa[k], fb[k]
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            n_num += 1
            if x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)):
                n_equal += 1
                continue
            d = abs(float(x) - float(y))
            worst = max(worst, d)
            diffs.append(f"{k}: {x!r} vs {y!r}")
        elif x != y:
            diffs.append(f"{k}: {x!r} vs {y!r}")
            worst = math.inf
    ok = ok and worst <= tol
    n_epochs = len(a.get("epochs", []))
    n_val = sum(1 for k in fa if k.startswith("epochs[") and ".val." in k)
    lines.append(f"  {len(a.get('evals', []))} evaluations, {n_epochs} epochs ({n_val} epoch validation values), "
                 f"{len(a.get('steps', []))} steps; {n_num} numbers compared, {n_equal} bitwise equal, "
                 f"max |diff| {worst:.3g}")
    lines.append(f"  best epoch {a.get('best_epoch')} / {b.get('best_epoch')}, step {a.get('best_step')} / "
                 f"{b.get('best_step')}, {a.get('select_metric')} {a.get('best_metric')!r} / {b.get('best_metric')!r}")
    for d in diffs[:10]:
        lines.append(f"  differs: {d}")
    lines.append("  IDENTICAL" if ok and not diffs else ("  EQUAL within tolerance" if ok else "  DIFFERENT"))
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="pairs of run folders: REFERENCE NEW ...")
    ap.add_argument("--tol", type=float, default=1e-12, help="largest allowed absolute difference")
    args = ap.parse_args(argv)
    if len(args.runs) % 2:
        ap.error("give run folders in pairs: REFERENCE NEW")
    all_ok = True
    for ref, new in zip(args.runs[::2], args.runs[1::2]):
        for d in (ref, new):
            if not (d / "metrics.json").is_file():
                print(f"{d}: no metrics.json (not a finished training run)", file=sys.stderr)
                return 2
        ok, lines = compare(ref, new, args.tol)
        print("\n".join(lines))
        all_ok &= ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
