"""Default fusion of BM25 + dense without validation data: RRF vs a convex α grid, on bundled pap2pat.

``python benchmarks/hybrid_default.py`` prints MRR of BM25, dense, RRF and the convex fusion with fixed α (weight of
BM25) on the seed-0 test pairs, title+abstract and abstract→claims, pool split and all, both directions; nothing is
tuned. Results: docs/experiments/hybrid-default.md (the JSON it writes is copied beside it).
"""
import json
from patlink.data import load_dataset
from patlink.graph import split_dataset
from patlink.retrieval.bm25 import BM25Retriever
from patlink.retrieval.dense import DenseRetriever
from patlink.retrieval.fusion import fuse
from patlink.evaluation.metrics import mean_metric
from patlink.evaluation.linkage import pools_for

out = {}
ds0 = load_dataset("pap2pat")
sp = split_dataset(ds0, seed=0)
for name, ds in [("pap2pat title+abstract", ds0), ("pap2pat abstract->claims", ds0.with_views("abstract", "claims"))]:
    for pool in ("split", "all"):
        items, patents = pools_for(ds, sp.test, pool)
        for direction in ("item2patent", "patent2item"):
            q, d = (items, patents) if direction == "item2patent" else (patents, items)
            qrels = ds.qrels(sp.test, direction)
            q = {k: q[k] for k in qrels}
            bm, de = BM25Retriever(), DenseRetriever("minilm", show_progress=False)
            bm.index(d); de.index(d)
            a, b = bm.search(q, 1000), de.search(q, 1000)
            row = {"bm25": mean_metric(qrels, a, "mrr"), "dense": mean_metric(qrels, b, "mrr"),
                   "rrf": mean_metric(qrels, fuse([a, b], "rrf"), "mrr")}
            for al in (0.3, 0.5, 0.6, 0.7, 0.8):
                row[f"convex{al}"] = mean_metric(qrels, fuse([a, b], "convex", [al, 1 - al]), "mrr")
            key = f"{name} | pool={pool} | {direction}"
            out[key] = row
            print(key, {k: round(v, 4) for k, v in row.items()}, flush=True)
with open("hybrid-default.json", "w") as f:
    json.dump(out, f, indent=1)
