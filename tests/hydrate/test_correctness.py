"""Hydration correctness: damaged input is reported and never stored in part, incomplete stored records are
refetched, BigQuery keeps the granted publication of a number, and each source maps the fields of real-format
documents exactly (the fixtures' texts are invented, see fixtures/README.md)."""

from __future__ import annotations

import json
import re
import shutil
import zipfile

import pytest

from patlink.data.patentsview import MalformedTableError, PatentsViewTables, locate_malformed_row
from patlink.hydrate.base import US_APPLICATION_KINDS, US_GRANT_KINDS, is_us_utility_grant, us_kind_rank
from patlink.hydrate.bigquery import BigQuerySource, build_query, kind_rank_sql, row_to_record
from patlink.hydrate.bulk import (
    BulkSource,
    MalformedDocumentError,
    find_bulk_files,
    iter_uspto_grant_xml,
    parse_uspto_grant_xml,
    read_patentsview_tsvs,
)
from patlink.hydrate.config import BigQueryConfig, BulkConfig, HydrateConfig
from patlink.hydrate.records import PatentRecord
from patlink.hydrate.runner import incomplete_reason, run_text_fields
from patlink.hydrate.store import HydrationStore


@pytest.fixture
def ipg(fixtures_dir) -> bytes:
    """The two-document weekly file: US7000308 (line 1) then US10001292 (line 104)."""
    return (fixtures_dir / "bulk" / "ipg181030.xml").read_bytes()


def _cut_after(data: bytes, marker: bytes) -> bytes:
    return data[: data.index(marker) + len(marker)]


def _xml_dir(tmp_path, name: str, data: bytes):
    folder = tmp_path / "xml"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return folder


def _run(folder, db, numbers, **cfg):
    from patlink.hydrate.runner import hydrate

    config = HydrateConfig(source="bulk", db_path=db, bulk=BulkConfig(folder), **cfg)
    return hydrate(numbers, config)


# ------------------------------------------------------------------------------------------ USPTO XML, strict
def _doc(ipg: bytes, i: int) -> bytes:
    """Document ``i`` (0, 1) of the weekly file."""
    return b"<?xml" + ipg.split(b"<?xml")[i + 1]


def test_document_cut_inside_claims_is_an_error_not_a_record(ipg):
    doc = _doc(ipg, 0)
    cut = _cut_after(doc, b"<claim-text>a white")
    with pytest.raises(MalformedDocumentError, match="not well-formed XML: Premature end of data") as e:
        parse_uspto_grant_xml(cut)
    assert e.value.line == cut.count(b"\n") + 1  # the line of the cut, counted from the <?xml line
    assert parse_uspto_grant_xml(doc).claims.startswith("1. A fixture indicia reader")  # the whole one parses


def test_truncated_weekly_file_reports_the_document_and_a_complete_file_fixes_it(ipg, tmp_path):
    cut = _cut_after(ipg, b"<claim-text>1. A fixture wall module comprising a temp")  # last document, in <claims>
    folder = _xml_dir(tmp_path, "ipg181030.xml", cut)
    db = tmp_path / "h.duckdb"
    s1 = _run(folder, db, ["US7000308", "US10001292"])
    assert s1.fetched == ["US7000308"]
    msg = s1.failed["US10001292"]
    assert msg.startswith("ipg181030.xml line 104: not well-formed XML: Premature end of data in tag claim-text")
    assert "(file line 133)" in msg and msg.endswith("the document is skipped, not stored")
    assert s1.malformed == [msg]
    with HydrationStore(db) as st:
        assert st.fetched(["US7000308", "US10001292"]) == {"US7000308"}  # no damaged record is stored
        assert st.failed() == {"US10001292": msg}

    (folder / "ipg181030.xml").write_bytes(ipg)  # the complete file: the failure is retried and fixed
    s2 = _run(folder, db, ["US7000308", "US10001292"])
    assert (s2.cached, s2.fetched, s2.failed, s2.malformed) == (["US7000308"], ["US10001292"], {}, [])
    with HydrationStore(db) as st:
        assert st.get(["US10001292"])["US10001292"].claims == (
            "1. A fixture wall module comprising a temperature sensor (XML).")
        assert st.failed() == {}


def test_document_cut_before_its_number_is_reported(ipg, tmp_path):
    cut = _cut_after(ipg, b'date-produced="20180604" date-publ="20180619">\n<us-bibliographic-data-grant>')
    src = BulkSource(BulkConfig(_xml_dir(tmp_path, "ipg181030.xml", cut)))
    records, errors = src.fetch(["US7000308", "US10001292"])
    assert set(records) == {"US7000308"} and errors == {"US10001292": "not found in source"}
    assert len(src.bad_documents) == 1
    assert src.bad_documents[0].startswith("ipg181030.xml line 104: not well-formed XML: Premature end of data")


def test_damaged_zip_member_is_reported_not_a_crash(ipg, tmp_path):
    folder = tmp_path / "zips"
    folder.mkdir()
    with zipfile.ZipFile(folder / "ipg181030.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ipg181030.xml", ipg)
    data = bytearray((folder / "ipg181030.zip").read_bytes())
    start = data.index(b"ipg181030.xml") + len(b"ipg181030.xml")  # the member's compressed bytes follow its name
    compressed = zipfile.ZipFile(folder / "ipg181030.zip").getinfo("ipg181030.xml").compress_size
    for i in range(start + compressed // 2, start + compressed // 2 + 40):
        data[i] ^= 0xFF
    (folder / "ipg181030.zip").write_bytes(bytes(data))
    src = BulkSource(BulkConfig(folder))
    records, errors = src.fetch(["US7000308", "US10001292"])
    assert "US10001292" not in records  # never a record from the part that was read
    assert set(errors) | set(records) == {"US7000308", "US10001292"}
    assert any(re.match(r"ipg181030\.zip:ipg181030\.xml: cut short or damaged after line \d+ \((error|BadZipFile)",
                        m) for m in src.bad_documents), src.bad_documents


def test_zip_cut_short_is_reported_and_other_files_still_read(ipg, tmp_path):
    folder = tmp_path / "zips"
    folder.mkdir()
    with zipfile.ZipFile(folder / "ipg181030.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ipg181030.xml", ipg)
    whole = (folder / "ipg181030.zip").read_bytes()
    (folder / "ipg181030.zip").write_bytes(whole[: len(whole) // 2])  # the central directory is lost
    (folder / "ipg181106.xml").write_bytes(_doc(ipg, 0))
    src = BulkSource(BulkConfig(folder))
    records, errors = src.fetch(["US7000308", "US10001292"])
    assert set(records) == {"US7000308"} and errors == {"US10001292": "not found in source"}
    assert src.bad_documents == [("ipg181030.zip: not a readable zip archive (BadZipFile: File is not a zip file); "
                                  "it is cut short or damaged: download it again")]


def test_strict_parser_stays_hardened(ipg):
    doc = _doc(ipg, 0)
    evil = doc.replace(b'<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v45-2014-04-03.dtd" [ ]>',
                       b'<!DOCTYPE us-patent-grant [<!ENTITY x SYSTEM "file:///etc/passwd">'
                       b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>')
    evil = evil.replace(b"Fixture indicia reader with <i>dual</i> illumination", b"Fixture &x; &b;")
    r = parse_uspto_grant_xml(evil)
    assert "root:" not in r.title and "aaaa" not in r.title  # neither an external nor an internal entity expanded
    assert r.claims.startswith("1. A fixture indicia reader")


# --------------------------------------------------------------------------------------- PatentsView TSVs
def _tsv_dir(tmp_path, fixtures_dir, **replace):
    folder = tmp_path / "tsv"
    shutil.copytree(fixtures_dir / "bulk_tsv", folder)
    for name, text in replace.items():
        (folder / f"{name}.tsv").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("name, text, line, reason", [
    ("g_patent_abstract",  # a quoted abstract cut short: the quote is never closed
     'patent_id\tpatent_abstract\n8001070\t"Fixture abstract."\n9000859\t"Fixture abstract of a thermo\n', 3,
     "a quoted value is not closed before the end of the file"),
    ("g_claims_2011",  # the last row cut inside claim_text: 3 of 6 columns
     ("patent_id\tclaim_sequence\tclaim_text\tdependent\tclaim_number\texemplary\n"
      "8001070\t0\t1. A fixture gas detector.\t\t00001\t1\n8001070\t1\t2. The fixture gas det\n"), 3,
     "the row has 3 of the header's 6 columns"),
    ("g_patent_abstract",  # a last row with MORE columns: DuckDB's sniffer took it for the header (0 rows read)
     "patent_id\tpatent_abstract\n8001070\tFixture abstract.\n9000859\tFixture\tabstract.\n", 3,
     "the row has 3 of the header's 2 columns"),
    ("g_patent_abstract",  # cut inside an unquoted abstract: the file ends without a line break
     "patent_id\tpatent_abstract\n8001070\tFixture abstract.\n9000859\tFixture abstract of a thermo", 3,
     "the file ends inside its last row (no line break after it)"),
])
def test_tsv_cut_short_is_reported_with_file_and_line_and_nothing_stored(tmp_path, fixtures_dir, name, text, line,
                                                                        reason):
    folder = _tsv_dir(tmp_path, fixtures_dir, **{name: text})
    with pytest.raises(MalformedTableError) as e:
        read_patentsview_tsvs(find_bulk_files(folder), ["US8001070", "US9000859"])
    assert (e.value.path.name, e.value.line, e.value.reason) == (f"{name}.tsv", line, reason)
    assert str(e.value) == (f"{folder / (name + '.tsv')} line {line}: {reason}; the file is cut short or malformed "
                            "(download or unzip it again)")

    db = tmp_path / "h.duckdb"
    s = _run(folder, db, ["US8001070", "US9000859"])
    assert s.fetched == [] and s.failed == {"US8001070": str(e.value), "US9000859": str(e.value)}
    assert s.malformed == [str(e.value)]
    with HydrationStore(db) as st:
        assert st.count() == (0, 2)


def test_gzip_table_cut_short(tmp_path, fixtures_dir):
    import gzip

    folder = _tsv_dir(tmp_path, fixtures_dir)
    rows = "".join(f"{8000000 + i}\tFixture abstract number {i}.\n" for i in range(3000))
    data = gzip.compress(("patent_id\tpatent_abstract\n" + rows).encode())
    (folder / "g_patent_abstract.tsv").unlink()
    (folder / "g_patent_abstract.tsv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedTableError, match=r"g_patent_abstract\.tsv\.gz line \d+: the gzip stream ends"):
        read_patentsview_tsvs(find_bulk_files(folder), ["US8001070"])


def test_complete_tables_have_no_malformed_row(fixtures_dir):
    for path in sorted((fixtures_dir / "bulk_tsv").glob("*.tsv")) + sorted((fixtures_dir / "bulk").glob("*.tsv")):
        assert locate_malformed_row(path) is None, path


def test_a_malformed_table_fails_every_later_batch_without_rescanning(tmp_path, fixtures_dir, monkeypatch):
    folder = _tsv_dir(tmp_path, fixtures_dir, g_patent_abstract="patent_id\tpatent_abstract\n8001070\t\"cut")
    src = BulkSource(BulkConfig(folder))
    _, e1 = src.fetch(["US8001070"])
    calls = []
    monkeypatch.setattr(PatentsViewTables, "query", lambda *a, **k: calls.append(a) or [])
    _, e2 = src.fetch(["US9000859"])
    assert calls == [] and e1["US8001070"] == e2["US9000859"] and "line 2" in e2["US9000859"]


# ------------------------------------------------------------------------------- incomplete stored records
def test_incomplete_reason_per_source():
    def rec(**kw):
        base = {"number": "US9000913", "title": "T", "abstract": "A", "claims": "1. A thing.", "kind": "B2",
                "publication_date": "2015-04-07", "source": "bigquery"}
        return PatentRecord(**{**base, **kw})

    assert incomplete_reason(rec()) == ""
    assert incomplete_reason(rec(title="", abstract="", claims="")) == "no title, abstract, claims or description"
    assert incomplete_reason(rec(claims="")) == "a utility grant (B2) without claims"
    assert incomplete_reason(rec(claims="", kind="A", publication_date="1999-05-04")) == (
        "a utility grant (A) without claims")  # before 2001 a utility grant is kind A
    assert incomplete_reason(rec(claims="", kind="B1", publication_date="1996-01-16")) == ""  # a reexamination
    assert incomplete_reason(rec(number="USD654321", claims="", kind="S1")) == ""  # design: not a utility grant
    assert incomplete_reason(rec(claims="", source="bulk-patentsview")) == ""  # TSVs without g_claims give none
    assert incomplete_reason(rec(claims=""), can_give={"title", "abstract"}) == ""  # the run cannot give claims
    cut = rec(claims="1. A fixture thermostat.\n2. The thermostat of claim 1, further compr", source="bulk-uspto-xml")
    assert incomplete_reason(cut) == "claims cut short (the last claim does not end with a full stop)"
    assert incomplete_reason(rec(claims=cut.claims)) == ""  # only grant XML parsed with recovery cut claims


def test_run_text_fields(fixtures_dir, tmp_path):
    cfg = HydrateConfig(source="bulk", bulk=BulkConfig(fixtures_dir / "uspto_xml"))
    assert run_text_fields(cfg) == {"title", "abstract", "claims", "description"}
    (tmp_path / "g_patent.tsv").write_text("patent_id\tpatent_title\n")
    assert run_text_fields(HydrateConfig(source="bulk", bulk=BulkConfig(tmp_path))) == {"title", "abstract"}
    pv = HydrateConfig(source="patentsview")
    pv.patentsview.claims = False
    assert run_text_fields(pv) == {"title", "abstract", "description"}


def _store_damaged(db, *records):
    with HydrationStore(db) as st:
        st.write_batch(list(records), source="bulk")


def test_damaged_stored_records_are_refetched(ipg, tmp_path):
    db = tmp_path / "h.duckdb"
    old = parse_uspto_grant_xml(_doc(ipg, 0))
    no_claims = PatentRecord(**{**old.to_dict(), "claims": ""})  # what recovery parsing stored for a cut file
    cut_claims = PatentRecord(**{**parse_uspto_grant_xml(_doc(ipg, 1)).to_dict(),
                                 "claims": "1. A fixture wall module comprising a temp"})
    _store_damaged(db, no_claims, cut_claims)
    folder = _xml_dir(tmp_path, "ipg181030.xml", ipg)
    s = _run(folder, db, ["US7000308", "US10001292"])
    assert s.refetched_incomplete == ["US7000308", "US10001292"] and s.cached == []
    assert sorted(s.fetched) == ["US10001292", "US7000308"] and s.incomplete == {}
    assert s.as_dict()["refetched_incomplete"] == 2
    with HydrationStore(db) as st:
        got = st.get(["US7000308", "US10001292"])
    assert got["US7000308"].claims == old.claims and got["US10001292"].claims.endswith("sensor (XML).")
    s2 = _run(folder, db, ["US7000308", "US10001292"])  # now complete: cached
    assert s2.refetched_incomplete == [] and s2.cached == ["US7000308", "US10001292"] and s2.fetched == []


def test_find_incomplete_in_a_store(ipg, tmp_path):
    from patlink.hydrate.runner import find_incomplete

    db = tmp_path / "h.duckdb"
    good = parse_uspto_grant_xml(_doc(ipg, 1))
    _store_damaged(db, PatentRecord(**{**parse_uspto_grant_xml(_doc(ipg, 0)).to_dict(), "claims": ""}), good)
    with HydrationStore(db) as st:
        assert find_incomplete(st, ["US10001292", "US7000308", "US1234567"]) == {
            "US7000308": "a utility grant (B2) without claims"}
        assert find_incomplete(st, ["US7000308"], can_give={"title", "abstract"}) == {}


def test_refetch_can_be_turned_off_and_still_reports(ipg, tmp_path):
    db = tmp_path / "h.duckdb"
    old = parse_uspto_grant_xml(_doc(ipg, 0))
    _store_damaged(db, PatentRecord(**{**old.to_dict(), "claims": ""}))
    s = _run(_xml_dir(tmp_path, "ipg181030.xml", ipg), db, ["US7000308"], refetch_incomplete=False)
    assert s.cached == ["US7000308"] and s.fetched == [] and s.refetched_incomplete == []
    assert s.incomplete == {"US7000308": "a utility grant (B2) without claims"}


def test_refetch_that_is_damaged_again_stays_reported(tmp_path):
    from patlink.hydrate.runner import hydrate

    class NoClaims:
        name = "bigquery"

        def __init__(self):
            self.batches = []

        def fetch(self, numbers):
            self.batches.append(list(numbers))
            return {n: PatentRecord(number=n, title="Fixture title", kind="B2", publication_date="2015-04-07",
                                    source="bigquery") for n in numbers}, {}

        def close(self):
            pass

    cfg = HydrateConfig(source="bigquery", db_path=tmp_path / "h.duckdb")
    src = NoClaims()
    s1 = hydrate(["US9000913"], cfg, source=src)
    assert s1.fetched == ["US9000913"] and s1.incomplete == {"US9000913": "a utility grant (B2) without claims"}
    s2 = hydrate(["US9000913"], cfg, source=src)
    assert src.batches == [["US9000913"], ["US9000913"]] and s2.refetched_incomplete == ["US9000913"]
    assert s2.incomplete == {"US9000913": "a utility grant (B2) without claims"}
    with HydrationStore(cfg.db_path) as st:
        assert st.get(["US9000913"])["US9000913"].title == "Fixture title"  # stored: the best there is


def test_cli_prints_malformed_and_refetched_counts(ipg, tmp_path, capsys):
    from patlink.cli.main import main

    folder = _xml_dir(tmp_path, "ipg181030.xml", _cut_after(ipg, b"<claim-text>1. A fixture wall module"))
    numbers = tmp_path / "n.txt"
    numbers.write_text("US7000308\nUS10001292\n")
    db = tmp_path / "cli.duckdb"
    old = parse_uspto_grant_xml(_doc(ipg, 0))
    _store_damaged(db, PatentRecord(**{**old.to_dict(), "claims": ""}))
    base = ["hydrate", "--numbers", str(numbers), "--source", "bulk", "--bulk-dir", str(folder), "--db", str(db)]
    assert main(base) == 0
    out = capsys.readouterr()
    assert re.search(r"incomplete records refetched\s*│\s*1", out.out), out.out
    assert re.search(r"malformed documents skipped\s*│\s*1", out.out), out.out
    assert "malformed ipg181030.xml line 104: not well-formed XML" in " ".join(out.err.split())
    assert main([*base, "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert (js["refetched_incomplete"], js["malformed"], js["fetched"], js["failed"]) == (0, 1, 0, 1)
    assert js["malformed_documents"][0].startswith("ipg181030.xml line 104: not well-formed XML")


# --------------------------------------------------------------------------------------- BigQuery ranking
def _duckdb_sql(sql: str) -> str:
    """The query in DuckDB's dialect: the BigQuery-only spellings replaced, the logic (canonical number, kind
    ranking, window) unchanged."""
    sql = sql.replace("`patents-public-data.patents.publications`", "publications")
    sql = re.sub(r"\br'", "'", sql)
    sql = sql.replace("REGEXP_EXTRACT(", "bq_regexp_extract(").replace("REGEXP_CONTAINS(", "bq_regexp_contains(")
    sql = re.sub(r"FROM UNNEST\((\w+)\) AS (\w)\b", r"FROM (SELECT UNNEST(\1, recursive := true)) AS \2", sql)
    sql = sql.replace("IN UNNEST(@numbers)", "IN (SELECT unnest($numbers))").replace("@language", "$language")
    return sql.replace("SELECT * EXCEPT (rn)", "SELECT * EXCLUDE (rn)")


# (publication_number, kind_code, publication_date, text): several publications share a number
PUBLICATIONS = [
    ("US-5123456-A", "A", 19920616, "Fixture grant text of 1992. " * 3),
    ("US-5123456-B1", "B1", 19960116, "Fixture reexamination certificate of 1996, longer than the grant. " * 4),
    ("US-6654321-B1", "B1", 20031125, "Fixture grant text of 2003. " * 3),
    ("US-6654321-C1", "C1", 20090113, "Fixture reexamination certificate, with much more text. " * 9),
    ("US-6654321-C2", "C2", 20120207, "Fixture second reexamination certificate."),
    ("US-7000001-B2", "B2", 20060214, "Fixture short grant."),
    ("US-7000001-I5", "I5", 20070101, "Fixture other kind with more text than the grant."),
    ("US-2013210636-A1", "A1", 20130815, "Fixture application."),
    ("US-2013210636-A9", "A9", 20131010, "Fixture corrected application, longer than the first."),
    ("US-8000002-C1", "C1", 20150101, "Fixture certificate, the only publication of the number."),
    ("US-RE45678-E1", "E1", 20151006, "Fixture reissue."),
    ("US-D654321-S1", "S1", 20120221, "Fixture design."),
    ("US-PP12345-P3", "P3", 20011023, "Fixture plant."),
]


def _run_bigquery_sql_in_duckdb(numbers):
    import duckdb

    sql, params = build_query(numbers)
    con = duckdb.connect()
    con.execute("CREATE MACRO bq_regexp_extract(s, p) AS regexp_extract(s, p, 1)")  # BigQuery: the first group
    con.execute("CREATE MACRO bq_regexp_contains(s, p) AS regexp_matches(s, p)")
    loc = "STRUCT(text VARCHAR, language VARCHAR, truncated BOOLEAN)[]"
    con.execute(f"CREATE TABLE publications (publication_number VARCHAR, country_code VARCHAR, kind_code VARCHAR, "
                f"family_id VARCHAR, publication_date BIGINT, filing_date BIGINT, grant_date BIGINT, "
                f"priority_date BIGINT, title_localized {loc}, abstract_localized {loc}, claims_localized {loc}, "
                f"description_localized {loc}, cpc STRUCT(code VARCHAR, inventive BOOLEAN, first BOOLEAN)[])")
    for pub, kind, date, text in PUBLICATIONS:
        def en(t):
            return [{"text": t, "language": "en", "truncated": False}, {"text": "x" * 999, "language": "de",
                                                                         "truncated": False}]
        con.execute("INSERT INTO publications VALUES (?, 'US', ?, '123', ?, 19900101, ?, 19890101, ?, ?, ?, ?, ?)",
                    [pub, kind, date, date if us_kind_rank(kind, date) == 0 else 0, en("Fixture title"), en(text),
                     en(text), en(text), [{"code": "H04L67/02", "inventive": False, "first": False},
                                          {"code": "G06F3/0488", "inventive": True, "first": True}]])
    cur = con.execute(_duckdb_sql(sql), {"numbers": params[0][2], "language": params[1][2]})
    cols = [d[0] for d in cur.description]
    return {r["number"]: r for r in (dict(zip(cols, row)) for row in cur.fetchall())}


def test_bigquery_query_keeps_the_grant_executed_in_duckdb():
    numbers = ["US5123456", "US6654321", "US7000001", "US20130210636", "US8000002", "USRE45678", "USD654321",
               "USPP12345"]
    rows = _run_bigquery_sql_in_duckdb(numbers)
    assert {n: r["publication_number"] for n, r in rows.items()} == {
        "US5123456": "US-5123456-A",  # the 1992 grant, not the 1996 reexamination (B1 before 2001)
        "US6654321": "US-6654321-B1",  # the grant, not the later, longer C1 nor the latest C2
        "US7000001": "US-7000001-B2",  # an unknown/other kind never wins over the grant
        "US20130210636": "US-2013210636-A9",  # applications only: the one with more text
        "US8000002": "US-8000002-C1",  # nothing else has the number
        "USRE45678": "US-RE45678-E1", "USD654321": "US-D654321-S1", "USPP12345": "US-PP12345-P3",
    }
    r = rows["US6654321"]
    assert r["title"] == "Fixture title" and r["cpc"] == ["G06F3/0488", "H04L67/02"]  # en text, first CPC first
    rec = row_to_record(r)
    assert (rec.kind, rec.publication_number, rec.grant_date) == ("B1", "US-6654321-B1", "2003-11-25")
    assert rec.claims == "Fixture grant text of 2003. Fixture grant text of 2003. Fixture grant text of 2003."


def test_build_query_orders_by_kind_before_length_and_date():
    sql, _ = build_query(["US6654321"])
    window = sql[sql.index("PARTITION BY number"):]
    rank, length, date = (window.index(kind_rank_sql()), window.index("LENGTH(IFNULL(title"),
                          window.index("publication_date DESC"))
    assert rank < length < date
    assert "'C1'" not in kind_rank_sql() and "BETWEEN 1 AND 20010101 THEN 2" in kind_rank_sql()


def test_kind_rank_sql_agrees_with_python():
    import duckdb

    kinds = list(US_GRANT_KINDS + US_APPLICATION_KINDS) + ["B3", "C1", "C9", "F1", "I4", "X", ""]
    cases = [(k, d) for k in kinds for d in (19950101, 20010101, 20010102, 20150101, 0)]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (kind_code VARCHAR, publication_date BIGINT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", cases)
    got = con.execute(f"SELECT kind_code, publication_date, {kind_rank_sql()} FROM t").fetchall()
    assert [(k, d, us_kind_rank(k, d)) for k, d in cases] == got
    assert us_kind_rank("B2", 19990101) == 2 and us_kind_rank("B2", 20010102) == 0 and us_kind_rank("A") == 0
    assert is_us_utility_grant("B1", "2003-11-25") and not is_us_utility_grant("C1") and not is_us_utility_grant("S1")


def test_fetch_keeps_the_grant_when_the_client_returns_several_rows(monkeypatch):
    from tests.hydrate.test_hydrate_bigquery import FakeClient, _fake_bigquery_module

    _fake_bigquery_module(monkeypatch)
    grant = {"number": "US6654321", "publication_number": "US-6654321-B1", "kind_code": "B1",
             "publication_date": 20031125, "title": "Fixture grant", "claims": "1. Fixture claim."}
    cert = {"number": "US6654321", "publication_number": "US-6654321-C1", "kind_code": "C1",
            "publication_date": 20090113, "title": "Fixture certificate", "claims": "1. Fixture claim. " * 20}
    for rows in ([grant, cert], [cert, grant]):
        records, errors = BigQuerySource(BigQueryConfig(), client=FakeClient(rows)).fetch(["US6654321"])
        r = records["US6654321"]
        assert (r.kind, r.publication_number, r.title, errors) == ("B1", "US-6654321-B1", "Fixture grant", {})


def test_bigquery_row_as_the_client_returns_it():
    row = {"number": "US20130210636", "publication_number": "US-2013210636-A1", "kind_code": "A1",
           "family_id": "48984567", "publication_date": 20130815, "filing_date": 20120213, "grant_date": 0,
           "priority_date": 20110214, "title": "  Fixture  application title ",
           "abstract": "Fixture abstract, first paragraph.\n\n  Fixture abstract,   second paragraph.",
           "claims": "1. A fixture method.\n2. The method of claim 1.", "description": None, "cpc": []}
    r = row_to_record(row)
    assert r.to_dict() == {
        "number": "US20130210636", "title": "Fixture application title",
        "abstract": "Fixture abstract, first paragraph.\nFixture abstract, second paragraph.",
        "claims": "1. A fixture method.\n2. The method of claim 1.", "description": "", "cpc": [],
        "publication_date": "2013-08-15", "filing_date": "2012-02-13", "priority_date": "2011-02-14",
        "grant_date": "", "family_id": "48984567", "kind": "A1", "publication_number": "US-2013210636-A1",
        "citations": [], "source": "bigquery"}


# ------------------------------------------------------------------------------------ field mappings (formats)
def test_patentsview_tsv_fields(fixtures_dir):
    files = find_bulk_files(fixtures_dir / "bulk_tsv")
    assert set(files) == {"g_patent", "g_patent_abstract", "g_claims", "g_detail_desc_text", "g_application",
                          "g_cpc_current", "g_us_patent_citation"}
    recs = read_patentsview_tsvs(files, ["US8001070", "US9000859", "US6201715"])
    assert set(recs) == {"US8001070", "US9000859"}
    assert recs["US8001070"].to_dict() == {
        "number": "US8001070", "title": "Fixture gas detector with a self-test",
        "abstract": "Fixture abstract, first paragraph: a gas detector tests its sensor.\n"
                    'Fixture abstract, second paragraph: the test result is "pass" or "fail".',
        "claims": "1. A fixture gas detector comprising: a sensor; and a self-test circuit.\n"
                  "2. The fixture gas detector of claim 1, wherein the sensor is electrochemical.\n"
                  "3. The fixture gas detector of claim 1, wherein the self-test runs daily.",
        "description": "BACKGROUND\nFixture background of gas detectors.\nDETAILED DESCRIPTION\n"
                       "Fixture detailed description: the sensor is tested.",
        "cpc": ["G01N33/0006", "G08B29/145"], "publication_date": "2011-08-16", "filing_date": "2008-05-19",
        "priority_date": "", "grant_date": "2011-08-16", "family_id": "", "kind": "B2",
        "publication_number": "8001070", "citations": ["US5900613", "US6201715"], "source": "bulk-patentsview"}
    r = recs["US9000859"]  # claims from the other year's file, no description row
    assert (r.kind, r.filing_date, r.description, r.cpc) == ("B1", "2013-01-31", "", ["F24F11/63"])
    assert r.claims.splitlines()[0] == "1. A fixture thermostat storing a schedule."


def test_uspto_xml_v45_fields(fixtures_dir):
    docs = list(iter_uspto_grant_xml([fixtures_dir / "uspto_xml" / "ipg150407.xml"]))
    assert [(n, line) for n, line, _ in docs] == [("ipg150407.xml", 1)]
    assert parse_uspto_grant_xml(docs[0][2]).to_dict() == {
        "number": "US9000913", "title": "Fixture thermostat with a learned schedule",
        "abstract": "Fixture abstract, first paragraph: a thermostat learns a schedule.\n"
                    "Fixture abstract, second paragraph: the schedule has four periods.",
        "claims": "1. A fixture thermostat, comprising: a sensor configured to measure a temperature; and a "
                  "controller configured to: compare the temperature with a set point; and switch a heater.\n"
                  "2. The fixture thermostat of claim 1, wherein the set point follows a schedule.",
        "description": "CROSS-REFERENCE TO RELATED APPLICATIONS\nFixture cross-reference to the parent application.\n"
                       "BACKGROUND\nFixture background with a list:\na first item; a second item.\n"
                       "BRIEF DESCRIPTION OF THE DRAWINGS\nFIG. 1 is a fixture view of the thermostat.\n"
                       "DETAILED DESCRIPTION\nFixture detail: the set point Tset is 21\u00b0 C.",
        "cpc": ["F24F11/30", "G05D23/1902"],  # main first, a repeated symbol once
        "publication_date": "2015-04-07", "filing_date": "2012-03-02",
        "priority_date": "2010-08-06",  # the provisional, earlier than the continuation's parent
        "grant_date": "2015-04-07", "family_id": "", "kind": "B2", "publication_number": "US09000913B2",
        "citations": ["US6201715", "US20110012345"],  # the non-patent citation is left out
        "source": "bulk-uspto-xml"}


def test_uspto_xml_v42_fields(fixtures_dir):
    (doc,) = [d for _, _, d in iter_uspto_grant_xml([fixtures_dir / "uspto_xml" / "ipg110823.xml"])]
    r = parse_uspto_grant_xml(doc)
    assert (r.number, r.kind, r.title) == ("US8002173", "B2", "Fixture flame detector")
    assert r.citations == ["US5900613"]  # v4.2 spells them references-cited/citation; the DE one is not US
    assert (r.cpc, r.priority_date, r.filing_date) == ([], "2007-03-02", "2008-02-20")  # no CPC before v4.4
    assert r.claims == "1. A fixture flame detector comprising an infrared sensor and an ultraviolet sensor."
    assert r.description == "BACKGROUND OF THE INVENTION\nFixture background of flame detectors."
    assert incomplete_reason(r) == ""


def test_google_page_multi_paragraph_abstract_and_application():
    from patlink.hydrate.google_patents_html import parse_google_patents_html

    page = """<html><body><article itemscope>
      <span itemprop="title">Fixture application title</span>
      <dd itemprop="publicationNumber">US20130210636A1</dd>
      <meta itemprop="kindCode" content="A1">
      <time itemprop="priorityDate" datetime="2011-02-14">2011-02-14</time>
      <time itemprop="filingDate" datetime="2012-02-13">2012-02-13</time>
      <time itemprop="publicationDate" datetime="2013-08-15">2013-08-15</time>
      <dd itemprop="events" itemscope repeat><time itemprop="date" datetime="2013-08-15">2013-08-15</time>
        <span itemprop="type">publication</span></dd>
      <section itemprop="abstract" itemscope><h2>Abstract</h2><div itemprop="content" html>
        <abstract lang="EN"><div class="abstract">Fixture abstract, first paragraph.</div>
        <div class="abstract">Fixture abstract, second paragraph with H<sub>2</sub>.</div></abstract></div></section>
      <section itemprop="description" itemscope><h2>Description</h2><div itemprop="content" html>
        <div class="description"><p>Fixture plain paragraph one.</p><p>Fixture plain paragraph two.</p></div>
      </div></section>
      <section itemprop="claims" itemscope><h2>Claims (<span itemprop="count">2</span>)</h2>
        <div itemprop="content" html><div class="claims">
          <div class="claim"><div id="CLM-00001" class="claim"><div class="claim-text">1. A fixture method:
            <div class="claim-text">measuring;</div><div class="claim-text">reporting.</div></div></div></div>
          <div class="claim-dependent"><div id="CLM-00002" class="claim"><div class="claim-text">2. The method of
            <claim-ref idref="CLM-00001">claim 1</claim-ref>.</div></div></div></div></div></section>
      <h2>ID=<span itemprop="familyId">48984567</span></h2>
    </article></body></html>"""
    r = parse_google_patents_html(page)
    assert r.to_dict() == {
        "number": "US20130210636", "title": "Fixture application title",
        "abstract": "Fixture abstract, first paragraph.\nFixture abstract, second paragraph with H2.",
        "claims": "1. A fixture method: measuring; reporting.\n2. The method of claim 1.",
        "description": "Fixture plain paragraph one.\nFixture plain paragraph two.", "cpc": [],
        "publication_date": "2013-08-15", "filing_date": "2012-02-13", "priority_date": "2011-02-14",
        "grant_date": "", "family_id": "48984567", "kind": "A1", "publication_number": "US20130210636A1",
        "citations": [], "source": "google-html"}


def test_patentsview_api_json_fields(local_server, monkeypatch):
    from patlink.hydrate.config import HttpConfig, PatentsViewConfig
    from patlink.hydrate.patentsview_api import PatentsViewSource

    answers = {
        "patent": {"error": False, "count": 2, "total_hits": 2, "patents": [
            {"patent_id": "D0654321", "patent_title": "Fixture housing", "patent_abstract": None,
             "patent_date": "2012-02-21", "patent_type": "design", "wipo_kind": "S1",
             "application": [{"filing_date": "2010-06-01"}], "cpc_current": []},
            {"patent_id": "9000913", "patent_title": " Fixture  thermostat ", "patent_date": "2015-04-07",
             "patent_abstract": "Fixture abstract, first paragraph.\nFixture abstract, second paragraph.",
             "patent_type": "utility", "wipo_kind": "B2", "application": [{"filing_date": "2012-03-02"}],
             "cpc_current": [{"cpc_sequence": 1, "cpc_group_id": "G05D23/1902"},
                             {"cpc_sequence": 0, "cpc_group_id": "F24F11/30"},
                             {"cpc_sequence": 2, "cpc_group_id": "F24F11/30"}]}]},
        "g_claim": {"error": False, "count": 3, "total_hits": 3, "g_claims": [
            {"patent_id": "9000913", "claim_sequence": 10, "claim_text": "11. The thermostat of claim 1."},
            {"patent_id": "9000913", "claim_sequence": 2, "claim_text": "3. The thermostat of claim 1."},
            {"patent_id": "D0654321", "claim_sequence": 0, "claim_text": "The ornamental design for a housing."}]},
        "g_detail_desc_text": {"error": False, "count": 1, "total_hits": 1, "g_detail_desc_texts": [
            {"patent_id": "9000913", "description_text": "BACKGROUND\n\nFixture  background."}]},
    }

    def route(method, path, headers, body):
        return 200, {"Content-Type": "application/json"}, json.dumps(answers[path.strip("/").split("/")[-1]]).encode()

    monkeypatch.setenv("PATENTSVIEW_API_KEY", "fixture-key")
    srv = local_server(route)
    src = PatentsViewSource(PatentsViewConfig(base_url=srv.url, min_interval_s=0.0), HttpConfig(max_retries=0))
    records, errors = src.fetch(["US9000913", "USD654321"])
    src.close()
    assert errors == {}
    assert records["US9000913"].to_dict() == {
        "number": "US9000913", "title": "Fixture thermostat",
        "abstract": "Fixture abstract, first paragraph.\nFixture abstract, second paragraph.",
        "claims": "3. The thermostat of claim 1.\n11. The thermostat of claim 1.",  # claim_sequence as numbers
        "description": "BACKGROUND\nFixture background.", "cpc": ["F24F11/30", "G05D23/1902"],
        "publication_date": "2015-04-07", "filing_date": "2012-03-02", "priority_date": "", "grant_date": "2015-04-07",
        "family_id": "", "kind": "B2", "publication_number": "9000913", "citations": [], "source": "patentsview"}
    d = records["USD654321"]  # a zero-padded design id is matched to its number
    assert (d.kind, d.abstract, d.claims, d.filing_date) == ("S1", "", "The ornamental design for a housing.",
                                                             "2010-06-01")
    assert incomplete_reason(d, src.text_fields) == ""
    assert src.text_fields == {"title", "abstract", "claims", "description"}


def test_bulk_source_text_fields(fixtures_dir):
    assert BulkSource(BulkConfig(fixtures_dir / "bulk_tsv")).text_fields == {"title", "abstract", "claims",
                                                                             "description"}
    assert BulkSource(BulkConfig(fixtures_dir / "uspto_xml")).text_fields == {"title", "abstract", "claims",
                                                                              "description"}
    assert BulkSource(BulkConfig(fixtures_dir / "bulk")).text_fields == {"title", "abstract", "claims",
                                                                         "description"}  # g_claims + grant XML
