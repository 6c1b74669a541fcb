"""Bulk files: PatentsView TSVs via DuckDB and USPTO grant XML (concatenated documents), on format fixtures."""

from __future__ import annotations

import zipfile

import pytest

from patlink.hydrate.bulk import BulkSource, find_bulk_files, iter_uspto_grant_xml, parse_uspto_grant_xml
from patlink.hydrate.config import BulkConfig


def test_find_bulk_files(fixtures_dir):
    files = find_bulk_files(fixtures_dir / "bulk")
    assert set(files) == {"g_patent", "g_patent_abstract", "g_cpc_current", "g_us_patent_citation", "g_claims",
                          "uspto_xml"}
    with pytest.raises(FileNotFoundError):
        find_bulk_files(fixtures_dir / "nope")


def test_tsv_and_xml_merged(fixtures_dir):
    src = BulkSource(BulkConfig(fixtures_dir / "bulk"))
    records, errors = src.fetch(["US10001292", "US7000308", "US6201715"])
    assert errors == {"US6201715": "not found in source"}
    r = records["US10001292"]
    # TSV values win; quoted TSV field with doubled quotes and an embedded newline
    assert r.title == 'Fixture wall module with a "quoted" title'
    assert r.abstract == "Fixture abstract: a wall module senses temperature and,\nover a second line, humidity."
    assert r.cpc == ["G05D23/1917", "F24F11/30"]  # cpc_sequence order
    assert r.citations == ["US6201715", "US7000308"]  # citation_sequence order, canonical
    assert r.claims.splitlines() == [
        "1. A fixture wall module comprising a temperature sensor.",
        "2. The fixture wall module of claim 1, wherein the sensor is a humidity sensor."]
    # fields only the XML has are filled from it
    assert r.description == "Fixture wall module description from the grant XML."
    assert r.filing_date == "2016-03-01" and r.grant_date == "2018-06-19" and r.kind == "B2"
    assert r.source == "bulk-patentsview+uspto-xml"


def test_uspto_xml_document_parsed(fixtures_dir):
    docs = list(iter_uspto_grant_xml([fixtures_dir / "bulk" / "ipg181030.xml"]))
    assert [(name, line) for name, line, _ in docs] == [("ipg181030.xml", 1), ("ipg181030.xml", 104)]
    r = parse_uspto_grant_xml(docs[0][2])
    assert r.number == "US7000308" and r.publication_number == "US07000308B2"
    assert r.title == "Fixture indicia reader with dual illumination"
    assert r.abstract == "Fixture abstract: an indicia reader has two illumination sources \u2014 red and white."
    assert r.claims.splitlines() == [
        "1. A fixture indicia reader comprising: a red light source; and a white light source.",
        "2. The reader of claim 1, further comprising an imager."]
    assert r.description.splitlines() == ["BACKGROUND", "Fixture background paragraph about bar code readers.",
                                          "DETAILED DESCRIPTION", "Fixture detailed paragraph with H2O."]
    assert r.cpc == ["G06K7/10851", "G06K7/1465"]
    assert r.citations == ["US5900613"]  # the JP citation is not a US patent
    assert (r.publication_date, r.filing_date, r.priority_date) == ("2006-02-14", "2003-01-15", "2002-01-18")


def test_unwanted_documents_are_skipped_unparsed(fixtures_dir):
    docs = list(iter_uspto_grant_xml([fixtures_dir / "bulk" / "ipg181030.xml"], wanted={"US10001292"}))
    assert len(docs) == 1 and b"<doc-number>10001292</doc-number>" in docs[0][2]


def test_zip_archive_and_malformed_document(fixtures_dir, tmp_path):
    xml = (fixtures_dir / "bulk" / "ipg181030.xml").read_bytes()
    bad = (b'<?xml version="1.0" encoding="UTF-8"?>\n<us-patent-application><doc-number>5555555</doc-number>'
           b"</us-patent-application>\n")
    bulk = tmp_path / "bulk"
    bulk.mkdir()
    with zipfile.ZipFile(bulk / "ipg181030.zip", "w") as zf:
        zf.writestr("ipg181030.xml", xml + bad)
    src = BulkSource(BulkConfig(bulk))
    records, errors = src.fetch(["US7000308", "US5555555"])
    assert set(records) == {"US7000308"} and records["US7000308"].source == "bulk-uspto-xml"
    assert errors == {"US5555555": "not found in source"}
    assert len(src.bad_documents) == 1 and "ipg181030.zip:ipg181030.xml line 137" in src.bad_documents[0]


def test_empty_bulk_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no PatentsView"):
        BulkSource(BulkConfig(tmp_path))
