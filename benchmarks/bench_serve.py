"""Bounded load test of ``patlink serve``: a real server process on 127.0.0.1, many concurrent ``POST /api/link``.

Usage:
    python benchmarks/bench_serve.py --dataset pap2pat --method bm25 [--requests 3000] [--concurrency 16]
        [--top-k 10] [--new-texts] [--out docs/benchmarks/serve.json]
    python benchmarks/bench_serve.py --index IDX --dataset pap2pat ...      # a saved index (texts from --dataset)

What it does:

1. starts ``patlink serve --dataset NAME --method M`` (or ``--index IDX``) as a subprocess on a free port with a
   new decisions database in a temporary folder, and waits for ``/api/health`` (the start-up time is recorded);
   the server gets its own ``PATLINK_CACHE``: a temporary folder holding a copy of the default cache's sentence
   embeddings, so start-up reads the patents' cached vectors but nothing the run embeds is written to the user's
   cache;
2. sends ``--warmup`` requests (not timed), then ``--requests`` ``POST /api/link`` requests, one text each, from
   ``--concurrency`` clients (one ``httpx.AsyncClient``, one keep-alive connection per client). The texts are the
   dataset's item texts in item-id order, cycling; with ``--new-texts`` each request's text gets a unique suffix
   (`` [request k]``), so no request is answered from an embedding cache (a new product described in the page);
3. stops by itself after the last request, or after ``--max-seconds`` (then the JSON says how many were sent);
4. records latency p50/p90/p95/p99/max (ms, from sending the request to reading the whole answer), throughput
   (completed requests / wall seconds), errors (any answer but 200, or a failed request), the server's RSS
   (``VmRSS`` of ``/proc/PID/status``) after start-up, after the warm-up and after the run, its peak (``VmHWM``),
   the server's and this client's CPU seconds, the 1-minute load average sampled every 2 s, and whether every
   text got the same ranking each time it was sent;
5. stops the server (SIGTERM) and writes the JSON to ``--out`` (atomically), under the key ``--label`` (default
   ``DATASET/METHOD``, ``+new-texts`` appended): other setups already in the file are kept.

The client runs on the same machine as the server, so both share its CPUs; its CPU time is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadavg import LoadSampler  # benchmarks/ is on sys.path when run as a script


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = math.ceil(q / 100 * len(sorted_values)) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, k))]


def start_server(args, port: int, work: Path) -> tuple[subprocess.Popen, float, Path]:
    cache = work / "cache"
    src = Path(os.environ.get("PATLINK_CACHE") or Path.home() / ".cache" / "patlink") / "embeddings"
    if src.is_dir():
        shutil.copytree(src, cache / "embeddings")
    else:
        cache.mkdir(parents=True)
    cmd = [sys.executable, "-m", "patlink.cli.main", "serve", "--db", str(work / "decisions.sqlite"),
           "--port", str(port), "--log-level", "warning", "--device", "cpu"]
    if args.index:
        cmd += ["--index", str(args.index)] + (["--dataset", args.dataset] if args.dataset else [])
        cmd += ["--method", args.method] if args.method_given else []
    else:
        cmd += ["--dataset", args.dataset, "--method", args.method]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATLINK_CACHE": str(cache), "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PATLINK_TOKEN", None)
    log = work / "server.log"
    t0 = time.perf_counter()
    with open(log, "w") as err:                     # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    import httpx

    deadline = time.monotonic() + args.startup_timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before answering:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            raise SystemExit(f"no answer from /api/health after {args.startup_timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)
    return proc, time.perf_counter() - t0, log


async def load(url: str, texts: list[str], n: int, concurrency: int, top_k: int, max_seconds: float,
               new_texts: bool) -> dict:
    """Send ``n`` requests from ``concurrency`` clients; returns latencies, statuses and rankings per text."""
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    rankings: dict[int, set] = {}
    next_k = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def worker():
            nonlocal next_k
            while next_k < n and time.monotonic() < deadline:
                k, next_k = next_k, next_k + 1
                j = k % len(texts)
                text = f"{texts[j]} [request {k}]" if new_texts else texts[j]
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/link", json={"queries": {"q": text}, "top_k": top_k})
                    body = r.content
                    dt = time.perf_counter() - t0
                except httpx.HTTPError as e:
                    statuses["exception"] = statuses.get("exception", 0) + 1
                    errors.append(f"request {k}: {type(e).__name__}: {e}"[:300])
                    continue
                latencies.append(dt)
                statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                if r.status_code != 200:
                    errors.append(f"request {k}: {r.status_code} {body[:200]!r}")
                elif not new_texts:
                    ids = tuple(c["id"] for c in json.loads(body)["results"]["q"])
                    rankings.setdefault(j, set()).add(ids)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"latencies": latencies, "statuses": statuses, "errors": errors, "wall": wall, "sent": next_k,
            "rankings": rankings}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=None, help="bundled dataset served (default pap2pat) and whose item texts "
                                                    "are sent; with --index: only the texts and known items")
    ap.add_argument("--index", type=Path, default=None, help="a saved index to serve instead of --dataset")
    ap.add_argument("--method", default=None, help="method ranking the dataset's patents (default bm25)")
    ap.add_argument("--requests", type=int, default=3000, help="timed requests (one text each)")
    ap.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=32, help="untimed requests before the run")
    ap.add_argument("--new-texts", action="store_true", help="a unique suffix per request: no embedding cache hit")
    ap.add_argument("--max-seconds", type=float, default=900, help="stop sending after this many seconds")
    ap.add_argument("--startup-timeout", type=float, default=900)
    ap.add_argument("--label", default=None, help="key of this setup in --out (default DATASET/METHOD)")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/serve.json"))
    args = ap.parse_args()
    args.method_given = args.method is not None
    args.method = args.method or "bm25"
    if args.index is None:
        args.dataset = args.dataset or "pap2pat"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import fastapi
    import httpx
    import uvicorn

    from patlink.data.registry import load_dataset
    from patlink.io import atomic_write_json

    ds = load_dataset(args.dataset or "pap2pat")
    texts = [t for _, t in sorted(ds.item_texts().items()) if t.strip()]
    label = args.label or (f"{args.index}" if args.index else f"{args.dataset}/{args.method}") + (
        "+new-texts" if args.new_texts else "")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"{label}: {uptime_before}", flush=True)
    with tempfile.TemporaryDirectory(prefix="patlink-bench-serve-") as tmp:
        work = Path(tmp)
        port = free_port()
        proc, startup_s, log = start_server(args, port, work)
        url = f"http://127.0.0.1:{port}"
        try:
            info = httpx.get(f"{url}/api/info", timeout=30).json()
            rss_ready = proc_status(proc.pid)
            print(f"ready in {startup_s:.1f} s: {info['method']} over {info['documents']} patents, "
                  f"RSS {rss_ready['VmRSS'] / 1024:.0f} MiB", flush=True)
            warm = asyncio.run(load(url, texts[::-1], args.warmup, min(args.concurrency, args.warmup), args.top_k,
                                    args.max_seconds, args.new_texts)) if args.warmup else None
            rss_before = proc_status(proc.pid)
            cpu_server0, cpu_client0 = proc_cpu_seconds(proc.pid), time.process_time()
            with LoadSampler() as sampler:
                run = asyncio.run(load(url, texts, args.requests, args.concurrency, args.top_k, args.max_seconds,
                                       args.new_texts))
            cpu_server, cpu_client = proc_cpu_seconds(proc.pid) - cpu_server0, time.process_time() - cpu_client0
            rss_after = proc_status(proc.pid)
            decisions = httpx.get(f"{url}/api/decisions", timeout=30).json()["total"]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                returncode = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                returncode = proc.wait()
        server_log = log.read_text()[-2000:]
    lat = sorted(run["latencies"])
    ms = {f"p{q}": round(percentile(lat, q) * 1000, 2) for q in (50, 90, 95, 99)} if lat else {}
    if lat:
        ms.update(mean=round(statistics.fmean(lat) * 1000, 2), max=round(lat[-1] * 1000, 2))
    completed = len(lat)
    errors = sum(v for s, v in run["statuses"].items() if s != "200")
    result = {
        "command": " ".join(["python", "benchmarks/bench_serve.py", *sys.argv[1:]]),
        "served": {"dataset": args.dataset, "index": str(args.index) if args.index else None,
                   "method": info["method"], "documents": info["documents"], "known_items": info["known_items"]},
        "machine": f"{platform.machine()}, {cpus} CPUs, Python {platform.python_version()}, fastapi "
                   f"{fastapi.__version__}, uvicorn {uvicorn.__version__}, httpx {httpx.__version__}",
        "uptime_before": uptime_before,
        "load_avg_1min_during_run": sampler.summary(),
        "requests": args.requests, "sent": run["sent"], "completed": completed, "concurrency": args.concurrency,
        "top_k": args.top_k, "warmup_requests": args.warmup, "texts": len(texts),
        "text_source": f"{ds.name} item texts ({', '.join(ds.item_view)}) in item-id order, cycling"
                       + ("; each with a unique ' [request k]' suffix" if args.new_texts else ""),
        "startup_seconds": round(startup_s, 2),
        "wall_seconds": round(run["wall"], 2),
        "throughput_rps": round(completed / run["wall"], 2) if run["wall"] else None,
        "latency_ms": ms,
        "statuses": run["statuses"], "errors": errors, "error_examples": run["errors"][:5],
        "warmup_errors": sum(v for s, v in warm["statuses"].items() if s != "200") if warm else 0,
        "same_ranking_for_each_text": (all(len(v) == 1 for v in run["rankings"].values())
                                       if run["rankings"] else None),
        "server_rss_mib": {"after_startup": round(rss_ready["VmRSS"] / 1024, 1),
                           "before_run": round(rss_before["VmRSS"] / 1024, 1),
                           "after_run": round(rss_after["VmRSS"] / 1024, 1),
                           "peak": round(rss_after["VmHWM"] / 1024, 1)},
        "cpu_seconds": {"server": round(cpu_server, 2), "client": round(cpu_client, 2)},
        "client_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "decisions_recorded": decisions,
        "server_exit_code": returncode,
        "server_log_tail": server_log,
    }
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    runs = previous.get("runs", {})
    runs[label] = result
    atomic_write_json(args.out, {"runs": runs})
    print(json.dumps({k: result[k] for k in ("completed", "errors", "throughput_rps", "latency_ms", "server_rss_mib",
                                             "load_avg_1min_during_run", "cpu_seconds")}, indent=1))
    if errors:
        raise SystemExit(f"{errors} requests failed: {run['errors'][:3]}")


if __name__ == "__main__":
    main()
