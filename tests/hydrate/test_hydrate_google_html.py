"""Google Patents page parser on the fixture page, saved-folder and fetched modes (local server)."""

from __future__ import annotations

import pytest

from patlink.hydrate.config import GooglePatentsConfig, HttpConfig
from patlink.hydrate.google_patents_html import GooglePatentsSource, index_html_dir, parse_google_patents_html


def test_parse_fixture_page(fixtures_dir):
    r = parse_google_patents_html((fixtures_dir / "google_html" / "US10001292B2.html").read_bytes())
    assert r.number == "US10001292" and r.publication_number == "US10001292B2" and r.kind == "B2"
    assert r.title == "Fixture wall module page"
    assert r.abstract == "Fixture abstract: a wall module senses temperature and H2O vapour."
    assert r.claims.splitlines() == [
        "1. A fixture wall module comprising: a temperature sensor; and a humidity sensor.",
        "2. The fixture wall module of claim 1, wherein the sensors share a housing."]
    assert r.description.splitlines() == [
        "BACKGROUND", "Fixture background of wall modules.", "DETAILED DESCRIPTION",
        "Fixture detailed description, spread over two source lines."]
    assert r.cpc == ["G05D23/1917", "F24F11/30"]  # leaves only, FirstCode first
    assert (r.priority_date, r.filing_date, r.publication_date, r.grant_date) == (
        "2015-03-02", "2016-03-01", "2018-06-19", "2018-06-19")
    assert r.family_id == "56851234" and r.source == "google-html"


def test_title_fallbacks_and_non_patent_page():
    page = ('<html><head><meta name="DC.title" content="Fixture DC title"></head><body>'
            '<dd itemprop="publicationNumber">US-7852519-B2</dd>'
            '<section itemprop="abstract"><div itemprop="content">Fixture plain abstract</div></section></body></html>')
    r = parse_google_patents_html(page)
    assert (r.number, r.title, r.abstract) == ("US7852519", "Fixture DC title", "Fixture plain abstract")
    with pytest.raises(ValueError, match="not a Google Patents page"):
        parse_google_patents_html("<html><body><p>hello</p></body></html>")


def test_saved_folder_source(fixtures_dir, tmp_path):
    (tmp_path / "notes.html").write_text("<html><body>no number here</body></html>")
    (tmp_path / "weird name.html").write_bytes((fixtures_dir / "google_html" / "US10001292B2.html").read_bytes())
    assert index_html_dir(tmp_path) == {"US10001292": tmp_path / "weird name.html"}  # found via its content
    src = GooglePatentsSource(GooglePatentsConfig(html_dir=fixtures_dir / "google_html"))
    records, errors = src.fetch(["US10001292", "US7000308"])
    assert set(records) == {"US10001292"} and records["US10001292"].family_id == "56851234"
    assert errors["US7000308"].startswith("not found in source")


def test_fetched_pages_from_local_server(fixtures_dir, local_server):
    page = (fixtures_dir / "google_html" / "US10001292B2.html").read_bytes()

    def route(method, path, headers, body):
        if path == "/patent/US10001292/en":
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page
        if path == "/patent/US7000308/en":
            return 200, {"Content-Type": "text/html"}, b"<html><body>captcha</body></html>"
        return 404, {}, b"not found"

    srv = local_server(route)
    src = GooglePatentsSource(GooglePatentsConfig(base_url=srv.url, min_interval_s=0.0),
                              HttpConfig(timeout_s=5, max_retries=0))
    records, errors = src.fetch(["US10001292", "US7000308", "US6201715"])
    src.close()
    assert records["US10001292"].title == "Fixture wall module page"
    assert errors["US6201715"] == "not found in source"
    assert "ValueError" in errors["US7000308"]  # a page without a publication's text is a failure, not a record
