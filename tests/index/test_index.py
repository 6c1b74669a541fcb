"""Saved indexes: what is searched from disk equals what is searched in memory; growth, resume, and refusal of
partial, corrupt or mismatched folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from patlink.index import CorpusIndex, InvalidIndexError, build_index
from patlink.methods import BM25, Dense, Fusion, Hybrid, KNN


@pytest.fixture(scope="module")
def pap():
    from patlink.data.registry import load_dataset

    ds = load_dataset("pap2pat")
    docs = {k: v for k, v in list(ds.patent_texts().items())[:200] if v.strip()}
    queries = dict(list(ds.item_texts().items())[:8])
    return docs, queries


def _same_run(a, b, tol=1e-6):
    assert list(a) == list(b)
    for q in a:
        assert list(a[q]) == list(b[q]), q
        assert np.allclose(list(a[q].values()), list(b[q].values()), atol=tol)


def test_bm25_index_ranks_as_in_memory_and_gives_matched_terms(tmp_path):
    docs = {"p1": "A handheld barcode scanner with a laser", "p2": "A gas turbine blade cooling channel",
            "p3": "Laser cutting of turbine blades"}
    idx = build_index(docs, BM25(), tmp_path / "idx", show_progress=False)
    ref = BM25()
    ref.index(docs)
    q = {"q": "laser barcode scanner", "r": "turbine blade"}
    _same_run(idx.search(q, 3), ref.search(q, 3))
    reopened = CorpusIndex.open(tmp_path / "idx")
    hits = reopened.link({"q": "the laser barcode reader"}, 2)["q"]
    assert [h.id for h in hits] == ["p1", "p3"]
    assert hits[0].matched_terms == ["barcode", "laser"]    # rarest first: barcode is in 1 document, laser in 2
    assert hits[1].matched_terms == ["laser"]
    assert reopened.manifest.corpus["n_docs"] == 3 and reopened.direction == "item2patent"


@pytest.mark.slow
def test_hybrid_index_equals_the_in_memory_method(tmp_path, pap):
    docs, queries = pap
    idx = build_index(docs, Hybrid(), tmp_path / "h", show_progress=False)
    ref = Hybrid()
    ref.index(docs)
    _same_run(CorpusIndex.open(tmp_path / "h").search(queries, 10), ref.search(queries, 10))
    cands = idx.link(queries, 3)
    c = cands[next(iter(queries))][0]
    assert set(c.part_scores) == {"bm25", "dense"} and all(v is not None for v in c.part_scores.values())
    assert idx.manifest.method["weights"] == [0.5, 0.5]     # untuned: equal weights, frozen into the index


@pytest.mark.slow
def test_ann_index_recalls_the_exact_neighbours(tmp_path, pap):
    docs, queries = pap
    exact = build_index(docs, Dense(), tmp_path / "exact", ann="exact", show_progress=False)
    hnsw = build_index(docs, Dense(), tmp_path / "hnsw", ann="hnsw", show_progress=False)
    assert hnsw.manifest.parts[0]["ann"]["kind"] == "hnsw" and (tmp_path / "hnsw").joinpath(
        hnsw.manifest.parts[0]["folder"], "ann.faiss").is_file()
    a, b = exact.search(queries, 10), CorpusIndex.open(tmp_path / "hnsw").search(queries, 10)
    recall = np.mean([len(set(a[q]) & set(b[q])) / 10 for q in queries])
    assert recall >= 0.9


@pytest.mark.slow
def test_adding_documents_embeds_only_the_new_ones_and_equals_a_full_build(tmp_path, pap, monkeypatch):
    docs, queries = pap
    ids = list(docs)
    first = {i: docs[i] for i in ids[:150]}
    rest = {i: docs[i] for i in ids[150:]}
    idx = build_index(first, Hybrid(), tmp_path / "grow", show_progress=False)
    seen: list[int] = []
    orig = Dense.encode_documents

    def counting(self, texts):
        seen.append(len(texts))
        return orig(self, texts)

    monkeypatch.setattr(Dense, "encode_documents", counting)
    grown, n = idx.add(dict(first, **rest), show_progress=False)    # the old documents again, plus the new
    assert n == len(rest) and sum(seen) == len(rest) and len(grown) == len(docs)
    assert grown.manifest.generation == 1 and not list((tmp_path / "grow" / "parts").glob("g0"))
    full = build_index(docs, Hybrid(), tmp_path / "full", show_progress=False)
    _same_run(grown.search(queries, 10), full.search(queries, 10))
    with pytest.raises(ValueError, match="already in"):
        grown.add({ids[0]: "another text"}, show_progress=False)


@pytest.mark.slow
def test_an_interrupted_build_resumes_where_it_stopped(tmp_path, pap, monkeypatch):
    import patlink.index.build as build

    docs, queries = pap
    calls: list[int] = []
    orig = Dense.encode_documents

    def dies_after_one_chunk(self, texts):
        if calls:
            raise KeyboardInterrupt
        calls.append(len(texts))
        return orig(self, texts)

    real = build.embed_to_file
    monkeypatch.setattr(build, "embed_to_file", lambda *a, **k: real(*a, **dict(k, chunk=64)))
    monkeypatch.setattr(Dense, "encode_documents", dies_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        build_index(docs, Dense(), tmp_path / "r", show_progress=False)
    with pytest.raises(InvalidIndexError, match="interrupted build"):
        CorpusIndex.open(tmp_path / "r")
    done: list[int] = []
    monkeypatch.setattr(Dense, "encode_documents", lambda self, t: done.append(len(t)) or orig(self, t))
    idx = build_index(docs, Dense(), tmp_path / "r", show_progress=False)
    assert sum(done) == len(docs) - 64          # the first chunk was not embedded again
    ref = Dense()
    ref.index(docs)
    _same_run(idx.search(queries, 10), ref.search(queries, 10), tol=1e-5)
    assert not (tmp_path / "r" / "build").exists()


@pytest.mark.slow
def test_partial_corrupt_and_mismatched_indexes_are_refused(tmp_path, pap):
    docs, _ = pap
    build_index(docs, Dense(), tmp_path / "d", show_progress=False)
    man = json.loads((tmp_path / "d" / "manifest.json").read_text())
    vec = tmp_path / "d" / man["parts"][0]["folder"] / "vectors.npy"
    # another method than the index's
    with pytest.raises(InvalidIndexError, match="built for dense"):
        CorpusIndex.open(tmp_path / "d", method=BM25())
    # a replaced model (its fingerprint differs from the recorded one)
    man["method"]["model_fingerprint"] = "0" * 64
    (tmp_path / "d" / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(InvalidIndexError, match="changed since the index was built"):
        CorpusIndex.open(tmp_path / "d")
    # a flipped byte in the vectors
    data = bytearray(vec.read_bytes())
    data[-3] ^= 0xFF
    vec.write_bytes(bytes(data))
    with pytest.raises(InvalidIndexError, match="vectors.npy does not match its checksum"):
        CorpusIndex.open(tmp_path / "d")
    # a truncated file
    vec.write_bytes(bytes(data[:-100]))
    with pytest.raises(InvalidIndexError, match="vectors.npy has"):
        CorpusIndex.open(tmp_path / "d")
    with pytest.raises(InvalidIndexError, match="not a patlink index"):
        CorpusIndex.open(tmp_path)
    with pytest.raises(ValueError, match="already holds an index"):
        build_index(docs, BM25(), tmp_path / "d", show_progress=False)


def test_methods_that_rank_from_known_links_cannot_be_indexed(tmp_path):
    with pytest.raises(ValueError, match="cannot be saved in an index"):
        build_index({"p": "text"}, KNN(), tmp_path / "k", show_progress=False)
    with pytest.raises(ValueError, match="cannot be saved in an index"):
        build_index({"p": "text"}, Fusion([BM25(), KNN()]), tmp_path / "k", show_progress=False)
    assert not (tmp_path / "k" / "manifest.json").exists()


def test_links_files_in_every_format(tmp_path):
    import pyarrow.parquet as pq
    from ranx import Run

    from patlink.linking import Candidate, write_links

    answers = [{"q1": [Candidate("P1", 2.0, 1, "T1", matched_terms=["laser"], part_scores={"bm25": 3.0}),
                       Candidate("P2", 1.0, 2, "T, 2", part_scores={"bm25": None})]},
               {"q2": [Candidate("P3", 0.5, 1, "T3")]}]
    for suffix in ("csv", "tsv", "jsonl", "parquet", "trec"):
        n = write_links(iter(answers), tmp_path / f"l.{suffix}", method="bm25")
        assert n == 3
    import csv

    rows = list(csv.DictReader(open(tmp_path / "l.csv", encoding="utf-8")))
    assert [r["patent_id"] for r in rows] == ["P1", "P2", "P3"] and rows[1]["title"] == "T, 2"
    assert rows[0]["matched_terms"] == "laser" and rows[1]["score_bm25"] == ""
    lines = [json.loads(x) for x in open(tmp_path / "l.jsonl", encoding="utf-8")]
    assert lines[0]["matched_terms"] == ["laser"] and lines[0]["score_bm25"] == 3.0
    t = pq.read_table(tmp_path / "l.parquet").to_pylist()
    assert [r["rank"] for r in t] == [1, 2, 1] and t[1]["score_bm25"] is None
    run = Run.from_file(str(tmp_path / "l.trec"), kind="trec").to_dict()
    assert run == {"q1": {"P1": 2.0, "P2": 1.0}, "q2": {"P3": 0.5}}
    with pytest.raises(ValueError, match="cannot tell the links format"):
        write_links(iter(answers), tmp_path / "l.xlsx")


def test_matched_terms_follow_a_reindex_of_the_same_size():
    from patlink.retrieval.bm25 import BM25Retriever

    r = BM25Retriever()
    r.index({"a": "laser scanner", "b": "gas turbine"})
    assert r.matched_terms("laser turbine", ["a", "b"]) == [["laser"], ["turbine"]]
    r.index({"b": "laser scanner", "a": "gas turbine"})          # same size, rows swapped
    assert r.matched_terms("laser turbine", ["a", "b"]) == [["turbine"], ["laser"]]
