"""The methods of one command embed each text once: an EmbeddingMemo shared by the methods of a parsed --method list
(and by a method's copies) serves texts already embedded, before the SQLite cache and the model.

Each test runs on a cold disk cache in its own folder (``PATLINK_CACHE``) and counts what reaches the model
(``SentenceTransformer.encode``) and what is read back from SQLite (``EmbeddingCache.get``).
"""

from __future__ import annotations

import numpy as np
import pytest

from patlink.cli.methods import parse_method, parse_methods
from patlink.retrieval.embed import EmbeddingCache, EmbeddingMemo, encode_texts

CORPUS = {"p1": "a barcode scanner with a laser diode", "p2": "gas turbine blade with cooling channels",
          "p3": "lithium ion battery electrode coating", "p4": "a pressure relief valve for pipes",
          "p5": "perovskite solar cell with a hole transport layer", "p6": "a thermostat for a heating system"}
QUERIES = {"q1": "laser barcode reader", "q2": "turbine cooling", "q3": "solar cell hole transport"}
DISTINCT = sorted(set(CORPUS.values()) | set(QUERIES.values()))


@pytest.fixture
def counts(tmp_path, monkeypatch):
    """Texts sent to the model and keys read from SQLite, on a cold disk cache of this test's own."""
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    seen = {"model": [], "disk": 0}
    encode, get = SentenceTransformer.encode, EmbeddingCache.get

    def counting_encode(self, sentences, *a, **k):
        seen["model"].extend(sentences)
        return encode(self, sentences, *a, **k)

    def counting_get(self, keys):
        seen["disk"] += len(keys)
        return get(self, keys)

    monkeypatch.setattr(SentenceTransformer, "encode", counting_encode)
    monkeypatch.setattr(EmbeddingCache, "get", counting_get)
    return seen


def _dense_parts(methods):
    return [m if hasattr(m, "config") else m.parts[1] for m in methods]   # Dense, or the dense part of Hybrid


def _run(methods) -> list:
    runs = []
    for m in methods:
        m.index(CORPUS)
        runs.append(m.search(QUERIES, top_k=3))
    return runs


def test_two_methods_of_one_command_send_each_text_to_the_model_once(counts):
    methods = list(parse_methods("dense,hybrid").values())
    for d in _dense_parts(methods):
        d.config.cache = False        # no disk cache: only the shared memo can spare the second pass
    _run(methods)
    assert sorted(counts["model"]) == DISTINCT      # 9 distinct texts, each embedded once, by dense; hybrid: none
    assert counts["disk"] == 0


def test_methods_parsed_apart_embed_again_without_a_disk_cache(counts):
    methods = [parse_method("dense"), parse_method("hybrid")]    # no shared memo
    for d in _dense_parts(methods):
        d.config.cache = False
    _run(methods)
    assert sorted(counts["model"]) == sorted(DISTINCT * 2)        # each method embedded every text


def test_a_shared_memo_reads_each_vector_from_disk_at_most_once(counts):
    memo = EmbeddingMemo()
    first = _run([parse_method("dense", memo=memo)])
    n_model, n_disk = len(counts["model"]), counts["disk"]
    assert sorted(counts["model"]) == DISTINCT and n_disk == len(DISTINCT)   # cold: looked up once, then computed
    second = _run([parse_method("dense", memo=memo), parse_method("hybrid", memo=memo)])
    assert len(counts["model"]) == n_model and counts["disk"] == n_disk      # nothing more from the model or SQLite
    assert memo.hits >= 2 * len(DISTINCT) and len(memo) == len(DISTINCT)
    assert second[0] == first[0]                                               # the same vectors, the same run
    # a fresh memo (another command) reads the vectors back from the disk cache, not from the model
    _run([parse_method("dense")])
    assert len(counts["model"]) == n_model and counts["disk"] == n_disk + len(DISTINCT)


def test_copies_of_a_method_share_its_memo(counts):
    m = parse_method("dense")
    m.config.cache = False
    for direction in ("item2patent", "patent2item"):
        _run([m.for_direction(direction)])
    assert sorted(counts["model"]) == DISTINCT


def test_memo_is_keyed_by_setting_and_vectors_equal_the_uncached_ones(counts):
    memo = EmbeddingMemo()
    texts = list(CORPUS.values())
    a = encode_texts(texts, "minilm", max_length=256, memo=memo, show_progress=False, cache=False)
    b = encode_texts(texts, "minilm", max_length=6, memo=memo, show_progress=False, cache=False)
    assert len(counts["model"]) == 2 * len(texts)       # another max_length is another setting
    c = encode_texts(texts[::-1], "minilm", max_length=256, memo=memo, show_progress=False, cache=False)
    assert len(counts["model"]) == 2 * len(texts) and np.array_equal(c, a[::-1])
    assert not np.array_equal(a, b)
    c[0, 0] = 7.0                                        # callers get copies: the memo is not changed through them
    assert np.array_equal(encode_texts(texts, "minilm", memo=memo, show_progress=False, cache=False), a)
