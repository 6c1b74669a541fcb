"""BM25 (bm25s) index and query time on the bundled api-patents corpus (46,920 real US patents).

Usage: python benchmarks/bench_bm25.py [--queries 1000] [--out docs/benchmarks/bm25.json]
Queries are the titles of a random sample of the corpus (seeded), retrieved at depth 100.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import resource
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/bm25.json"))
    args = ap.parse_args()
    from patlink.data import load_dataset
    from patlink.retrieval.bm25 import BM25Retriever

    ds = load_dataset("api-patents")
    docs = ds.patent_texts(view="title,abstract")
    ids = random.Random(0).sample(list(docs), args.queries)
    queries = {i: ds.patents[i]["title"] for i in ids}
    r = BM25Retriever()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    r.index(docs)
    index_s = time.perf_counter() - t
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    t = time.perf_counter()
    run = r.search(queries, top_k=100)
    query_s = time.perf_counter() - t
    hit1 = sum(1 for q in ids if run[q] and next(iter(run[q])) == q) / len(ids)
    out = {"corpus": f"api-patents, {len(docs)} patents, title+abstract", "index_s": round(index_s, 2),
           "index_docs_per_s": round(len(docs) / index_s), "index_peak_rss_growth_mb": round(peak_mb),
           "queries": len(ids), "query_total_s": round(query_s, 2),
           "query_ms_each": round(1000 * query_s / len(ids), 2),
           "sanity_title_finds_own_patent_at_1": round(hit1, 3)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
