"""Saved indexes on the 46,920 bundled api-patents: build time and size per method, batch-link throughput,
warm single-query latency, the CLI's wall time for one query, and the embedding throughput of the index path
against sentence-transformers' own ``encode`` on the same texts.

    python benchmarks/bench_index.py --out docs/benchmarks/index.json [--queries 500] [--latency 200]

Queries are pap2pat paper texts (title + abstract), unseen by the index: real technical descriptions of the length
of a product description or longer. Query embeddings are NOT cached (``cache=False`` on the query side), so every
dense query pays for its embedding, as a new product would. The dense document vectors come from patlink's
embedding cache when it holds them (fill it once with ``patlink data embed api-patents``): the dense build time is
then the time to read, write and index the vectors, and the cost of embedding them is reported separately as
46,920 / the measured embedding throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _no_query_cache(idx) -> None:
    from patlink.index.spec import leaves
    from patlink.methods import Dense

    for leaf in leaves(idx.method):
        if isinstance(leaf, Dense):
            leaf.engine.config.cache = False


def _embedding_throughput(texts: list[str], rounds: int) -> dict:
    """texts/s of ST ``encode`` and of the index path (embed_to_file over Dense.encode_documents), interleaved."""
    from dataclasses import replace

    from patlink.index.embedding import embed_to_file
    from patlink.methods import Dense
    from patlink.models.backbone import load_sentence_model

    st = load_sentence_model("minilm")
    st.max_seq_length = 256
    def fresh() -> Dense:   # no disk cache, no in-memory memo: every round embeds every text
        d = Dense("minilm")
        d.config, d.memo = replace(d.config, cache=False), None
        return d

    st.encode(texts[:64], batch_size=64)  # warm-up
    out = {"st_encode": [], "index_path": []}
    with tempfile.TemporaryDirectory() as d:
        for r in range(rounds):
            t = time.perf_counter()
            a = st.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            out["st_encode"].append(len(texts) / (time.perf_counter() - t))
            t = time.perf_counter()
            b = embed_to_file(texts, fresh().encode_documents, Path(d) / f"v{r}.npy", show_progress=False)
            out["index_path"].append(len(texts) / (time.perf_counter() - t))
    return {"texts": len(texts), "rounds": rounds, "max_abs_diff": float(np.abs(np.asarray(b) - a).max()),
            **{k: [round(x, 2) for x in v] for k, v in out.items()},
            "ratio_index_over_st": round(float(np.mean(out["index_path"]) / np.mean(out["st_encode"])), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("index-bench.json"))
    ap.add_argument("--queries", type=int, default=500, help="queries of the batch-link measurement")
    ap.add_argument("--latency", type=int, default=200, help="single queries for the latency percentiles")
    ap.add_argument("--embed-texts", type=int, default=1000, help="texts of the embedding-throughput comparison")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="where the indexes are written (default: a temp dir)")
    ap.add_argument("--methods", default="bm25,dense,hybrid")
    ap.add_argument("--reuse", action="store_true", help="use indexes already in --work (no build time measured)")
    ap.add_argument("--skip-embedding", action="store_true", help="skip the embedding-throughput comparison")
    args = ap.parse_args()

    from patlink.cli.methods import parse_method
    from patlink.data.corpus import read_corpus
    from patlink.data.registry import load_dataset
    from patlink.index import CorpusIndex, build_index
    from patlink.linking import write_links

    work = args.work or Path(tempfile.mkdtemp(prefix="patlink-index-bench-"))
    corpus = read_corpus("api-patents")
    items = load_dataset("pap2pat").item_texts()
    rng = np.random.default_rng(0)
    qids = sorted(items)
    qids = [qids[i] for i in rng.permutation(len(qids))]
    batch = {q: items[q] for q in qids[: args.queries]}
    single = [items[q] for q in qids[args.queries: args.queries + args.latency]]   # other texts than the batch's
    res: dict = {"corpus": {"source": corpus.source, "documents": len(corpus), "empty": len(corpus.empty)},
                 "load_average_start": os.getloadavg(), "methods": {}}
    for name in args.methods.split(","):
        m = parse_method(name)
        build_s = None
        if not (args.reuse and (work / name / "manifest.json").is_file()):
            t = time.perf_counter()
            build_index(corpus, m, work / name, overwrite=True, show_progress=False)
            build_s = time.perf_counter() - t
        t = time.perf_counter()
        idx = CorpusIndex.open(work / name)
        open_s = time.perf_counter() - t
        _no_query_cache(idx)
        idx.link({"warm": items[qids[-1]]}, 10)      # loads the model, compiles ranx's numba code
        t = time.perf_counter()
        n = write_links(idx.link_batches(batch, 10, show_progress=False), work / f"{name}.parquet", method=name)
        batch_s = time.perf_counter() - t
        lat = []
        for text in single:
            t = time.perf_counter()
            idx.link({"q": text}, 10)
            lat.append((time.perf_counter() - t) * 1000)
        res["methods"][name] = {
            "build_s": None if build_s is None else round(build_s, 2), "open_s": round(open_s, 3), "index_bytes": _du(work / name),
            "batch_queries": len(batch), "batch_rows": n, "batch_s": round(batch_s, 2),
            "queries_per_s": round(len(batch) / batch_s, 2),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
            "latency_ms_p99": round(float(np.percentile(lat, 99)), 1),
            "ann": [p.get("ann") for p in idx.manifest.parts]}
        print(name, json.dumps(res["methods"][name]), flush=True)
        # the CLI answering one query from the saved index (a fresh process: imports, model load, index open)
        cli = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "patlink.cli.main", "link", "--index", str(work / name),
                            single[1][:300], "--top", "5", "--json"], check=True, capture_output=True,
                           env=dict(os.environ, HF_HUB_OFFLINE="1"))
            cli.append(time.perf_counter() - t)
        res["methods"][name]["cli_wall_s"] = [round(x, 2) for x in cli]
    if not args.skip_embedding:
        res["embedding_throughput"] = _embedding_throughput(corpus.texts[: args.embed_texts], args.rounds)
    res["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
