"""Approximate nearest-neighbour search (patlink.retrieval.ann) at 1M and 10M MiniLM-like vectors on this machine.

Usage (stages, each well under 10 minutes on 2 cores except where noted; every stage merges its results into
``--out`` and reuses the work folder)::

    python benchmarks/bench_ann.py prepare --check-only   # similarity of synthetic vs real for several C
    python benchmarks/bench_ann.py prepare          # real vectors, generator fit + similarity check, 10M base
    python benchmarks/bench_ann.py exact            # exact latency vs n (sets EXACT_MAX), ground truth 1M + 10M
    python benchmarks/bench_ann.py build --n 1000000 --kinds hnsw
    python benchmarks/bench_ann.py build --n 1000000 --kinds ivf-flat,ivf-sq8,ivf-pq
    python benchmarks/bench_ann.py build --n 10000000 --kinds ivf-sq8
    python benchmarks/bench_ann.py report           # the markdown tables of docs/benchmarks.md
    python benchmarks/bench_ann.py clean            # deletes the work folder (the 15 GB base)

Real vectors: the all-MiniLM-L6-v2 embeddings (max length 256, L2-normalised) of the bundled api-patents
title+abstract texts, read from the embedding cache (:func:`patlink.retrieval.embed.encode_texts`).
1,000 of them (seeded sample) are held out as queries; the rest ("real base") fit the generator.

Synthetic base (exactly): spherical k-means (FAISS, ``--clusters`` C, 25 iterations, seed) of the real base;
for each cluster c its members' mean ``mu_c`` and per-dimension residual standard deviation ``sigma_c``
(clusters with fewer than 5 members use the standard deviation of all residuals). A synthetic vector draws a
real-base row uniformly at random, takes that row's cluster c, and is ``mu_c + sigma_c * z`` with z ~ N(0, I)
(float32), L2-normalised. Rows are generated in chunks of 262,144; chunk i uses ``numpy.random.default_rng([seed,
i])``, so the first 1M rows of the 10M file are the 1M base. Synthetic queries: each held-out real vector's
nearest centroid's cluster, drawn the same way (seed ``[seed, 10**6]``).

Queries: "real" = the 1,000 held-out real vectors (latency is measured on these); "synthetic" = the 1,000
synthetic queries. Recall@100 = |ANN top-100 ∩ exact top-100| / 100, averaged over queries; exact top-100 by
:func:`patlink.retrieval.ann.exact_search` over the memory-mapped base. Latency: each query alone (batch of 1,
what an interactive user waits for), p50 / p99 in ms over the 1,000 real queries; throughput: one batch search
of the 1,000 real queries. Memory: the saved index file's bytes and the growth of the process's anonymous RSS
(peak sampled every 0.1 s during the build, and after it). Load averages are recorded before and after each stage.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import threading
import time
from pathlib import Path

import numpy as np

D = 384
CHUNK = 262_144


# --------------------------------------------------------------------------------------------- bookkeeping

def machine() -> dict:
    import faiss

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem / 2 ** 20, 1), "faiss": faiss.__version__,
            "numpy": np.__version__, "python": platform.python_version(),
            "faiss_threads": faiss.omp_get_max_threads(),
            "PATLINK_THREADS": os.environ.get("PATLINK_THREADS"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def rss_anon_mb() -> float:
    for ln in Path("/proc/self/status").read_text().splitlines():
        if ln.startswith("RssAnon:"):
            return int(ln.split()[1]) / 1024
    return float("nan")


class PeakAnon:
    """Peak anonymous RSS (MB) sampled every 0.1 s while the ``with`` body runs."""

    def __enter__(self):
        self.peak, self._stop = rss_anon_mb(), threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_anon_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_anon_mb())


def merge_out(out: Path, key: str, value) -> None:
    from patlink.io import atomic_write_json

    data = json.loads(out.read_text()) if out.is_file() else {}
    data[key] = value
    atomic_write_json(out, data)


def pct(a, q) -> float:
    return round(float(np.percentile(np.asarray(a), q)), 3)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return round(float(np.mean([len(set(f[f >= 0].tolist()) & set(t.tolist())) / k for f, t in zip(found, truth)])), 4)


# --------------------------------------------------------------------------------------------- prepare

def real_vectors(limit: int | None, cache_only: bool) -> np.ndarray:
    from patlink.data.registry import load_dataset
    from patlink.retrieval.embed import EmbeddingCache, _sha1, encode_texts

    ds = load_dataset("api-patents")
    texts = [t for t in ds.patent_texts().values() if t.strip()]
    if limit:
        texts = texts[:limit]
    if cache_only:   # development only: whatever the cache holds, never embeds
        got = EmbeddingCache("minilm", 256).get([_sha1(t) for t in texts])
        return np.stack(list(got.values())).astype(np.float32)
    return encode_texts(texts, "minilm", max_length=256, show_progress=False)


def fit_generator(base: np.ndarray, clusters: int, seed: int) -> dict:
    import faiss

    km = faiss.Kmeans(D, clusters, niter=25, seed=seed, spherical=True, verbose=False)
    km.train(base)
    labels = km.index.search(base, 1)[1][:, 0]
    counts = np.bincount(labels, minlength=clusters)
    mu = np.zeros((clusters, D), np.float64)
    np.add.at(mu, labels, base)
    mu /= np.maximum(counts, 1)[:, None]
    resid = base - mu[labels]
    var = np.zeros((clusters, D), np.float64)
    np.add.at(var, labels, resid.astype(np.float64) ** 2)
    var /= np.maximum(counts, 1)[:, None]
    sigma = np.sqrt(var)
    sigma[counts < 5] = resid.std(axis=0)
    return {"mu": mu.astype(np.float32), "sigma": sigma.astype(np.float32), "labels": labels.astype(np.int64),
            "centroids": km.centroids.copy(), "counts": counts}


def draw(gen: dict, rows_labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((len(rows_labels), D), dtype=np.float32)
    x *= gen["sigma"][rows_labels]
    x += gen["mu"][rows_labels]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def draw_base_chunk(gen: dict, seed: int, i: int, size: int) -> np.ndarray:
    rng = np.random.default_rng([seed, i])
    rows = rng.integers(0, len(gen["labels"]), size)
    return draw(gen, gen["labels"][rows], rng)


def nn_stats(base: np.ndarray, queries: np.ndarray, seed: int) -> dict:
    from patlink.retrieval.ann import exact_search

    s, _ = exact_search(base, queries, 100)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(base), 20000), rng.integers(0, len(base), 20000)
    pair = np.einsum("ij,ij->i", base[a], base[b])
    return {"top1_p10_p50_p90": [pct(s[:, 0], q) for q in (10, 50, 90)],
            "top10_p10_p50_p90": [pct(s[:, 9], q) for q in (10, 50, 90)],
            "top100_p10_p50_p90": [pct(s[:, 99], q) for q in (10, 50, 90)],
            "top1_minus_top100_mean": round(float(np.mean(s[:, 0] - s[:, 99])), 4),
            "random_pair_mean_std": [round(float(pair.mean()), 4), round(float(pair.std()), 4)]}


def stage_prepare(args) -> None:
    la0 = loadavg()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    real = real_vectors(args.real_limit, args.cache_only)
    real_s = time.perf_counter() - t
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(real))
    q_real, base_real = real[perm[:args.queries]], real[perm[args.queries:]]
    info = {"real_vectors": len(real), "real_base": len(base_real), "queries": len(q_real),
            "read_s": round(real_s, 1), "similarity_check": {}}
    info["similarity_check"]["real_queries_vs_real_base"] = nn_stats(base_real, q_real, args.seed)
    chosen = None
    for c in sorted(set(args.compare_clusters) | {args.clusters}):
        t = time.perf_counter()
        gen = fit_generator(base_real, c, args.seed)
        fit_s = time.perf_counter() - t
        g = np.random.default_rng([args.seed, 2 * 10 ** 6])
        syn_base = draw(gen, gen["labels"][g.integers(0, len(base_real), len(base_real))], g)
        q_lab = gen_assign(gen, q_real)
        syn_q = draw(gen, q_lab, np.random.default_rng([args.seed, 10 ** 6]))
        info["similarity_check"][f"C={c}"] = {
            "fit_s": round(fit_s, 1), "clusters_with_lt5_members": int((gen["counts"] < 5).sum()),
            "synthetic_queries_vs_synthetic_base": nn_stats(syn_base, syn_q, args.seed),
            "real_queries_vs_synthetic_base": nn_stats(syn_base, q_real, args.seed)}
        print(c, json.dumps(info["similarity_check"][f"C={c}"]), flush=True)
        if c == args.clusters:
            chosen = (gen, syn_q)
    if args.check_only:
        old = json.loads(args.out.read_text()).get("similarity_check", {}) if args.out.is_file() else {}
        merge_out(args.out, "similarity_check", {**old, **info["similarity_check"], "real_vectors": len(real),
                                                 "loadavg_after": loadavg()})
        return
    gen, syn_q = chosen
    np.save(work / "q_real.npy", q_real)
    np.save(work / "q_syn.npy", syn_q)
    n = max(args.sizes)
    t = time.perf_counter()
    out = np.lib.format.open_memmap(work / "base.npy", mode="w+", dtype=np.float32, shape=(n, D))
    for i, s in enumerate(range(0, n, CHUNK)):
        out[s:s + CHUNK] = draw_base_chunk(gen, args.seed, i, min(CHUNK, n - s))
    out.flush()
    del out
    info.update(clusters=args.clusters, base_rows=n, base_file_gb=round((work / "base.npy").stat().st_size / 1e9, 2),
                generate_s=round(time.perf_counter() - t, 1), loadavg_before=la0, loadavg_after=loadavg(),
                machine=machine())
    merge_out(args.out, "prepare", info)
    print(json.dumps(info, indent=1))


def gen_assign(gen: dict, x: np.ndarray) -> np.ndarray:
    c = gen["centroids"] / np.linalg.norm(gen["centroids"], axis=1, keepdims=True)
    return np.argmax(x @ c.T, axis=1)


# --------------------------------------------------------------------------------------------- exact

def single_latencies(fn, queries: np.ndarray, reps: int | None = None) -> list[float]:
    qs = queries if reps is None else queries[:reps]
    fn(qs[:1])   # warm-up
    out = []
    for i in range(len(qs)):
        t = time.perf_counter()
        fn(qs[i:i + 1])
        out.append(1000 * (time.perf_counter() - t))
    return out


def stage_exact(args) -> None:
    from patlink.retrieval.ann import exact_search

    la0 = loadavg()
    work = args.work
    base = np.load(work / "base.npy", mmap_mode="r")
    q_real, q_syn = np.load(work / "q_real.npy"), np.load(work / "q_syn.npy")
    lat = []
    for n in [] if args.no_latency else args.exact_sizes:
        x = np.array(base[:n])          # in RAM, as a small corpus would be
        ms = single_latencies(lambda q, x=x: exact_search(x, q, 100), q_real, args.exact_reps)
        lat.append({"n": n, "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "queries": len(ms)})
        print(lat[-1], flush=True)
        del x
    if lat:
        merge_out(args.out, args.latency_key, {"rows": lat, "loadavg_before": la0, "loadavg_after": loadavg(),
                                               "d": D, "k": 100, "threads": machine()["faiss_threads"]})
    if args.no_ground_truth:
        return
    gt = json.loads(args.out.read_text()).get("ground_truth", {}) if args.out.is_file() else {}
    for n in args.sizes:
        q = np.concatenate([q_real, q_syn])
        t = time.perf_counter()
        _, ids = exact_search(base[:n], q, 100)
        dt = time.perf_counter() - t
        np.save(work / f"gt_{n}.npy", ids)
        gt[str(n)] = {"queries": len(q), "seconds": round(dt, 1), "queries_per_s": round(len(q) / dt, 1),
                      "loadavg_after": loadavg()}
        print(n, gt[str(n)], flush=True)
    merge_out(args.out, "ground_truth", gt)


# --------------------------------------------------------------------------------------------- build

SWEEPS = {
    "hnsw": [{"ef_search": e} for e in (64, 128, 256, 512)],
    "ivf-flat": [{"nprobe": p} for p in (16, 32, 64, 128, 256)],
    "ivf-sq8": [{"nprobe": p} for p in (16, 32, 64, 128, 256)],
    "ivf-pq": [{"nprobe": p, "refine": r} for p in (32, 64, 128) for r in (1, 4, 8)],
}


def stage_build(args) -> None:
    from patlink.retrieval.ann import AnnConfig, AnnIndex, build_ann, choose_ann

    work, n = args.work, args.n
    base = np.load(work / "base.npy", mmap_mode="r")[:n]
    q_real, q_syn = np.load(work / "q_real.npy"), np.load(work / "q_syn.npy")
    gt = np.load(work / f"gt_{n}.npy")
    gt_real, gt_syn = gt[:len(q_real)], gt[len(q_real):]
    key = f"n={n}"
    data = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results = data.get("builds", {}).get(key, {})
    for kind in args.kinds:
        cfg = choose_ann(n, D, kind)
        extra = dict(p.split("=") for p in args.params) if args.params else {}
        cfg = cfg.replace(**{k: int(v) for k, v in extra.items()})
        la0 = loadavg()
        a0 = rss_anon_mb()
        t = time.perf_counter()
        with PeakAnon() as peak:
            index = build_ann(base, cfg, seed=args.seed)
        build_s = time.perf_counter() - t
        a1 = rss_anon_mb()
        path = work / f"{kind}_{n}.faiss"
        t = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t
        row = {"config": index.config.to_dict(), "build_s": round(build_s, 1),
               "train_s": round(index.build_stats["train_s"], 1), "add_s": round(index.build_stats["add_s"], 1),
               "train_size": index.build_stats["train_size"], "save_s": round(save_s, 1),
               "index_file_mb": round(path.stat().st_size / 2 ** 20, 1),
               "anon_rss_growth_mb": round(a1 - a0, 1), "anon_rss_peak_growth_mb": round(peak.peak - a0, 1),
               "loadavg_before": la0, "sweep": []}
        print(kind, {k: v for k, v in row.items() if k != "sweep"}, flush=True)
        for sp in SWEEPS[kind] if not args.sweep else [json.loads(x) for x in args.sweep]:
            if "refine" in sp and not index.config.params.get("refine"):
                continue
            index.set_search_params(**sp)
            ms = single_latencies(lambda q, ix=index: ix.search(q, 100), q_real)
            t = time.perf_counter()
            _, ids_r = index.search(q_real, 100)
            batch_s = time.perf_counter() - t
            _, ids_s = index.search(q_syn, 100)
            r = {"search": sp, "recall100_real": recall_at(ids_r, gt_real), "recall100_synthetic":
                 recall_at(ids_s, gt_syn), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
                 "batch_queries_per_s": round(len(q_real) / batch_s, 1), "loadavg": loadavg()}
            r["meets_target"] = bool(r["recall100_real"] >= 0.95 and r["p99_ms"] < 50)
            row["sweep"].append(r)
            print("  ", r, flush=True)
        if args.mmap_check:
            del index
            t = time.perf_counter()
            mapped = AnnIndex.load(path, AnnConfig.from_dict(row["config"]), mmap=True)
            row["mmap_load_s"] = round(time.perf_counter() - t, 2)
            ms = single_latencies(lambda q, ix=mapped: ix.search(q, 100), q_real)
            row["mmap_search"] = {"search": row["config"]["params"], "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
                                  "anon_rss_mb_after_load": round(rss_anon_mb() - a0, 1)}
            del mapped
        else:
            del index
        row["loadavg_after"] = loadavg()
        results[kind] = row
        data = json.loads(args.out.read_text()) if args.out.is_file() else {}
        data.setdefault("builds", {})[key] = results
        from patlink.io import atomic_write_json

        atomic_write_json(args.out, data)
        path.unlink()


def stage_report(args) -> None:
    """Markdown tables of ``--out`` (what docs/benchmarks.md shows)."""
    data = json.loads(args.out.read_text())
    sim = data.get("similarity_check", {})
    if sim:
        print("| queries vs base | top-1 sim p10/p50/p90 | top-10 p10/p50/p90 | top-100 p10/p50/p90 |"
              " top-1 − top-100 (mean) | random pair mean ± std |")
        print("|---|---|---|---|---|---|")

        def line(name, st):
            f = "/".join
            print(f"| {name} | {f(map(str, st['top1_p10_p50_p90']))} | {f(map(str, st['top10_p10_p50_p90']))} | "
                  f"{f(map(str, st['top100_p10_p50_p90']))} | {st['top1_minus_top100_mean']} | "
                  f"{st['random_pair_mean_std'][0]} ± {st['random_pair_mean_std'][1]} |")
        line("real vs real", sim["real_queries_vs_real_base"])
        for c in sorted((k for k in sim if k.startswith("C=")), key=lambda k: int(k[2:])):
            line(f"synthetic vs synthetic, {c}", sim[c]["synthetic_queries_vs_synthetic_base"])
            line(f"real vs synthetic, {c}", sim[c]["real_queries_vs_synthetic_base"])
    for key in (k for k in data if k.startswith("exact_latency")):
        e = data[key]
        print(f"\n{key} (load {e['loadavg_before']} -> {e['loadavg_after']})\n\n| n | p50 ms | p99 ms |\n|---|---|---|")
        for r in e["rows"]:
            print(f"| {r['n']:,} | {r['p50_ms']} | {r['p99_ms']} |")
    for key, builds in data.get("builds", {}).items():
        print(f"\n{key}\n\n| index | build s (train + add) | index file MB | anon RSS growth MB (peak) |"
              "\n|---|---|---|---|")
        for kind, b in builds.items():
            split = f" ({b['train_s']} + {b['add_s']})" if "train_s" in b else ""
            print(f"| {kind} {json.dumps(b['config']['params'])} | {b['build_s']}{split} | {b['index_file_mb']} | "
                  f"{b['anon_rss_growth_mb']} ({b['anon_rss_peak_growth_mb']}) |")
        print("\n| index | search | Recall@100 real | Recall@100 synthetic | p50 ms | p99 ms | batch q/s | "
              "meets |\n|---|---|---|---|---|---|---|---|")
        for kind, b in builds.items():
            for r in b["sweep"]:
                sp = ", ".join(f"{k}={v}" for k, v in r["search"].items())
                print(f"| {kind} | {sp} | {r['recall100_real']} | {r['recall100_synthetic']} | {r['p50_ms']} | "
                      f"{r['p99_ms']} | {r['batch_queries_per_s']} | {'yes' if r['meets_target'] else 'no'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["prepare", "exact", "build", "report", "clean"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/patlink-ann-bench"))
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/ann.json"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1_000_000, 10_000_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--clusters", type=int, default=4096)
    ap.add_argument("--compare-clusters", type=lambda s: [int(x) for x in s.split(",")], default=[4096])
    ap.add_argument("--check-only", action="store_true",
                    help="prepare: only the similarity check for --compare-clusters (no base written)")
    ap.add_argument("--real-limit", type=int, default=None, help="development: first N texts only")
    ap.add_argument("--cache-only", action="store_true", help="development: use cached vectors, never embed")
    ap.add_argument("--exact-sizes", type=lambda s: [int(x) for x in s.split(",")],
                    default=[10_000, 50_000, 100_000, 200_000, 300_000, 500_000, 1_000_000])
    ap.add_argument("--exact-reps", type=int, default=200)
    ap.add_argument("--latency-key", default="exact_latency", help="exact: the JSON key of the latency rows")
    ap.add_argument("--no-ground-truth", action="store_true", help="exact: latency only (ground truth kept)")
    ap.add_argument("--no-latency", action="store_true", help="exact: ground truth for --sizes only")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--kinds", type=lambda s: s.split(","), default=["ivf-flat", "ivf-sq8", "ivf-pq"])
    ap.add_argument("--params", nargs="*", default=[], help="build parameters NAME=INT overriding the defaults")
    ap.add_argument("--sweep", nargs="*", default=[], help="search settings as JSON objects (default: SWEEPS)")
    ap.add_argument("--mmap-check", action="store_true", help="reload memory-mapped and time single queries")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.stage == "prepare":
        stage_prepare(args)
    elif args.stage == "exact":
        stage_exact(args)
    elif args.stage == "build":
        stage_build(args)
    elif args.stage == "report":
        stage_report(args)
    else:
        shutil.rmtree(args.work, ignore_errors=True)
        print(f"removed {args.work}")


if __name__ == "__main__":
    main()
