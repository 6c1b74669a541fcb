"""`patlink index` and `patlink link --index`: a products CSV and a patents Parquet file in, a links file out;
one clear line and exit 2 for each bad input, nothing written."""

from __future__ import annotations

import csv
import json

import pytest

from patlink.cli.main import main

PATENTS = [
    ("US0001", "Handheld barcode scanner", "A laser barcode scanner held in one hand reads codes on parcels."),
    ("US0002", "Gas turbine blade cooling", "Cooling channels inside a turbine blade carry air from the compressor."),
    ("US0003", "Thermostat with occupancy sensor", "A wall thermostat lowers heating when no person is detected."),
    ("US0004", "Smoke detector", "An optical smoke detector with a chamber and a photodiode sounds an alarm."),
]
PRODUCTS = [("p1", "Xenon 1950g scanner", "Handheld area-imaging barcode scanner for retail"),
            ("p2", "T6 Pro thermostat", "Programmable thermostat that senses when a room is occupied"),
            ("p3", "", "")]


@pytest.fixture()
def files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"number": [p[0] for p in PATENTS], "title": [p[1] for p in PATENTS],
                             "abstract": [p[2] for p in PATENTS]}), tmp_path / "patents.parquet")
    with open(tmp_path / "products.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["product_id", "name", "description"])
        w.writerows(PRODUCTS)
    return tmp_path


def test_index_then_link_a_file_of_products(files, capsys):
    idx = files / "idx"
    assert main(["index", str(files / "patents.parquet"), "--id-field", "number", "--text-fields", "title,abstract",
                 "--out", str(idx), "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["documents"] == 4 and built["method"] == "bm25" and (idx / "manifest.json").is_file()
    out = files / "links.csv"
    assert main(["link", "--index", str(idx), "--queries", str(files / "products.csv"), "--text-fields",
                 "name,description", "--top", "2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1 of 3 rows" in err and "p3" in err          # the empty product is reported, not silently dropped
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(r["query_id"], r["rank"], r["patent_id"]) for r in rows][::2] == [("p1", "1", "US0001"),
                                                                              ("p2", "1", "US0003")]
    assert "barcode" in rows[0]["matched_terms"] and rows[0]["title"] == "Handheld barcode scanner"
    # a single text answers from the same index
    assert main(["link", "--index", str(idx), "smoke alarm with a photodiode", "--top", "1", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["results"][0]
    assert hit["id"] == "US0004" and set(hit["matched_terms"]) == {"smoke", "photodiode", "alarm"}
    assert main(["inspect", str(idx), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["corpus"]["id_field"] == "number"


def test_growing_an_index_adds_only_new_documents(files, capsys, tmp_path):
    idx = files / "idx"
    assert main(["index", str(files / "patents.parquet"), "--id-field", "number", "--out", str(idx)]) == 0
    capsys.readouterr()
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"number": "US0005", "title": "Barcode printer", "abstract": "Thermal labels."}) + "\n"
                    + json.dumps({"number": "US0001", "title": PATENTS[0][1], "abstract": PATENTS[0][2]}) + "\n")
    assert main(["index", str(more), "--id-field", "number", "--out", str(idx), "--add", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["added"] == 1 and res["documents"] == 5 and res["generation"] == 1
    assert main(["index", str(more), "--id-field", "number", "--out", str(idx)]) == 2   # exists: --add/--overwrite
    assert "already holds an index" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["link", "--index", "IDX", "--queries", "PRODUCTS"], "--queries needs --out"),
    (["link", "--index", "IDX", "--reverse", "a patent text"], "indexes patents for item queries"),
    (["link", "--index", "IDX", "--queries", "PRODUCTS", "--out", "x.xlsx"], "cannot tell the links format"),
    (["link", "--index", "IDX", "--method", "dense", "a text"], "was built for bm25"),
    (["link", "--index", "MISSING", "a text"], "no such index folder"),
    (["link", "--index", "IDX", "--queries", "PRODUCTS", "--id-field", "sku", "--out", "l.csv"], "no id column 'sku'"),
    (["index", "PATENTS", "--out", "new", "--method", "knn"], "cannot be saved in an index"),
    (["index", "PATENTS", "--out", "new", "--text-fields", "colour"], "no text column 'colour'"),
])
def test_bad_input_is_one_line_and_exit_2(files, capsys, args, message):
    idx = files / "idx"
    assert main(["index", str(files / "patents.parquet"), "--id-field", "number", "--out", str(idx)]) == 0
    capsys.readouterr()
    subst = {"IDX": str(idx), "PRODUCTS": str(files / "products.csv"), "PATENTS": str(files / "patents.parquet"),
             "MISSING": str(files / "nope"), "l.csv": str(files / "l.csv"), "x.xlsx": str(files / "x.xlsx"),
             "new": str(files / "new")}
    assert main([subst.get(a, a) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (files / "l.csv").exists() and not (files / "x.xlsx").exists()
    assert not (files / "new" / "manifest.json").exists()
