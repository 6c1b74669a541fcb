"""patlink.data.patentsview: the one PatentsView TSV reader, on hand-written format fixtures (not real data)."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from patlink.data.patentsview import PatentsViewTables, find_patentsview_tables, zipped_only

BULK = Path(__file__).resolve().parents[1] / "hydrate" / "fixtures" / "bulk"


def test_find_tables_in_a_folder(tmp_path, caplog):
    assert set(find_patentsview_tables(BULK)) == {"g_patent", "g_patent_abstract", "g_cpc_current",
                                                  "g_us_patent_citation", "g_claims"}
    (tmp_path / "g_claims_2019.tsv").write_text("patent_id\tclaim_text\n")
    with gzip.open(tmp_path / "g_claims_2020.tsv.gz", "wt") as f:
        f.write("patent_id\tclaim_text\n")
    (tmp_path / "g_patent.tsv.zip").write_bytes(b"PK")
    with caplog.at_level(logging.WARNING):
        found = find_patentsview_tables(tmp_path)
    assert found == {"g_claims": [tmp_path / "g_claims_2019.tsv", tmp_path / "g_claims_2020.tsv.gz"]}
    assert "g_patent found only as .tsv.zip" in caplog.text
    assert zipped_only(tmp_path, "g_patent") and not zipped_only(tmp_path, "g_claims")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        find_patentsview_tables(tmp_path / "nope")


def test_select_matches_office_ids_and_parses_quoted_fields():
    with PatentsViewTables.from_folder(BULK) as t:
        rows = t.select("g_patent", "patent_title, wipo_kind", ["10001292", "9999999", "123"], "ORDER BY pid")
        # a doubled quote inside a quoted field; the leading zero of 09999999 is dropped in pid
        assert rows == [("10001292", 'Fixture wall module with a "quoted" title', "B2"),
                        ("9999999", "Fixture unrelated patent", "B1")]
        (abstract,) = [r[1] for r in t.select("g_patent_abstract", "patent_abstract", ["10001292"])]
        assert abstract == "Fixture abstract: a wall module senses temperature and,\nover a second line, humidity."
        claims = t.select("g_claims", "claim_text", ["10001292"], "ORDER BY TRY_CAST(claim_sequence AS INTEGER)")
        assert [c[1][:2] for c in claims] == ["1.", "2."]


def test_several_files_are_one_table_matched_by_column_name(tmp_path):
    (tmp_path / "g_claims_2019.tsv").write_text("patent_id\tclaim_sequence\tclaim_text\n1\t0\tA.\n")
    (tmp_path / "g_claims_2020.tsv").write_text("claim_text\tpatent_id\tclaim_sequence\nB.\t2\t0\n")
    t = PatentsViewTables.from_folder(tmp_path)
    assert sorted(t.select("g_claims", "claim_text", ["1", "2"])) == [("1", "A."), ("2", "B.")]
    t.close()


def test_require_names_the_file_and_its_columns(tmp_path):
    bad = tmp_path / "it's here.tsv"         # a quote in the path is escaped in the SQL
    bad.write_text("id\ttext\n1\tx\n")
    t = PatentsViewTables({"g_patent_abstract": [bad]})
    assert t.columns("g_patent_abstract") == ["id", "text"]
    with pytest.raises(ValueError, match=r"it's here\.tsv: missing column\(s\) \['patent_id', 'patent_abstract'\]; "
                                         r"columns: id, text"):
        t.require("g_patent_abstract", ("patent_id", "patent_abstract"))
    with pytest.raises(KeyError, match="g_patent.*not given"):
        t.source("g_patent")
    with pytest.raises(ValueError, match="no file given"):
        PatentsViewTables({"g_patent": []})


def test_hydration_and_classification_read_the_same_file_alike(tmp_path):
    """Both consumers go through this reader: the same abstract (quotes, a line break) comes out of each."""
    from patlink.classify.data import load_file
    from patlink.hydrate.bulk import read_patentsview_tsvs

    (tmp_path / "g_patent_abstract.tsv").write_text(
        'patent_id\tpatent_abstract\n10000001\t"A ""smart"" node,\nin two lines."\n')
    (tmp_path / "g_cpc_current.tsv").write_text("patent_id\tcpc_subclass\tcpc_group\tcpc_sequence\n"
                                                "10000001\tH04W\tH04W 84/18\t0\n")
    labelled = load_file(tmp_path)
    recs = read_patentsview_tsvs(find_patentsview_tables(tmp_path), ["US10000001"])
    assert labelled.texts == [recs["US10000001"].abstract] == ['A "smart" node,\nin two lines.']
    assert labelled.labels == [["H04W"]] and recs["US10000001"].cpc == ["H04W84/18"]


def test_classify_folder_with_zipped_table_is_a_clear_error(tmp_path):
    from patlink.classify.data import load_file

    (tmp_path / "g_patent_abstract.tsv.zip").write_bytes(b"PK")
    (tmp_path / "g_cpc_current.tsv").write_text("patent_id\tcpc_subclass\n1\tA01B\n")
    with pytest.raises(FileNotFoundError, match="no g_patent_abstract.tsv .*must be unzipped first"):
        load_file(tmp_path)
