"""Benchmarks of the trained linker on real data (pap2pat, bundled).

``python benchmarks/bench_linker.py timing``
    Time per epoch with and without hard negatives (in-batch only vs adversarial with k=10 per query, bank and
    encode modes) and peak RSS, pap2pat title+abstract → claims, on the threads given by ``--threads``.
``python benchmarks/bench_linker.py evidence --negatives inbatch --epochs 8``
    Trains on pap2pat (items title+abstract, patents claims), split with ``patlink.graph.split.split_dataset``
    (seed 0), and prints validation MRR (filtered, both directions) of the linker next to zero-shot MiniLM
    (mean-pooled frozen token embeddings = the model's own sentence embedding, from the same token cache) and
    BM25 (``bm25s``). Numbers are on the VALIDATION split; the test split is never touched here.

``python benchmarks/bench_linker.py test --methods runs/abl-inbatch,runs/abl-bm25 --reference runs/abl-inbatch``
    TEST-split MRR (95% bootstrap CI, ``patlink.evaluation.linkage.evaluate_linkage``, pool = test split, as
    ``patlink eval``) of each method in both directions, and paired t-tests (``compare_runs``, ranx) of every
    method against ``--reference`` (the ablation's in-batch baseline). Only for reporting: nothing is tuned here.

``python benchmarks/bench_linker.py test ... --distractors api-patents --n-distractors 2000``
    The same with a SEEDED SUBSAMPLE (``numpy.random.default_rng(--seed)``, without replacement, sorted ids) of
    another dataset's patents added to the patent pool (issue 3 task (c)): embedding all 46,920 ``api-patents``
    with MiniLM takes ~35 min on 2 idle cores, so the linker/dense rows use a subsample. Only item→patent changes.

Run with ``HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1``; the token embeddings are cached in ``$PATLINK_CACHE/tokens``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _load(item_view: str, patent_view: str, seed: int):
    from patlink.data import load_dataset
    from patlink.graph import split_dataset

    ds = load_dataset("pap2pat").with_views(item_view, patent_view)
    sp = split_dataset(ds, seed=seed)
    return ds, {"train": list(sp.train), "val": list(sp.val), "test": list(sp.test)}


def _filtered_mrr(S: np.ndarray, qids, dids, val, train, direction) -> float:
    from patlink.retrieval.measures import exact_mrr

    di = {d: k for k, d in enumerate(dids)}
    qi = {q: k for k, q in enumerate(qids)}
    S = S.copy()
    for i, p in train:
        q, d = (i, p) if direction == "item2patent" else (p, i)
        if q in qi and d in di:
            S[qi[q], di[d]] = -np.inf
    rel = {}
    for i, p in val:
        q, d = (i, p) if direction == "item2patent" else (p, i)
        rel.setdefault(q, []).append(di[d])
    rows = [qi[q] for q in rel]
    return exact_mrr(S[rows], list(rel.values()))


def baselines(ds, split) -> dict:
    """Zero-shot MiniLM (mean pooling of the cached frozen token embeddings, L2-normalised) and BM25."""
    import bm25s

    from patlink.models.token_cache import TokenEmbeddingStore

    store = TokenEmbeddingStore("minilm", 256)
    it, pt = ds.item_texts(), ds.patent_texts()
    iids, pids = list(it), list(pt)

    def mean_pool(texts):
        v = np.stack([a.astype(np.float32).mean(0) for a in store.encode(texts)])
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    I, P = mean_pool([it[i] for i in iids]), mean_pool([pt[p] for p in pids])
    out = {}
    S = I @ P.T
    out["dense_minilm"] = {d: _filtered_mrr(S if d == "item2patent" else S.T, iids if d == "item2patent" else pids,
                                            pids if d == "item2patent" else iids, split["val"], split["train"], d)
                           for d in ("item2patent", "patent2item")}
    res = {}
    for d, (qs, ds_) in {"item2patent": (iids, pids), "patent2item": (pids, iids)}.items():
        qt = it if d == "item2patent" else pt
        dt = pt if d == "item2patent" else it
        r = bm25s.BM25()
        r.index(bm25s.tokenize([dt[x] for x in ds_], stopwords="en", show_progress=False), show_progress=False)
        q_tok = bm25s.tokenize([qt[x] for x in qs], stopwords="en", show_progress=False, return_ids=False)
        docs, scores = r.retrieve(q_tok, k=len(ds_), show_progress=False, n_threads=1)
        S = np.full((len(qs), len(ds_)), -1e9, dtype=np.float32)
        np.put_along_axis(S, docs, scores, axis=1)
        res[d] = _filtered_mrr(S, qs, ds_, split["val"], split["train"], d)
    out["bm25"] = res
    return out


def _override(cfg, pairs):
    """Apply ``key=value`` overrides (``encoder.dropout=0.2``, ``optim.lr=1e-4``, flat ``lr=1e-4``,
    ``hard_negatives=[0,5,10]``) through :meth:`TrainConfig.replace`."""
    for kv in pairs or []:
        k, v = kv.split("=", 1)
        try:
            value = json.loads(v)
        except json.JSONDecodeError:
            value = v
        *path, last = k.split(".")
        change = {last: value}
        for part in reversed(path):
            change = {part: change}
        cfg = cfg.replace(**change)
    return cfg


def evidence(args) -> dict:
    from patlink.training.config import EncoderConfig, TrainConfig
    from patlink.training.trainer import train_linker

    ds, split = _load(args.item_view, args.patent_view, args.seed)
    t0 = time.perf_counter()
    base = {} if args.no_baselines else baselines(ds, split)
    t_base = time.perf_counter() - t0
    cfg = TrainConfig.from_dict(dict(encoder=EncoderConfig(), epochs=args.epochs, negatives=args.negatives,
                                     seed=args.seed, temperature=args.temperature, lr=args.lr,
                                     batch_size=args.batch_size, progress=False, patience=args.patience,
                                     threads=args.threads, denominator=args.denominator))
    if args.config:
        cfg = TrainConfig.from_json(args.config)
    cfg = _override(cfg, args.set)
    t0 = time.perf_counter()
    res = train_linker(ds, split, cfg, args.out)
    best = res.best_val
    out = {"dataset": "pap2pat", "item_view": args.item_view, "patent_view": args.patent_view,
           "n_train": len(split["train"]), "n_val": len(split["val"]), "config": cfg.to_dict(),
           "baselines_val_mrr": base, "baseline_time_s": t_base,
           "linker_val_mrr": {"item2patent": best["mrr_item2patent"], "patent2item": best["mrr_patent2item"]},
           "best_epoch": res.best_epoch, "best_step": res.best_step, "fusion": res.fusion and {
               k: v for k, v in res.fusion.items() if k.startswith("alpha") or k == "val_mrr"},
           "evals": [[e["step"], round(e["mrr_item2patent"], 4), round(e["mrr_patent2item"], 4)]
                     for e in json.loads((Path(args.out) / "metrics.json").read_text())["evals"]],
           "train_time_s": time.perf_counter() - t0,
           "epoch_times_s": [h["train_time_s"] for h in res.history],
           "val_by_epoch": [[h["val"]["mrr_item2patent"], h["val"]["mrr_patent2item"]] for h in res.history],
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return out


def timing(args) -> dict:
    """Seconds per epoch: plain (in-batch) vs adversarial k=10 (bank and encode), same data and batches."""
    import torch

    from patlink.training.config import TrainConfig
    from patlink.training.trainer import _split_lists, _Trainer

    ds, split = _load(args.item_view, args.patent_view, args.seed)
    rows = {}
    for name, neg, mode in (("inbatch", "inbatch", "bank"), ("adversarial_bank_k10", "adversarial", "bank"),
                            ("adversarial_encode_k10", "adversarial", "encode")):
        if args.skip_encode and mode == "encode":
            continue
        cfg = TrainConfig.from_dict(dict(epochs=1, negatives=neg, hard_negatives=[10], progress=False,
                                         threads=args.threads, full_val_metrics=False,
                                         adversary={"negative_embeddings": mode}, tune_fusion=False,
                                         evals_per_epoch=1))
        tr = _Trainer(ds, _split_lists(split), cfg, Path(args.out) / name)
        torch.set_num_threads(args.threads)
        times = []
        for rep in range(args.repeats):
            tr.epoch, tr.cfg = 0, dataclasses.replace(cfg, epochs=1)
            tr.run()
            times.append(tr.history[-1]["train_time_s"])
        rows[name] = {"epoch_s": float(np.median(times)), "all_s": times, "steps": tr.n_batches,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    base = rows["inbatch"]["epoch_s"]
    for r in rows.values():
        r["ratio_vs_inbatch"] = r["epoch_s"] / base
    return {"threads": args.threads, "n_train": len(split["train"]), "rows": rows}


def test_eval(args) -> dict:
    """Test MRR with CIs per method and direction, p-values of paired t-tests against ``args.reference``."""
    from patlink.cli.methods import parse_method
    from patlink.data import load_dataset
    from patlink.evaluation.experiment import resolve_splits
    from patlink.evaluation.linkage import LinkageEvalConfig, evaluate_linkage
    from patlink.evaluation.metrics import compare_runs

    ds = load_dataset(args.dataset).with_views(args.item_view, args.patent_view)
    splits = resolve_splits(ds, seed=args.seed)
    methods = [m for m in args.methods.split(",") if m]
    distractors: dict[str, str] = {}
    if args.distractors:
        dds = load_dataset(args.distractors)
        texts = dds.patent_texts(view=[f for f in ds.patent_view if f in dds.patent_fields] or None)
        ids = sorted(p for p, t in texts.items() if t.strip() and p not in ds.patents)
        if args.n_distractors and args.n_distractors < len(ids):
            pick = np.random.default_rng(args.seed).choice(len(ids), args.n_distractors, replace=False)
            ids = sorted(ids[k] for k in pick)
        distractors = {p: texts[p] for p in ids}
    directions = ("item2patent",) if distractors else ("item2patent", "patent2item")
    cfg = LinkageEvalConfig(directions=directions, n_bootstrap=1000, seed=0, distractor_patents=distractors)
    res = {m: evaluate_linkage(ds, splits["test"], parse_method(m), cfg, val_links=splits["val"]) for m in methods}
    out: dict = {"dataset": args.dataset, "item_view": args.item_view, "patent_view": args.patent_view,
                 "n_test": len(splits["test"]), "reference": args.reference, "rows": {},
                 "distractors": args.distractors, "n_distractors": len(distractors)}
    for d in cfg.directions:
        qrels = res[methods[0]][d]["qrels"]
        cmp = compare_runs(qrels, {m: res[m][d]["run"] for m in methods}) if len(methods) > 1 else None
        for m in methods:
            met = res[m][d]["metrics"]
            row = out["rows"].setdefault(m, {})
            row[d] = {"mrr": met["mrr"], "ci95": met["ci95"]["mrr"], "alpha": res[m][d].get("alpha")}
            if cmp and m != args.reference:
                row[d]["p_vs_reference"] = cmp["pvalues"][m][args.reference]["mrr"]
    for m, row in out["rows"].items():
        print(m, " | ".join(f"{d}: {r['mrr']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] p={r.get('p_vs_reference')}"
                            for d, r in row.items()), file=sys.stderr)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=["timing", "evidence", "test"])
    ap.add_argument("--dataset", default="pap2pat")
    ap.add_argument("--methods", default="")
    ap.add_argument("--reference", default="")
    ap.add_argument("--distractors", default=None, help="dataset whose patents are added to the test pool")
    ap.add_argument("--n-distractors", type=int, default=0, help="seeded subsample size (0 = all)")
    ap.add_argument("--item-view", default="title,abstract")
    ap.add_argument("--patent-view", default="claims")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--negatives", default="inbatch")
    ap.add_argument("--temperature", type=float, default=0.05)
    ap.add_argument("--denominator", default="negatives")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--config", default=None)
    ap.add_argument("--out", default="/tmp/patlink-bench-linker")
    ap.add_argument("--set", action="append", default=[], help="TrainConfig override key=value (repeatable)")
    ap.add_argument("--skip-encode", action="store_true", help="timing: skip the (slow) encode mode")
    ap.add_argument("--no-baselines", action="store_true", help="skip the BM25 / zero-shot baselines")
    args = ap.parse_args(argv)
    res = {"evidence": evidence, "timing": timing, "test": test_eval}[args.task](args)
    print(json.dumps(res, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
