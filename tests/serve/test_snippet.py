"""Review candidates carry a snippet of the patent's text around its first matched term (real pap2pat data)."""

from __future__ import annotations

import patlink as pl
from patlink.review import DecisionStore, ReviewService
from patlink.review.service import snippet


def test_snippet_windows():
    text = "word " * 100 + "the laser scanner reads barcodes " + "filler " * 100
    s = snippet(text, ["LASER"])
    assert "the laser scanner reads barcodes" in s and s.startswith("…") and s.endswith("…") and len(s) <= 322
    assert snippet("short text", ["x"]) == "short text"
    assert snippet("a  b\n c", []) == "a b c"
    start = snippet("alpha " * 100, ["nothing"])
    assert start.startswith("alpha") and start.endswith("…")
    assert snippet("", ["x"]) == ""


def test_candidates_have_snippets_with_a_matched_term(tmp_path):
    ds = pl.load_dataset("pap2pat")
    svc = ReviewService.for_dataset(ds, pl.BM25(), DecisionStore(tmp_path / "d.sqlite"))
    cands = svc.link("a perovskite solar cell with a hole transport layer", top_k=5)["candidates"]
    texts = ds.patent_texts()
    for c in cands:
        assert c["snippet"] and c["snippet"].strip("…")[:40] in " ".join(texts[c["id"]].split())
        assert any(t.lower() in c["snippet"].lower() for t in c["matched_terms"])
