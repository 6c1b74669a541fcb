"""Loaders, label handling and the frequency report, on small fixture files."""

import json

import numpy as np
import pytest

from patlink.classify.data import (
    LabeledTexts,
    binarize,
    drop_empty,
    label_frequency,
    load_cpc_claims,
    load_file,
    load_jsonl,
    load_patentsview,
    plot_label_frequency,
    split_holdout,
)


def test_cpc_claims_bundled_splits_are_disjoint_and_labelled():
    tr, te = load_cpc_claims("train"), load_cpc_claims("test")
    assert (len(tr), len(te)) == (1000, 100)
    assert not set(tr.ids) & set(te.ids)
    assert all(tr.labels) and all(len(c) == 4 for labs in tr.labels for c in labs)
    sec = load_cpc_claims("test", label="cpc_section")
    assert all(len(c) == 1 for labs in sec.labels for c in labs)
    with pytest.raises(ValueError, match="unknown label column 'ipc'.*cpc_subclass"):
        load_cpc_claims("train", label="ipc")
    with pytest.raises(ValueError, match="unknown split"):
        load_cpc_claims("dev")


def test_uspto2m_jsonl_and_malformed_lines_reported(tmp_path):
    p = tmp_path / "uspto2m_fixture.json"
    lines = [
        json.dumps({"No": "8000001", "Title": "Antenna", "Abstract": "An antenna array.", "Subclass_labels": ["H01Q"]}),
        "{not json",
        json.dumps({"No": "8000002", "Title": "Drug", "Abstract": "A tablet.", "Subclass_labels": ["A61K", "A61P"]}),
        json.dumps({"No": "8000003", "Title": "No labels here", "Abstract": "x"}),
    ]
    p.write_text("\n".join(lines) + "\n")
    d = load_file(p)
    assert d.ids == ["8000001", "8000002"]
    assert d.texts[0] == "Antenna An antenna array."
    assert d.labels == [["H01Q"], ["A61K", "A61P"]]
    assert d.report["n_malformed"] == 2
    assert [n for n, _ in d.report["malformed_rows"]] == [2, 4]


def test_json_array_and_generic_fields(tmp_path):
    p = tmp_path / "fixture.json"
    p.write_text(json.dumps([{"pid": "X1", "title": "T", "abstract": "A", "cpc": "G06F;H04L"}]))
    d = load_file(p, text_field="title,abstract", label_field="cpc")
    assert d.texts == ["T A"] and d.labels == [["G06F", "H04L"]]
    with pytest.raises(ValueError, match="label field 'labels'.*fields seen: abstract, cpc, pid, title"):
        load_jsonl(p)


def test_patentsview_tsv_join(tmp_path):
    (tmp_path / "g_patent_abstract.tsv").write_text(
        "patent_id\tpatent_abstract\n10000001\tA wireless network node.\n10000002\tA drug tablet.\n")
    (tmp_path / "g_cpc_current.tsv").write_text(
        "patent_id\tcpc_sequence\tcpc_section\tcpc_class\tcpc_subclass\tcpc_group\tcpc_type\n"
        "10000001\t0\tH\tH04\tH04W\tH04W84/18\tinventive\n"
        "10000001\t1\tH\tH04\tH04L\tH04L45/00\tadditional\n"
        "10000001\t2\tH\tH04\tH04W\tH04W40/00\tadditional\n"
        "10000002\t0\tA\tA61\tA61K\tA61K9/20\tinventive\n")
    d = load_file(tmp_path)
    assert d.ids == ["US10000001", "US10000002"]
    assert d.labels == [["H04L", "H04W"], ["A61K"]]
    assert d.texts[1] == "A drug tablet."
    inv = load_patentsview(tmp_path / "g_patent_abstract.tsv", tmp_path / "g_cpc_current.tsv", cpc_type="inventive")
    assert inv.labels == [["H04W"], ["A61K"]]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "g_patent_abstract.tsv").write_text("id\ttext\n1\tx\n")
    (tmp_path / "bad" / "g_cpc_current.tsv").write_text("patent_id\tcpc_subclass\n1\tA01B\n")
    with pytest.raises(ValueError, match="missing column.*patent_id"):
        load_file(tmp_path / "bad")


def test_drop_empty_counts_and_split_holdout():
    d = LabeledTexts(["a", "b", "c", "d"], ["text", "  ", "more", "x"], [["G06F"], ["H04L"], [], ["A61K"]])
    out = drop_empty(d)
    assert out.ids == ["a", "d"]
    assert out.report["empty_texts"] == 1 and out.report["unlabelled"] == 1
    keep, held = split_holdout(20, 0.25, seed=1)
    assert len(held) == 5 and sorted(keep + held) == list(range(20))
    assert split_holdout(20, 0.25, seed=1) == (keep, held)
    with pytest.raises(ValueError):
        split_holdout(20, 1.5)


def test_binarize_fixed_classes_counts_unknown():
    y, classes, unknown = binarize([["G06F", "H04L"], ["A61K"]])
    assert classes == ["A61K", "G06F", "H04L"]
    assert y.tolist() == [[0, 1, 1], [1, 0, 0]]
    y2, _, unknown = binarize([["G06F", "B60W"]], classes)
    assert y2.tolist() == [[0, 1, 0]] and unknown == 1


def test_label_frequency_report_and_plot(tmp_path):
    rep = label_frequency([["G06F", "H04L"], ["G06F"], ["A61K", "G06F"], ["A61K"]], top=2)
    assert rep["n_docs"] == 4 and rep["n_labels"] == 3
    assert rep["top"] == [("G06F", 3), ("A61K", 2)]
    assert rep["labels_per_doc"]["mean"] == pytest.approx(1.5)
    assert rep["sections"] == {"A": 2, "G": 3, "H": 1}
    assert rep["rare"]["1"] == 1
    out = plot_label_frequency(rep, tmp_path / "freq.png")
    assert out.exists() and out.stat().st_size > 1000
    assert np.isclose(rep["head_share"], 3 / 6)
