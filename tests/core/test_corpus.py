"""read_corpus: the same records read from every format give the same Corpus; every bad input is one error line
that names the file and the line (or row) to fix."""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patlink.data import Corpus, CorpusError, load_dataset, read_corpus
from patlink.data.corpus import FORMATS

# --------------------------------------------------------------------------------------------------- writers
COLUMNS = ["id", "title", "abstract"]
RECORDS = [
    {"id": "00123", "title": "Smart thermostat", "abstract": "Heats, cools; reads \"setpoints\"\nper room."},
    {"id": "7", "title": "  ", "abstract": ""},                                   # empty: reported, not kept
    {"id": "US7852519", "title": "Valve\twith tab", "abstract": "  padded  "},
    {"id": "Ünïcödé-1", "title": "", "abstract": "only an abstract, with a comma"},
]
EXPECTED_IDS = ["00123", "US7852519", "Ünïcödé-1"]
EXPECTED_TEXTS = ["Smart thermostat\nHeats, cools; reads \"setpoints\"\nper room.", "Valve\twith tab\npadded",
                  "only an abstract, with a comma"]
EXPECTED_TITLES = ["Smart thermostat", "Valve\twith tab", ""]


def write_jsonl(path, records):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def write_json(path, records):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        json.dump(records, f, ensure_ascii=False, indent=2)
    return path


def write_delimited(path, records, delimiter=",", columns=COLUMNS):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(columns)
        for r in records:
            w.writerow([r.get(c, "") for c in columns])
    return path


def write_parquet(path, records, columns=COLUMNS, **kw):
    pq.write_table(pa.table({c: pa.array([r.get(c) for r in records], pa.string()) for c in columns}), path, **kw)
    return path


WRITERS = {
    "x.jsonl": write_jsonl, "x.ndjson": write_jsonl, "x.jsonl.gz": write_jsonl,
    "x.json": write_json, "x.json.gz": write_json,
    "x.csv": write_delimited, "x.csv.gz": write_delimited,
    "x.tsv": lambda p, r: write_delimited(p, r, "\t"), "x.tsv.gz": lambda p, r: write_delimited(p, r, "\t"),
    "x.parquet": write_parquet,
}


def _error(tmp_path, name, content, **kw) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        read_corpus(path, **kw)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


# ----------------------------------------------------------------------------------------- every format
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_reads_the_same_corpus(tmp_path, name):
    c = read_corpus(WRITERS[name](tmp_path / name, RECORDS))
    assert c.ids == EXPECTED_IDS and c.texts == EXPECTED_TEXTS and c.titles == EXPECTED_TITLES
    assert [i for i, _ in c.empty] == ["7"] and len(c) == 3
    assert c.name == "x" and c.id_field == "id" and c.text_fields == ("title", "abstract")
    assert c.metadata["rows"] == 4
    assert c.as_dict() == dict(zip(EXPECTED_IDS, EXPECTED_TEXTS))
    assert c.title_of()["00123"] == "Smart thermostat"


@pytest.mark.parametrize("name, empty_at, lines", [
    ("x.jsonl", 2, [1, 3, 4]),          # one record per line
    ("x.csv", 4, [2, 5, 6]),            # the header is line 1; record 1 spans lines 2-3 (a quoted line break)
    ("x.json", 7, [2, 12, 17]),         # the line each object starts on (indent=2: 5 lines per object)
    ("x.parquet", 2, [1, 3, 4]),        # rows, 1-based
])
def test_line_numbers_are_the_files_own(tmp_path, name, empty_at, lines):
    c = read_corpus(WRITERS[name](tmp_path / name, RECORDS))
    assert c.empty == [("7", empty_at)] and c.lines == lines
    assert c.unit == ("row" if name == "x.parquet" else "line")


def test_csv_line_numbers_count_the_physical_lines(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('id,name\n1,"two\nlines"\n2,\n3,"x"\n', encoding="utf-8")
    c = read_corpus(path, side="items")
    assert c.lines == [2, 5] and c.empty == [("2", 4)]


# ---------------------------------------------------------------------------------------- property-based
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=25)
_tricky = st.sampled_from(["", " ", "a,b", 'say "hi"', '"', "line1\nline2", "tab\there", "\r\n", "x\r", ",,,", "\t"])
_ids = st.one_of(st.from_regex(r"\A0{0,3}[0-9]{1,6}\Z"), st.from_regex(r"\A[A-Za-z][A-Za-z0-9,\"' ._-]{0,8}[a-z]\Z"))
_records = st.lists(st.tuples(_ids, st.one_of(_text, _tricky), st.one_of(_text, _tricky)), min_size=1, max_size=8,
                    unique_by=lambda r: r[0])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records)
def test_random_records_round_trip_through_every_format(rows):
    records = [{"id": i, "title": t, "abstract": a} for i, t, a in rows]
    expect_ids = [i for i, t, a in rows if t.strip() or a.strip()]
    expect_texts = ["\n".join(v.strip() for v in (t, a) if v.strip()) for i, t, a in rows if t.strip() or a.strip()]
    expect_titles = [t.strip() for i, t, a in rows if t.strip() or a.strip()]
    expect_empty = [i for i, t, a in rows if not (t.strip() or a.strip())]
    with tempfile.TemporaryDirectory() as d:
        for name in ("x.jsonl", "x.csv", "x.tsv", "x.parquet"):
            path = WRITERS[name](Path(d) / name, records)
            if not expect_ids:
                with pytest.raises(CorpusError, match="every row"):
                    read_corpus(path)
                continue
            c = read_corpus(path)
            assert (c.ids, c.texts, c.titles) == (expect_ids, expect_texts, expect_titles), name
            assert [i for i, _ in c.empty] == expect_empty, name


# ------------------------------------------------------------------------------------------ values, options
def test_non_string_values_become_text(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 123, "title": null, "abstract": NaN, "claims": ["1. A valve.", "", "2. The valve."], '
                    '"text": 4.0}\n{"id": 124, "title": true, "claims": {"n": 1}}\n', encoding="utf-8")
    c = read_corpus(path)
    assert c.ids == ["123", "124"]
    assert c.texts == ["1. A valve.\n2. The valve.\n4", 'true\n{"n": 1}']
    pq.write_table(pa.table({"patent_id": pa.array([5, 6], pa.int64()),
                             "claims": pa.array([["1. A", "2. B"], None], pa.list_(pa.string())),
                             "abstract": ["first", "second"]}), tmp_path / "p.parquet")
    c = read_corpus(tmp_path / "p.parquet")
    assert c.id_field == "patent_id" and c.ids == ["5", "6"]
    assert c.texts == ["first\n1. A\n2. B", "second"] and c.text_fields == ("abstract", "claims")


def test_csv_ids_are_strings_with_their_leading_zeros(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("product_id,name\n00123,a\n0042,b\n1e5,c\n", encoding="utf-8")
    assert read_corpus(path, side="items").ids == ["00123", "0042", "1e5"]


def test_default_fields_by_side_and_explicit_fields(tmp_path):
    path = write_delimited(tmp_path / "p.csv", [{"id": "1", "name": "N", "title": "T", "description": "D",
                                                 "abstract": "A", "x": "X"}],
                           columns=["id", "x", "description", "abstract", "title", "name"])
    assert read_corpus(path).texts == ["T\nA\nD\nN"]                       # patents: title, abstract, …, name
    assert read_corpus(path, side="items").texts == ["N\nT\nD\nA"]         # items: name, title, description …
    assert read_corpus(path, text_fields="x,title").texts == ["X\nT"]
    assert read_corpus(path, text_fields=["X", "Name"]).texts == ["X\nN"]  # columns match ignoring case
    assert read_corpus(path, text_fields="x+name", title_field="x").titles == ["X"]
    c = read_corpus(path, id_field="name", text_fields="x")
    assert c.ids == ["N"] and c.id_field == "name"


def test_title_is_empty_without_a_title_column(tmp_path):
    path = write_delimited(tmp_path / "p.csv", [{"id": "1", "abstract": "A"}], columns=["id", "abstract"])
    assert read_corpus(path).titles == [""]
    path = write_delimited(tmp_path / "q.csv", [{"id": "1", "Name": "Gadget"}], columns=["id", "Name"])
    c = read_corpus(path, side="items")
    assert c.titles == ["Gadget"] and c.text_fields == ("Name",)


def test_format_overrides_the_suffix(tmp_path):
    path = write_jsonl(tmp_path / "data.txt", RECORDS)
    assert read_corpus(path, format="jsonl").ids == EXPECTED_IDS
    path = write_delimited(tmp_path / "data.dat", RECORDS, "\t")
    assert read_corpus(path, format="TSV").ids == EXPECTED_IDS
    assert set(FORMATS) == {"jsonl", "json", "csv", "tsv", "parquet", "beir", "dataset", "store"}


def test_long_csv_fields_read_and_the_csv_limit_is_restored(tmp_path):
    long = "claim " * 40_000  # 240,000 characters: above the csv module's 131,072 default
    path = write_delimited(tmp_path / "p.csv", [{"id": "1", "title": "t", "abstract": long}])
    before = csv.field_size_limit()
    assert read_corpus(path).texts == ["t\n" + long.strip()]
    assert csv.field_size_limit() == before


def test_parquet_is_read_in_batches_in_row_order(tmp_path):
    n = 10_000
    records = [{"id": f"{k:06d}", "title": "" if k % 1000 == 7 else f"t{k}", "abstract": None} for k in range(n)]
    c = read_corpus(write_parquet(tmp_path / "p.parquet", records, row_group_size=3000))
    assert len(c) == n - 10 and c.ids[:2] == ["000000", "000001"] and c.ids[-1] == f"{n - 1:06d}"
    assert c.empty[0] == ("000007", 8) and c.empty[-1] == ("009007", 9008)
    assert c.lines[-1] == n


def test_normalize_ids_is_opt_in_and_catches_two_spellings(tmp_path):
    path = write_delimited(tmp_path / "p.csv", [{"id": "US 7,852,519 B2", "title": "a"}, {"id": "D123456",
                                                                                          "title": "b"}])
    assert read_corpus(path).ids == ["US 7,852,519 B2", "D123456"]          # as written by default
    assert read_corpus(path, normalize_ids=True).ids == ["US7852519", "USD123456"]
    path = write_delimited(tmp_path / "q.csv", [{"id": "US7852519", "title": "a"}, {"id": "7,852,519", "title": "b"}])
    with pytest.raises(CorpusError, match=r"q\.csv:3: duplicate id '7,852,519' \(as 'US7852519'\), first at line 2"):
        read_corpus(path, normalize_ids=True)
    path = write_delimited(tmp_path / "r.csv", [{"id": "SKU-1", "title": "a"}])
    with pytest.raises(CorpusError, match=r"r\.csv:2: id 'SKU-1' is not a patent publication number"):
        read_corpus(path, normalize_ids=True)


def test_select_keeps_order_and_empties_and_rejects_unknown_ids(tmp_path):
    c = read_corpus(write_jsonl(tmp_path / "x.jsonl", RECORDS))
    s = c.select(["Ünïcödé-1", "00123", "7", "00123"])
    assert s.ids == ["Ünïcödé-1", "00123"] and s.texts == [EXPECTED_TEXTS[2], EXPECTED_TEXTS[0]]
    assert s.titles == ["", "Smart thermostat"] and s.lines == [4, 1] and s.empty == [("7", 2)]
    assert c.ids == EXPECTED_IDS  # unchanged
    with pytest.raises(KeyError, match="nope"):
        c.select(["00123", "nope"])


def test_a_corpus_has_one_text_and_title_per_id():
    with pytest.raises(ValueError, match="one entry per id"):
        Corpus(name="x", ids=["a", "b"], texts=["t"], titles=["", ""], source="x", id_field="id",
               text_fields=("text",))


# -------------------------------------------------------------------------------------------------- errors
def test_missing_file_and_unknown_formats(tmp_path):
    with pytest.raises(CorpusError, match=r"nope\.csv: no such file or folder; .*\.parquet.*pap2pat"):
        read_corpus(tmp_path / "nope.csv")
    msg = _error(tmp_path, "p.xlsx", "x")
    assert "unknown file type '.xlsx'" in msg and ".jsonl" in msg and ".parquet" in msg and "format=" in msg
    with pytest.raises(CorpusError, match="unknown format 'xml'; supported: jsonl, json, csv, tsv, parquet, beir"):
        read_corpus(tmp_path / "p.xlsx", format="xml")
    with pytest.raises(CorpusError, match="unknown side"):
        read_corpus(tmp_path / "p.xlsx", side="products")


def test_malformed_json_names_the_line(tmp_path):
    msg = _error(tmp_path, "p.jsonl", '{"id": "1", "title": "a"}\n\n{"id": "2", "title": "b"\n')
    assert msg.startswith(f"{tmp_path / 'p.jsonl'}:3: malformed JSON")
    msg = _error(tmp_path, "q.jsonl", '{"id": "1", "title": "a"}\n["id", "2"]\n')
    assert ":2: a JSON list, not an object" in msg
    msg = _error(tmp_path, "r.json", '[\n  {"id": "1", "title": "a"},\n  {"id": "2", "title": }\n]\n')
    assert msg.startswith(f"{tmp_path / 'r.json'}:3: malformed JSON")
    msg = _error(tmp_path, "s.json", '{"id": "1"}')
    assert ":1: a .json file must hold a list of objects" in msg and ".jsonl" in msg
    msg = _error(tmp_path, "t.json", '[{"id": "1", "title": "a"},\n 5]')
    assert ":2: a JSON int in the list, not an object" in msg


def test_csv_row_with_the_wrong_number_of_fields(tmp_path):
    msg = _error(tmp_path, "p.csv", 'id,title,abstract\n1,"a\nb",c\n2,unquoted, comma,x\n')
    assert msg.startswith(f"{tmp_path / 'p.csv'}:4: 4 fields, but the header (line 1) has 3; quote fields")
    msg = _error(tmp_path, "p.tsv", "id\ttitle\n1\ta\n2\n")
    assert ":3: 1 fields, but the header (line 1) has 2" in msg and "tabs" in msg


def test_missing_id_text_and_title_columns_list_the_columns(tmp_path):
    msg = _error(tmp_path, "p.csv", "sku,label\n1,a\n")
    assert ":1: no id column (looked for id, _id, publication_number" in msg and "'sku', 'label'" in msg
    msg = _error(tmp_path, "q.csv", "id,label\n1,a\n", id_field="sku")
    assert ":1: no id column 'sku'; the columns are 'id', 'label'" in msg
    msg = _error(tmp_path, "r.csv", "id,label\n1,a\n")
    assert ":1: no text column (looked for title, abstract, claims" in msg and "'id', 'label'" in msg
    msg = _error(tmp_path, "s.csv", "id,label\n1,a\n", text_fields="label,body")
    assert ":1: no text column 'body'; the columns are 'id', 'label'" in msg
    msg = _error(tmp_path, "t.jsonl", '\n{"sku": 1, "label": "a"}\n', text_fields="label")
    assert ":2: no id column" in msg and "'sku', 'label'" in msg    # points at the first record
    msg = _error(tmp_path, "u.csv", "id,label\n1,a\n", text_fields="label", title_field="heading")
    assert ":1: no title column 'heading'" in msg
    pq.write_table(pa.table({"sku": ["1"], "label": ["a"]}), tmp_path / "v.parquet")
    with pytest.raises(CorpusError, match=r"v\.parquet: no id column .*'sku', 'label'"):
        read_corpus(tmp_path / "v.parquet")


def test_empty_id_names_the_row(tmp_path):
    msg = _error(tmp_path, "p.csv", "id,title\n1,a\n  ,b\n")
    assert msg.startswith(f"{tmp_path / 'p.csv'}:3: empty id (column 'id')")
    msg = _error(tmp_path, "q.jsonl", '{"id": "1", "title": "a"}\n{"title": "b"}\n')
    assert ":2: empty id" in msg
    write_parquet(tmp_path / "r.parquet", [{"id": "1", "title": "a"}, {"id": "2", "title": "b"}, {"title": "c"}])
    with pytest.raises(CorpusError, match=r"r\.parquet:row 3: empty id"):
        read_corpus(tmp_path / "r.parquet")


def test_duplicate_ids_name_both_lines(tmp_path):
    msg = _error(tmp_path, "p.csv", "id,title\n00123,a\n123,b\n00123,c\n")
    assert msg.startswith(f"{tmp_path / 'p.csv'}:4: duplicate id '00123', first at line 2; make the ids unique")
    msg = _error(tmp_path, "q.jsonl", '{"id": 5, "title": "a"}\n{"id": "5", "title": "b"}\n')
    assert ":2: duplicate id '5', first at line 1" in msg
    write_parquet(tmp_path / "r.parquet", [{"id": "a", "title": "x"}, {"id": "b", "title": ""}, {"id": "b"}])
    with pytest.raises(CorpusError, match=r"r\.parquet:row 3: duplicate id 'b', first at row 2"):
        read_corpus(tmp_path / "r.parquet")  # an empty row still counts


def test_files_without_rows(tmp_path):
    assert "only a header" in _error(tmp_path, "p.csv", "id,title\n")
    assert "no rows (the file is empty)" in _error(tmp_path, "q.csv", "")
    assert "no rows (the file is empty)" in _error(tmp_path, "r.jsonl", "\n\n")
    assert "no rows (the file is empty)" in _error(tmp_path, "s.json", " [ ] ")
    write_parquet(tmp_path / "t.parquet", [])
    with pytest.raises(CorpusError, match="only a header"):
        read_corpus(tmp_path / "t.parquet")


def test_every_row_empty_is_an_error(tmp_path):
    msg = _error(tmp_path, "p.csv", "id,title,abstract,claims\n1,,,x\n2, ,,\n", text_fields="title,abstract")
    assert msg.startswith(f"{tmp_path / 'p.csv'}:2: every row (2) has an empty text in 'title', 'abstract'")
    assert "'claims'" in msg


def test_not_utf8_names_the_line(tmp_path):
    msg = _error(tmp_path, "p.csv", "id,title\n1,caf\xc3\xa9\n2,caf\xe9\n".encode("latin-1"))
    assert msg.startswith(f"{tmp_path / 'p.csv'}:3: not UTF-8 text")
    msg = _error(tmp_path, "q.jsonl.gz", b"not gzip at all")
    assert "not a valid gzip file" in msg


def test_a_utf8_byte_order_mark_is_skipped(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeffid,title\n1,a\n".encode())
    assert read_corpus(path).id_field == "id"


# ------------------------------------------------------------------------------------ BEIR, datasets, store
def _beir(tmp_path):
    folder = tmp_path / "mybeir"
    folder.mkdir()
    write_jsonl(folder / "corpus.jsonl", [{"_id": "d1", "title": "Valve", "text": "A valve.", "claims": "1. A valve.",
                                           "metadata": {"x": 1}},
                                          {"_id": "d2", "title": "", "text": ""},
                                          {"_id": "d3", "title": "Pump", "text": "A pump."}])
    write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "a smart valve"}, {"_id": "q2", "text": " "}])
    return folder


def test_beir_folder_without_qrels_reads_both_sides(tmp_path):
    folder = _beir(tmp_path)
    p = read_corpus(folder)
    assert p.ids == ["d1", "d3"] and p.texts == ["Valve\n1. A valve.\nA valve.", "Pump\nA pump."]
    assert p.titles == ["Valve", "Pump"] and p.empty == [("d2", 2)] and p.id_field == "_id"
    assert p.name == "mybeir" and p.source == str(folder / "corpus.jsonl") and p.format == "beir"
    assert read_corpus(folder, text_fields="title,text").texts == ["Valve\nA valve.", "Pump\nA pump."]
    q = read_corpus(folder, side="items")
    assert q.ids == ["q1"] and q.texts == ["a smart valve"] and q.empty == [("q2", 2)] and q.titles == [""]
    (folder / "queries.jsonl").unlink()
    with pytest.raises(CorpusError, match=r"mybeir: not a BEIR folder for side='items' \(no queries\.jsonl\)"):
        read_corpus(folder, side="items")


def test_bundled_dataset_both_sides_equal_the_dataset_texts():
    ds = load_dataset("pap2pat")
    for side, texts in (("patents", ds.patent_texts()), ("items", ds.item_texts())):
        c = read_corpus("pap2pat", side=side)
        assert c.as_dict() == {k: v for k, v in texts.items() if v}
        assert {i for i, _ in c.empty} == {k for k, v in texts.items() if not v}
        assert c.source == f"dataset:pap2pat:{side}" and c.format == "dataset"
        assert read_corpus(c.source).ids == c.ids                       # the source string reads back
    c = read_corpus("dataset:pap2pat", text_fields="claims")
    assert c.as_dict() == {k: v for k, v in ds.patent_texts(view="claims").items() if v}
    assert c.titles[0] == ds.patents[c.ids[0]]["title"]
    with pytest.raises(CorpusError, match="unknown dataset 'nope'; bundled datasets: .*pap2pat"):
        read_corpus("dataset:nope")
    with pytest.raises(CorpusError, match="api-patents has no items"):
        read_corpus("api-patents", side="items")
    with pytest.raises(CorpusError, match="unknown text field"):
        read_corpus("pap2pat", text_fields="title,colour")


def _store(path, records):
    from patlink.hydrate.records import PatentRecord
    from patlink.hydrate.store import HydrationStore

    with HydrationStore(path) as s:
        s.write_batch([PatentRecord(**r) for r in records], {"US999": "not found"})
    return path


# real honeywell-vpm patent numbers (their texts below are invented fixtures)
US_A, US_B = "US10001292", "US7000308"


def test_hydration_store_reads_as_a_corpus(tmp_path):
    db = _store(tmp_path / "hydrate.duckdb", [
        {"number": US_B, "title": "Sensor", "abstract": "A sensor.", "cpc": ["G01K1/00", "G01K7/00"]},
        {"number": US_A, "title": "Scanner", "claims": "1. A scanner.\n2. The scanner of 1."},
        {"number": "US5000001"},
    ])
    c = read_corpus(db)  # ordered by number: US10001292 < US5000001 < US7000308
    assert c.ids == [US_A, US_B] and c.id_field == "number" and c.format == "store" and c.unit == "row"
    assert c.texts == ["Scanner\n1. A scanner.\n2. The scanner of 1.", "Sensor\nA sensor."]
    assert c.empty == [("US5000001", 2)] and c.titles == ["Scanner", "Sensor"] and c.name == "hydrate"
    assert read_corpus(db, text_fields="title,cpc").texts == ["Scanner", "Sensor\nG01K1/00; G01K7/00"]
    with pytest.raises(CorpusError, match="no such hydration store"):
        read_corpus(tmp_path / "other.duckdb")


def test_store_texts_fill_a_datasets_and_a_files_patents(tmp_path):
    db = _store(tmp_path / "h.duckdb", [{"number": US_A, "title": "Scanner", "abstract": "Scans."},
                                        {"number": US_B, "title": "Sensor"}])
    c = read_corpus("honeywell-vpm", texts=db)
    assert c.as_dict() == {US_A: "Scanner\nScans.", US_B: "Sensor"}
    assert len(c.empty) == len(load_dataset("honeywell-vpm").patents) - 2
    assert c.metadata["filled"] == 2 and c.metadata["texts_from"] == str(db)
    # a file with numbers only (any spelling), one row with its own title: the file's text wins
    path = tmp_path / "mine.csv"
    path.write_text("number,title\n\"10,001,292\",\nUS 7000308 B1,My own title\nUS1234567,\n", encoding="utf-8")
    c = read_corpus(path, texts=db)
    assert c.ids == ["10,001,292", "US 7000308 B1"] and c.texts == ["Scanner\nScans.", "My own title"]
    assert c.empty == [("US1234567", 4)] and c.metadata["filled"] == 1 and c.text_fields == ("title", "abstract")
    with pytest.raises(CorpusError, match="texts= fills patent texts"):
        read_corpus(path, side="items", texts=db)
    with pytest.raises(CorpusError, match="no such hydration store"):
        read_corpus(path, texts=tmp_path / "missing.duckdb")


def test_a_duckdb_file_that_is_not_a_store(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / "other.duckdb"))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(CorpusError, match="not a hydration store \\(no 'patents' table\\)"):
        read_corpus(tmp_path / "other.duckdb")
