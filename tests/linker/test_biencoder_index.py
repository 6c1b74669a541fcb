"""A fine-tuned bi-encoder in a saved index (``patlink index --method runs/BE``, ``patlink link --index``): the
stored vectors are the document side's (patents: the ``document`` route; items with ``--reverse``: the ``query``
route), the queries are embedded with the other side, and the ranking equals :class:`BiEncoderMethod` scoring
directly; ``runs/BE+bm25``, ``--add``, an ANN index, a changed model. Also: the new-product protocol refuses a
bi-encoder.

One tiny asymmetric bi-encoder is trained on a subset of the real pap2pat data (abstract → claims, the fixtures
of ``test_biencoder.py``); asymmetric, so a wrong route gives other vectors and the tests can tell.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from test_biencoder import TINY, _own_cache, _split, _subset  # noqa: F401 (_own_cache: autouse fixture)

from patlink.index import CorpusIndex, InvalidIndexError, build_index
from patlink.methods import BM25, BiEncoderMethod, Fusion
from patlink.retrieval.base import top_k_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    """The subset, its 50 first patents and items (documents), 10 items and 10 patents (queries)."""
    ds = _subset()
    patents = dict(sorted(ds.patent_texts().items())[:50])
    items = dict(sorted(ds.item_texts().items())[:50])
    return ds, patents, items, dict(list(items.items())[:10]), dict(list(patents.items())[:10])


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    """An asymmetric bi-encoder (Router: query route for items, document route for patents), one epoch, no BM25
    weight stored (``tune_fusion=False``: ``runs/BE+bm25`` fuses by RRF)."""
    from patlink.training.biencoder import BiEncoderConfig, train_biencoder

    ds = data[0]
    out = tmp_path_factory.mktemp("be") / "be"
    train_biencoder(ds, _split(ds.links), BiEncoderConfig(**TINY, asymmetric=True, tune_fusion=False), out)
    assert json.loads((out / "biencoder.json").read_text())["routes"] == {"item": "query", "patent": "document"}
    return out


def _same(want, got, tol=1e-5):
    assert list(want) == list(got)
    for q in want:
        assert list(want[q]) == list(got[q]), q
        assert np.allclose(list(want[q].values()), list(got[q].values()), atol=tol), q


@pytest.mark.parametrize("direction", ["item2patent", "patent2item"])
def test_index_ranks_as_the_method_with_the_right_routes(run, data, tmp_path, direction):
    _, patents, items, item_q, patent_q = data
    docs, queries = (patents, item_q) if direction == "item2patent" else (items, patent_q)
    idx = build_index(docs, BiEncoderMethod(run), tmp_path / "idx", direction=direction, show_progress=False)
    part = idx.manifest.parts[0]
    assert part["kind"] == "biencoder" and part["route"] == ("document" if direction == "item2patent" else "query")
    assert (part["windows"], part["max_length"]) == (1, 64)
    # the stored vectors are the document side's route, not the other one
    stored = np.load(tmp_path / "idx" / part["folder"] / "vectors.npy")
    ref = BiEncoderMethod(run, cache=False).for_direction(direction)
    texts = list(docs.values())
    np.testing.assert_allclose(stored, ref.encode_documents(texts), atol=1e-5)
    assert np.abs(stored - ref.encode_queries(texts)).max() > 1e-3
    # the ranking from disk equals the method's, searched and as a full score matrix
    ref.index(docs)
    got = CorpusIndex.open(tmp_path / "idx").search(queries, 10)
    _same(ref.search(queries, 10), got)
    _same(top_k_run(*ref.score_matrix(queries), 10), got)


def test_cli_index_and_link_a_run_and_its_bm25_fusion(run, data, tmp_path, capsys):
    """``patlink index --method runs/BE+bm25`` (no stored weight: RRF, kept by the saved index) and ``patlink link
    --index --queries --out``, in both directions (``--reverse``)."""
    from patlink.cli.main import main

    _, patents, items, item_q, patent_q = data
    for name, rows in (("patents", patents), ("items", items), ("iq", item_q), ("pq", patent_q)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n"
                                                        for k, v in rows.items()))
    for direction, corpus, qfile, queries in (("item2patent", patents, "iq", item_q),
                                              ("patent2item", items, "pq", patent_q)):
        rev = ["--reverse"] if direction == "patent2item" else []
        out = tmp_path / f"idx-{direction}"
        docs_file = tmp_path / ("patents.jsonl" if not rev else "items.jsonl")
        assert main(["index", str(docs_file), "--text-fields", "text", "--method", f"{run}+bm25", "--out",
                     str(out), "--device", "cpu", *rev]) == 0
        man = json.loads((out / "manifest.json").read_text())
        assert [p["kind"] for p in man["parts"]] == ["biencoder", "bm25"] and man["label"] == "be+bm25[rrf]"
        assert main(["link", "--index", str(out), "--queries", str(tmp_path / f"{qfile}.jsonl"), "--text-fields",
                     "text", "--out", str(tmp_path / f"{direction}.jsonl"), "--top", "5", "--device", "cpu",
                     *rev]) == 0
        rows = [json.loads(x) for x in (tmp_path / f"{direction}.jsonl").read_text().splitlines()]
        got: dict = {}
        for r in rows:
            got.setdefault(r["query_id"], {})[r["item_id" if rev else "patent_id"]] = r["score"]
        ref = Fusion([BiEncoderMethod(run), BM25()], weights="stored", untuned="rrf").for_direction(direction)
        ref.index(corpus)
        _same(ref.search(queries, 5), got)
    # the index of patents refuses patent queries, and another method
    assert main(["link", "--index", str(tmp_path / "idx-item2patent"), "a text", "--reverse"]) == 2
    assert "drop --reverse" in capsys.readouterr().err
    assert main(["link", "--index", str(tmp_path / "idx-item2patent"), "a text", "--method", str(run)]) == 2
    assert "was built for be+bm25[rrf], not biencoder:be" in capsys.readouterr().err


def test_runs_be_at_n_indexes_n_windows(run, data, tmp_path):
    from patlink.cli.methods import parse_method

    _, patents, _, item_q, _ = data
    m = parse_method(f"{run}@2")
    idx = build_index(patents, m, tmp_path / "at2", show_progress=False)
    assert idx.manifest.parts[0]["windows"] == 2 and idx.manifest.method["windows"] == 2
    ref = BiEncoderMethod(run, windows=2)
    ref.index(patents)
    reopened = CorpusIndex.open(tmp_path / "at2", method=parse_method(f"{run}@2"))
    _same(ref.search(item_q, 10), reopened.search(item_q, 10))
    one = BiEncoderMethod(run)
    one.index(patents)
    assert one.search(item_q, 10) != ref.search(item_q, 10)   # claims are longer than one window of 64 tokens
    with pytest.raises(InvalidIndexError, match="was built for biencoder:be@2, not biencoder:be"):
        CorpusIndex.open(tmp_path / "at2", method=BiEncoderMethod(run))


def test_add_grows_the_index_as_a_full_build(run, data, tmp_path):
    _, patents, _, item_q, _ = data
    first = dict(list(patents.items())[:40])
    idx = build_index(first, BiEncoderMethod(run), tmp_path / "grown", show_progress=False)
    idx, n = idx.add(patents, show_progress=False)
    assert n == 10 and len(idx) == 50 and idx.manifest.generation == 1
    full = build_index(patents, BiEncoderMethod(run), tmp_path / "full", show_progress=False)
    _same(full.search(item_q, 10), CorpusIndex.open(tmp_path / "grown").search(item_q, 10))


def test_ann_index_and_a_changed_model(run, data, tmp_path):
    _, patents, _, item_q, _ = data
    idx = build_index(patents, BiEncoderMethod(run), tmp_path / "hnsw", ann="hnsw", show_progress=False)
    assert idx.manifest.parts[0]["ann"]["kind"] == "hnsw" and (tmp_path / "hnsw" / idx.manifest.parts[0]["folder"]
                                                               / "ann.faiss").is_file()
    exact = BiEncoderMethod(run)
    exact.index(patents)
    want, got = exact.search(item_q, 1), CorpusIndex.open(tmp_path / "hnsw").search(item_q, 1)
    assert sum(list(want[q]) == list(got[q]) for q in item_q) >= 9   # 50 vectors: HNSW is (nearly) exact
    # the run's model replaced after the index was built: refused, not ranked with mismatched vectors
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    build_index(patents, BiEncoderMethod(copy), tmp_path / "c", show_progress=False)
    with open(copy / "best" / "README.md", "a") as f:
        f.write("\nretrained\n")
    with pytest.raises(InvalidIndexError, match="changed since the index was built"):
        CorpusIndex.open(tmp_path / "c")


def test_new_product_protocol_refuses_a_biencoder(tmp_path, capsys):
    """Under the new-product protocol patents are known by their products: a bi-encoder (alone or fused) would
    embed empty patent texts, so it is refused with one line, with or without patent text."""
    from patlink.cli.main import main
    from patlink.methods import for_new_products

    be = BiEncoderMethod(tmp_path / "be")   # not read: the refusal needs no model
    for has_text in (False, True):
        for m in (be, Fusion([be, BM25()], weights="stored", untuned="rrf")):
            with pytest.raises(ValueError, match="biencoder:be ranks patents by their own text.*profile-mean"):
                for_new_products(m, has_text)
    run = tmp_path / "fake"
    (run / "best").mkdir(parents=True)
    (run / "biencoder.json").write_text(json.dumps({"format": "patlink-biencoder-run/1", "windows": 1}))
    assert main(["eval", "--dataset", "honeywell-vpm", "--protocol", "new-product", "--method", str(run),
                 "--bootstrap", "0", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "ranks patents by their own text" in err and len(err.strip().splitlines()) <= 3
