"""Where does one method beat another? Per-query reciprocal ranks of two runs of a `patlink eval --out DIR` report,
stratified by what the positive patent's text looks like.

For each item → patent query (a paper abstract ranking patent claims) it reads the two TREC runs and the qrels the
report wrote (``DIR/runs``), takes the reciprocal rank of the first relevant patent in each, and groups the queries
by two properties of the pair:

- **length**: the patent's text (the relevant patent of an item → patent query, the query of a patent → item
  one) in backbone (MiniLM) word pieces: the part a model reading one 256-token window never sees grows with it;
- **rarest shared term**: the smallest document frequency, over the whole patent pool, of a word that the query and
  its relevant patent share (lower-cased alphanumeric words of 3+ characters, English stop words left out).
  df = 1 means an exact term only that patent contains: what BM25 is built to find.

Prints one markdown table per property: queries, mean RR of each method, the difference, and queries won / lost.

    python3 benchmarks/query_strata.py REPORT_DIR --a bm25 --b /work/runs/be --dataset pap2pat \\
        --patent-view claims [--direction item2patent]

The run files are found by the method name as `patlink eval` writes it (``/`` and ``+`` replaced by ``_``).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import numpy as np

from patlink.evaluation.repeated import read_qrels, read_trec_run

_WORD = re.compile(r"[a-z0-9]{3,}")


def _file_name(method: str) -> str:
    return re.sub(r"[/+]", "_", method)


def reciprocal_ranks(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """1 / rank of the first relevant document per query of ``qrels`` (0 when none is retrieved); documents ordered
    by score descending, equal scores by document id."""
    out = {}
    for q, rel in qrels.items():
        docs = sorted(run.get(q, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        rr = 0.0
        for r, (d, _) in enumerate(docs, 1):
            if rel.get(d, 0) > 0:
                rr = 1.0 / r
                break
        out[q] = rr
    return out


def _words(text: str, stop: frozenset) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in stop}


def strata_table(name: str, keys: dict[str, float], edges: list[float], labels: list[str],
                 rr_a: dict[str, float], rr_b: dict[str, float], a: str, b: str) -> str:
    rows = [f"| {name} | queries | {a} | {b} | {b} − {a} | {b} better / worse |", "|---|---|---|---|---|---|"]
    for lo, hi, lab in zip(edges[:-1], edges[1:], labels):
        qs = [q for q, v in keys.items() if lo <= v < hi and q in rr_a and q in rr_b]
        if not qs:
            continue
        xa = np.array([rr_a[q] for q in qs])
        xb = np.array([rr_b[q] for q in qs])
        rows.append(f"| {lab} | {len(qs)} | {xa.mean():.3f} | {xb.mean():.3f} | {xb.mean() - xa.mean():+.3f} | "
                    f"{int((xb > xa).sum())} / {int((xb < xa).sum())} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--a", required=True, help="first method (e.g. bm25)")
    ap.add_argument("--b", required=True, help="second method (e.g. runs/be)")
    ap.add_argument("--dataset", default="pap2pat")
    ap.add_argument("--patent-view", default="claims")
    ap.add_argument("--item-view", default="abstract")
    ap.add_argument("--direction", default="item2patent")
    args = ap.parse_args(argv)

    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from transformers import AutoTokenizer

    import patlink as pl
    from patlink.config import resolve_model_path

    runs = args.report / "runs"
    qrels = read_qrels(runs / f"qrels.{args.direction}.trec")
    rr_a = reciprocal_ranks(read_trec_run(runs / f"{_file_name(args.a)}.{args.direction}.trec"), qrels)
    rr_b = reciprocal_ranks(read_trec_run(runs / f"{_file_name(args.b)}.{args.direction}.trec"), qrels)

    ds = pl.load_dataset(args.dataset).with_views(item_view=args.item_view.split(","),
                                                  patent_view=args.patent_view.split(","))
    items, patents = ds.item_texts(), ds.patent_texts()
    if args.direction == "patent2item":
        items, patents = patents, items
    stop = frozenset(ENGLISH_STOP_WORDS)
    doc_words = {p: _words(t, stop) for p, t in patents.items()}
    df = Counter(w for ws in doc_words.values() for w in ws)
    tok = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    tok.model_max_length = 10 ** 9  # only counting word pieces

    length, rarest = {}, {}
    for q, rel in qrels.items():
        pos = [d for d, g in rel.items() if g > 0 and d in patents]
        if not pos or q not in items:
            continue
        d = pos[0]
        patent_text = items[q] if args.direction == "patent2item" else patents[d]  # the patent of the pair
        length[q] = len(tok(patent_text, add_special_tokens=False)["input_ids"])
        shared = _words(items[q], stop) & doc_words[d]
        rarest[q] = min((df[w] for w in shared), default=10 ** 9)

    inf = float("inf")
    print(f"{len(rr_a)} queries ({args.direction}), {args.a} MRR {np.mean(list(rr_a.values())):.3f}, "
          f"{args.b} MRR {np.mean(list(rr_b.values())):.3f}\n")
    print(strata_table("patent text, word pieces", length, [0, 257, 1025, 2049, inf],
                       ["≤ 256 (one window)", "257–1,024", "1,025–2,048", "> 2,048"], rr_a, rr_b, args.a, args.b))
    print()
    print(strata_table("rarest shared term, df", rarest, [1, 2, 4, 11, inf],
                       ["1 (only this patent)", "2–3", "4–10", "> 10 or none"], rr_a, rr_b, args.a, args.b))


if __name__ == "__main__":
    main()
