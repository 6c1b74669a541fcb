import json

import pytest

from patlink.data.beir import export_beir, load_beir
from patlink.data.dataset import Dataset


def _toy():
    return Dataset(
        name="toy-fixture",
        items={"i1": {"title": "Solar cell", "abstract": "A perovskite cell."}, "i2": {"title": "Battery",
                                                                                     "abstract": ""}},
        patents={"US1": {"title": "Cell", "abstract": "Perovskite layer", "claims": "1. A cell."},
                 "US2": {"title": "Anode", "abstract": "Silicon anode", "claims": "1. An anode."}},
        links=[("i1", "US1"), ("i2", "US2")],
        item_fields=("title", "abstract"), item_view=("title", "abstract"),
        patent_fields=("title", "abstract", "claims"), patent_view=("title", "abstract", "claims"),
    )


def test_round_trip(tmp_path):
    ds = _toy()
    export_beir(ds, tmp_path / "b", {"train": [("i1", "US1")], "val": [], "test": [("i2", "US2")]})
    assert (tmp_path / "b" / "qrels" / "dev.tsv").is_file()
    back = load_beir(tmp_path / "b")
    assert back.link_splits["train"] == [("i1", "US1")] and back.link_splits["test"] == [("i2", "US2")]
    assert back.link_splits["val"] == []
    assert back.patents["US1"]["title"] == "Cell"
    assert back.patents["US1"]["text"] == "Perovskite layer\n1. A cell."
    assert back.items["i1"]["text"] == "Solar cell\nA perovskite cell."
    assert back.item_texts()["i2"] == "Battery"
    # exporting the re-loaded dataset gives identical files
    export_beir(back, tmp_path / "c")
    assert (tmp_path / "b" / "corpus.jsonl").read_text() == (tmp_path / "c" / "corpus.jsonl").read_text()


def test_malformed_line_is_reported_with_its_number(tmp_path):
    d = tmp_path / "bad"
    (d / "qrels").mkdir(parents=True)
    (d / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "t", "text": "x"}) + "\n{oops\n")
    (d / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "x"}) + "\n")
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(ValueError, match=r"corpus.jsonl:2"):
        load_beir(d)


def test_unknown_id_in_qrels(tmp_path):
    d = tmp_path / "b2"
    (d / "qrels").mkdir(parents=True)
    (d / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "text": "x"}) + "\n")
    (d / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "x"}) + "\n")
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td9\t1\n")
    with pytest.raises(ValueError, match=r"test.tsv:2.*d9"):
        load_beir(d)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_beir(tmp_path)
