"""patlink.linking.DatasetIndex: a dataset indexed once answers like link() on every call, in both cases (patents
with text; patents represented by their linked products), on the bundled real data."""

from __future__ import annotations

import pytest

import patlink as pl
from patlink.linking import DatasetIndex, link


def test_text_patents_same_as_link():
    ds = pl.load_dataset("pap2pat")
    idx = DatasetIndex(ds, pl.BM25())
    texts = {i: t for i, t in list(ds.item_texts().items())[:3]}
    assert idx.link(texts, 5) == link(ds, pl.BM25(), texts, top_k=5)
    assert idx.link(texts, 5) == idx.link(texts, 5)                 # a prepared index is reusable
    assert len(idx) == 1513 and idx.label == "bm25" and idx.direction == "item2patent"
    pid = next(iter(ds.patents))
    assert pid in idx and "US0" not in idx
    assert idx.title_of(pid) == ds.patents[pid]["title"] and idx.texts([pid])[pid] == ds.patent_texts()[pid]
    rev = DatasetIndex(ds, pl.BM25(), reverse=True)
    assert rev.direction == "patent2item" and len(rev) == 1513 and next(iter(ds.items)) in rev
    with pytest.raises(ValueError, match="empty query"):
        idx.link({"q": " "}, 3)
    with pytest.raises(ValueError, match="top_k"):
        idx.link({"q": "x"}, 0)


def test_profile_patents_same_as_link():
    ds = pl.load_dataset("honeywell-vpm")
    idx = DatasetIndex(ds, pl.BM25())
    q = {"q": "a handheld barcode scanner with bluetooth"}
    got = idx.link(q, 5)
    assert got == link(ds, pl.BM25(), q, top_k=5)
    assert all(c.evidence for c in got["q"])                       # the known products that support each patent
    assert len(idx) == len({p for _, p in ds.links}) and got["q"][0].id in idx
    assert idx.texts([got["q"][0].id]) == {got["q"][0].id: ""}     # no patent text: represented by products
