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


# ---------------------------------------------------------------------------------------------- known negatives
def _folder(tmp_path, qrels: dict[str, str]):
    d = tmp_path / "kn"
    (d / "qrels").mkdir(parents=True)
    (d / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{k}", "title": f"t{k}", "text": "x"}) + "\n"
                                            for k in range(1, 5)))
    (d / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{k}", "text": "x"}) + "\n" for k in range(1, 4)))
    for name, body in qrels.items():
        (d / "qrels" / f"{name}.tsv").write_text("query-id\tcorpus-id\tscore\n" + body)
    return d


def test_score_zero_rows_become_negative_links(tmp_path):
    d = _folder(tmp_path, {"train": "q1\td1\t1\nq1\td2\t0\nq2\td3\t0\nq1\td2\t0\n",
                           "dev": "q2\td2\t2\n", "test": "q3\td4\t1\nq3\td1\t-1\nq2\td3\t0.0\n"})
    ds = load_beir(d)
    assert ds.negative_links == [("q1", "d2"), ("q2", "d3"), ("q3", "d1")]   # deduplicated, sorted, every file
    assert ds.links == [("q1", "d1"), ("q2", "d2"), ("q3", "d4")]
    assert ds.link_splits == {"train": [("q1", "d1")], "val": [("q2", "d2")], "test": [("q3", "d4")]}
    assert ds.qrels() == {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d4": 1}}   # evaluation: not positives
    assert ds.summary()["negative_links"] == 3


@pytest.mark.parametrize("qrels, where", [
    ({"train": "q1\td1\t1\n", "test": "q2\td2\t1\nq1\td1\t0\n"},   # files are read in name order
     r"train.tsv:2: \('q1', 'd1'\) has score 1.*test.tsv:3"),
    ({"test": "q1\td2\t0\nq3\td3\t1\nq1\td2\t1\n"}, r"test.tsv:4.*'q1', 'd2'.*test.tsv:2"),
])
def test_a_pair_judged_both_ways_is_an_error_naming_both_rows(tmp_path, qrels, where):
    with pytest.raises(ValueError, match=where):
        load_beir(_folder(tmp_path, qrels))


def test_export_writes_negatives_as_score_zero_rows_and_round_trips(tmp_path):
    ds = load_beir(_folder(tmp_path, {"train": "q1\td1\t1\nq2\td3\t0\n", "dev": "q2\td2\t1\nq1\td2\t0\n",
                                      "test": "q3\td4\t1\n"}))
    out = export_beir(ds, tmp_path / "out")
    lines = (out / "qrels" / "train.tsv").read_text().splitlines()
    assert lines == ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1\td2\t0", "q2\td3\t0"]   # into train
    assert "\t0" not in (out / "qrels" / "dev.tsv").read_text() + (out / "qrels" / "test.tsv").read_text()
    back = load_beir(out)
    assert back.negative_links == ds.negative_links and back.link_splits == ds.link_splits
    # no train split: into the first split written; an explicit list replaces the dataset's
    out2 = export_beir(ds, tmp_path / "out2", {"test": ds.links}, negatives=[("q3", "d1")])
    assert (out2 / "qrels" / "test.tsv").read_text().endswith("q3\td1\t0\n")
    assert load_beir(out2).negative_links == [("q3", "d1")]
    with pytest.raises(ValueError, match="both a link and a negative"):
        export_beir(ds, tmp_path / "out3", negatives=[("q1", "d1")])
    with pytest.raises(ValueError, match="unknown ids"):
        export_beir(ds, tmp_path / "out4", negatives=[("q1", "d9")])
    assert not (tmp_path / "out3").exists() and not (tmp_path / "out4").exists()   # nothing written


def test_dataset_validates_and_copies_negative_links():
    base = _toy()
    ds = Dataset(**{**base.__dict__, "negative_links": [("i1", "US2")]})
    cp = ds.copy()
    cp.negative_links.append(("i2", "US1"))
    assert ds.negative_links == [("i1", "US2")]
    with pytest.raises(ValueError, match="negative link.*unknown ids"):
        Dataset(**{**base.__dict__, "negative_links": [("i1", "US9")]})
    with pytest.raises(ValueError, match=r"both a link and a negative link.*\('i1', 'US1'\)"):
        Dataset(**{**base.__dict__, "negative_links": [("i1", "US1")]})


def _beir(d, corpus_lines, query_lines=None, qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\n"):
    """A BEIR folder from raw corpus/queries lines (bytes or str) and a qrels text."""
    (d / "qrels").mkdir(parents=True, exist_ok=True)
    query_lines = query_lines if query_lines is not None else [json.dumps({"_id": "q1", "text": "x"})]

    def raw(lines):
        return b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)

    (d / "corpus.jsonl").write_bytes(raw(corpus_lines))
    (d / "queries.jsonl").write_bytes(raw(query_lines))
    (d / "qrels" / "test.tsv").write_bytes(qrels if isinstance(qrels, bytes) else qrels.encode())
    return d


def _one_line_error(d, pattern):
    with pytest.raises(ValueError) as e:
        load_beir(d)
    msg = str(e.value)
    assert "\n" not in msg and type(e.value) is ValueError, repr(e.value)
    import re

    assert re.search(pattern, msg), msg
    return msg


def test_duplicate_ids_name_the_file_and_both_lines(tmp_path):
    doc = json.dumps({"_id": "d1", "text": "first"})
    _beir(tmp_path / "c", [doc, json.dumps({"_id": "d2", "text": "y"}), json.dumps({"_id": "d1", "text": "again"})])
    _one_line_error(tmp_path / "c", r"corpus\.jsonl:3: duplicate _id 'd1', first at line 1")
    q = json.dumps({"_id": "q1", "text": "x"})
    _beir(tmp_path / "q", [doc], ["", q, q])
    _one_line_error(tmp_path / "q", r"queries\.jsonl:3: duplicate _id 'q1', first at line 2")
    # an integer id and the same id as a string are one id (both read as "7")
    _beir(tmp_path / "n", [doc, '{"_id": 7, "text": "a"}', '{"_id": "7", "text": "b"}'])
    _one_line_error(tmp_path / "n", r"corpus\.jsonl:3: duplicate _id '7', first at line 2")


@pytest.mark.parametrize("line, what", [("5", "int"), ('["d1", "t"]', "list"), ("null", "null"),
                                        ('"d1"', "string"), ("true", "bool")])
def test_a_line_that_is_json_but_not_an_object(tmp_path, line, what):
    _beir(tmp_path / "b", [json.dumps({"_id": "d1", "text": "x"}), line])
    _one_line_error(tmp_path / "b", rf"corpus\.jsonl:2: a JSON {what}, not an object")


@pytest.mark.parametrize("rid", [None, "", "   ", [1], {"a": 1}, True, 1.5])
def test_null_blank_and_non_scalar_ids_are_errors(tmp_path, rid):
    _beir(tmp_path / "b", [json.dumps({"_id": "d1", "text": "x"}), json.dumps({"_id": rid, "text": "y"})])
    _one_line_error(tmp_path / "b", r"corpus\.jsonl:2: .*_id")
    _beir(tmp_path / "q", [json.dumps({"_id": "d1", "text": "x"})],
          [json.dumps({"_id": "q1", "text": "x"}), json.dumps({"_id": rid, "text": "y"})])
    _one_line_error(tmp_path / "q", r"queries\.jsonl:2: .*_id")


def test_not_utf8_names_the_file_and_line(tmp_path):
    ok = json.dumps({"_id": "d1", "text": "x"})
    _beir(tmp_path / "c", [ok, json.dumps({"_id": "d2", "text": "caf"})[:-2].encode() + b"\xe9\"}"])
    _one_line_error(tmp_path / "c", r"corpus\.jsonl:2: not UTF-8")
    _beir(tmp_path / "q", [ok], [json.dumps({"_id": "q1", "text": "x"}), b'{"_id": "q\xff2"}'])
    _one_line_error(tmp_path / "q", r"queries\.jsonl:2: not UTF-8")
    _beir(tmp_path / "r", [ok], qrels=b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq\xe91\td1\t1\n")
    _one_line_error(tmp_path / "r", r"test\.tsv:3: not UTF-8")


def test_a_byte_order_mark_is_skipped(tmp_path):
    d = _beir(tmp_path / "b", [b"\xef\xbb\xbf" + json.dumps({"_id": "d1", "text": "x"}).encode()],
              [b"\xef\xbb\xbf" + json.dumps({"_id": "q1", "text": "x"}).encode()],
              qrels=b"\xef\xbb\xbfquery-id\tcorpus-id\tscore\nq1\td1\t1\n")
    ds = load_beir(d)
    assert list(ds.patents) == ["d1"] and list(ds.items) == ["q1"] and ds.links == [("q1", "d1")]


def test_an_unreadable_qrels_row_names_its_line(tmp_path):
    # an unclosed quote swallows the rest of the file into one field larger than the csv module allows
    big = "q1\td1\t1\n" * 20000
    _beir(tmp_path / "b", [json.dumps({"_id": "d1", "text": "x"})],
          qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\n\"q1\td1\t1\n" + big)
    _one_line_error(tmp_path / "b", r"test\.tsv:3: ")


@pytest.mark.parametrize("score", ["nan", "NaN", "x", ""])
def test_a_qrels_score_that_is_not_a_number(tmp_path, score):
    _beir(tmp_path / "b", [json.dumps({"_id": "d1", "text": "x"})],
          qrels=f"query-id\tcorpus-id\tscore\nq1\td1\t{score}\n")
    _one_line_error(tmp_path / "b", r"test\.tsv:2: score .* is not a number")


def test_unreadable_json_values_name_the_line(tmp_path):
    for i, line in enumerate(['{"_id": "d2", "n": ' + "1" * 5000 + "}", "[" * 100000 + "]" * 100000]):
        _beir(tmp_path / f"b{i}", [json.dumps({"_id": "d1", "text": "x"}), line])
        _one_line_error(tmp_path / f"b{i}", r"corpus\.jsonl:2: ")
