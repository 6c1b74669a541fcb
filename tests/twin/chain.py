"""The graph half of the offline twin: pap2pat's paper→patent links as a BEIR folder whose corpus has patent NUMBERS
only (empty title and text), the way the Honeywell VPM graph gives patents before hydration.

Its patents get their texts only from a hydration store (``--texts STORE``) filled from the bulk files of
:mod:`twin.bulk_formats`, so a run on it proves the chain hydrate → (export) → summarise → train → eval end to end.
The queries are the papers' abstracts, the qrels pap2pat's own seeded split (``patlink.graph.split_dataset``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_numbers_only_beir"]


def write_numbers_only_beir(folder: str | Path, patents: Iterable[str] | None = None, *, seed: int = 0,
                            item_view: str = "abstract") -> dict[str, int]:
    """Write pap2pat (restricted to the links of ``patents``, default all 1,513) as a BEIR folder with an empty
    corpus text.

    The split is ``split_dataset`` of the restricted dataset with ``seed`` (random 70/15/15, pap2pat is one to one):
    ``qrels/train.tsv``, ``dev.tsv``, ``test.tsv``.

    Returns:
        ``{"queries", "corpus", "train", "dev", "test"}`` counts.
    """
    from patlink.data import load_dataset
    from patlink.graph import split_dataset

    ds = load_dataset("pap2pat").with_views(item_view)
    if patents is not None:
        keep = set(patents)
        ds.links = [(i, p) for i, p in ds.links if p in keep]
        ds.items = {i: d for i, d in ds.items.items() if any(i == j for j, _ in ds.links)}
        ds.patents = {p: d for p, d in ds.patents.items() if p in keep}
    split = split_dataset(ds, seed=seed).parts()
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for p in sorted(ds.patents):
            f.write(json.dumps({"_id": p, "title": "", "text": ""}) + "\n")
    texts = ds.item_texts()
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for i in sorted(ds.items):
            f.write(json.dumps({"_id": i, "text": texts[i]}, ensure_ascii=False) + "\n")
    counts = {"queries": len(ds.items), "corpus": len(ds.patents)}
    for name, key in (("train", "train"), ("dev", "val"), ("test", "test")):
        rows = sorted(split[key])
        (folder / "qrels" / f"{name}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"{i}\t{p}\t1\n" for i, p in rows), encoding="utf-8")
        counts[name] = len(rows)
    return counts
