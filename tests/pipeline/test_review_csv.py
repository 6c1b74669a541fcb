"""The review file of the pipeline as a spreadsheet sees it: ``export_review`` writes no CSV/TSV cell that starts a
formula (``=``, ``+``, ``-``, ``@``, tab, carriage return: :func:`patlink.io.spreadsheet_safe`), and
``import_review`` undoes exactly that escaping, so a file exported and imported unchanged records no edit."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from patlink.pipeline.review import COLUMNS, export_review, final_descriptions, import_review
from patlink.pipeline.store import PipelineStore

FORMULA = ("=", "+", "-", "@", "\t", "\r")
PRODUCTS = {
    '=HYPERLINK("http://evil.example","Click")': "=1+2",
    "+1 Sensor": "-40 °C rated probe",
    "-40C Probe": "@SUM(A1:A2)",
    "@home Hub": "'=already quoted by someone",
    "Plain Valve": "\tindented description",
    "Quote 'n' Go": "''",
}


def _store(products: dict[str, str], path=":memory:") -> PipelineStore:
    st_ = PipelineStore(path)
    st_.add_products(list(products), "test")
    for prod, desc in products.items():
        st_.put("condense", prod, "h", "done", output={"description": desc, "method": "llm",
                                                       "urls": ["-http://a.example/x", "http://b.example"]})
    st_.add_links([(p, "=US7852519", "ev") for p in products], "test")
    return st_


def _cells(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ","))


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_no_cell_of_the_export_starts_a_formula(tmp_path, suffix):
    with _store(PRODUCTS) as s:
        path = tmp_path / f"review{suffix}"
        assert export_review(s, path) == len(PRODUCTS)
    rows = _cells(path)
    assert len(rows) == len(PRODUCTS) and list(rows[0]) == list(COLUMNS)
    for row in rows:
        for col, value in row.items():
            assert not value.startswith(FORMULA), (col, value)
    by_name = {r["product"]: r for r in rows}
    assert by_name["'=HYPERLINK(\"http://evil.example\",\"Click\")"]["description"] == "'=1+2"
    assert by_name["'+1 Sensor"]["description"] == "'-40 °C rated probe"
    assert by_name["'-40C Probe"]["patents"] == "'=US7852519"
    assert by_name["'-40C Probe"]["urls"] == "'-http://a.example/x http://b.example"
    # a value that already starts with ' before a formula character gets one more, so the import strips one
    assert by_name["'@home Hub"]["description"] == "''=already quoted by someone"
    assert by_name["Quote 'n' Go"]["description"] == "''"          # no formula after the quotes: as it is


def test_jsonl_export_is_not_escaped(tmp_path):
    with _store(PRODUCTS) as s:
        export_review(s, tmp_path / "review.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "review.jsonl").read_text().splitlines()]
    assert {r["product"]: r["description"] for r in rows} == PRODUCTS


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_exported_then_imported_unchanged_records_no_edit(tmp_path, suffix):
    with _store(PRODUCTS, tmp_path / "p.duckdb") as s:
        path = tmp_path / f"review{suffix}"
        export_review(s, path)
        res = import_review(s, path, "alice")
        assert res == {"rows": len(PRODUCTS), "products_changed": 0, "fields_changed": 0}
        assert s.edits() == []
        assert {p: d["description"] for p, d in final_descriptions(s).items()} == PRODUCTS


def test_a_reviewer_edit_reads_back_without_the_escape(tmp_path):
    with _store(PRODUCTS, tmp_path / "p.duckdb") as s:
        path = tmp_path / "review.csv"
        export_review(s, path)
        rows = _cells(path)
        for r in rows:
            if r["product"] == "'+1 Sensor":
                r["description"] = "'=a formula the reviewer typed, escaped"
            if r["product"] == "Plain Valve":
                r["description"] = "-rated to 40 bar"            # typed by hand, not escaped: kept as typed
            if r["product"] == "'-40C Probe":
                r["notes"] = "'@mention"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(COLUMNS))
            w.writeheader()
            w.writerows(rows)
        assert import_review(s, path, "bob")["fields_changed"] == 3
        got = {(e["product"], e["field"]): (e["old_value"], e["new_value"]) for e in s.edits()}
        assert got == {("+1 Sensor", "description"): ("-40 °C rated probe", "=a formula the reviewer typed, escaped"),
                       ("Plain Valve", "description"): ("\tindented description".strip(), "-rated to 40 bar"),
                       ("-40C Probe", "notes"): ("", "@mention")}
        # exporting the reviewed values and importing them again changes nothing more
        export_review(s, path)
        assert import_review(s, path, "bob")["fields_changed"] == 0


def test_a_review_file_that_is_not_utf8_names_the_file_and_line(tmp_path):
    with _store(PRODUCTS) as s:
        path = tmp_path / "review.csv"
        path.write_bytes(b"product,description\nPlain Valve,ok\nPlain Valve,caf\xe9\n")
        with pytest.raises(ValueError) as e:
            import_review(s, path, "alice")
    assert type(e.value) is ValueError and "review.csv:3: not UTF-8" in str(e.value), str(e.value)


_value = st.text(alphabet=st.sampled_from(list("=+-@'\t\r\n \"',;ab\xa0é")), max_size=8)
_name = st.text(alphabet=st.sampled_from(list("=+-@'\"',;ab é")), min_size=1, max_size=8).map(
    lambda s: " ".join(s.split())).filter(bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_name, _value, min_size=1, max_size=5), st.sampled_from([".csv", ".tsv"]))
@example({"=a": "'=b", "'-c": "''@", "x": "\r=y"}, ".csv")
def test_any_names_and_descriptions_round_trip_without_edits(products, suffix):
    with tempfile.TemporaryDirectory() as tmp, _store(products) as s:
        path = Path(tmp) / f"review{suffix}"
        export_review(s, path)
        assert all(not v.startswith(FORMULA) for row in _cells(path) for v in row.values())
        res = import_review(s, path, "alice")
        assert res["fields_changed"] == 0 and s.edits() == [], s.edits()
