"""patlink.data.links.read_links: known links from CSV/TSV/JSONL/Parquet and BEIR qrels, with one-line errors."""

from __future__ import annotations

import json

import pytest

from patlink.data.links import read_links


def test_formats_and_columns(tmp_path):
    (tmp_path / "a.csv").write_text("product_id,patent_id\n00123,US1\nP 2,US2\n00123,US1\n")
    assert read_links(tmp_path / "a.csv") == [("00123", "US1"), ("P 2", "US2")]
    (tmp_path / "q.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tUS1\t1\nq1\tUS2\t0\nq2\tUS3\t2\n")
    assert read_links(tmp_path / "q.tsv") == [("q1", "US1"), ("q2", "US3")]     # score 0: judged not relevant
    (tmp_path / "l.jsonl").write_text("\n".join(json.dumps(r) for r in [{"item_id": "a", "patent_id": "US9"},
                                                                         {"item_id": 7, "patent_id": "US8"}]))
    assert read_links(tmp_path / "l.jsonl") == [("a", "US9"), ("7", "US8")]
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"item_id": ["x"], "patent_id": ["US5"], "label": [1]}), tmp_path / "l.parquet")
    assert read_links(tmp_path / "l.parquet") == [("x", "US5")]


def test_decisions_export_keeps_accepted_only(tmp_path):
    (tmp_path / "d.csv").write_text("item_id,patent_id,decision,label\na,US1,accept,1\na,US2,reject,0\n"
                                    "b,US1,unsure,\n")
    assert read_links(tmp_path / "d.csv") == [("a", "US1")]


@pytest.mark.parametrize("name, content, message", [
    ("x.csv", "item,foo\na,b\n", "no patent id column"),
    ("x.csv", "sku,patent_id\na,b\n", "no item id column"),
    ("x.csv", "item_id,patent_id\na,\n", "x.csv:2: empty patent_id"),
    ("x.tsv", "query-id\tcorpus-id\tscore\nq\td\thigh\n", "x.tsv:2: score 'high' is not a number"),
    ("x.jsonl", '{"item_id": "a", "patent_id": "b"}\n{oops\n', "x.jsonl:2: malformed JSON"),
    ("x.xlsx", "", "not '.xlsx'"),
])
def test_errors_name_file_and_line(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        read_links(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        read_links(tmp_path / "missing.csv")
