"""Stage vpm: VPM pages (HTML table, list, paragraphs, headings; text; PDF; TSV) → (product, patent) pairs."""

from pathlib import Path

import pytest

from patlink.pipeline.vpm_page import clean_product_name, parse_vpm_bytes, parse_vpm_html, parse_vpm_line, parse_vpm_text

from .conftest import VPM_PDF_LINES, make_pdf

FIX = Path(__file__).parent / "fixtures"


def test_html_page_tables_lists_paragraphs_headings():
    page = parse_vpm_html((FIX / "vpm_page.html").read_text())
    pairs = {(p, n) for p, n, _ in page.links}
    assert pairs == {
        ("Acme Flow Sensor FS-100", "US7123456"), ("Acme Flow Sensor FS-100", "US8234567"),
        ("Acme Valve V2", "US9876543"),
        ("Acme Gas Detector GD-7", "US7654321"), ("Acme Gas Detector GD-7", "US10123456"),
        ("Acme Widget Housing", "USD654321"),
        ("Acme Thermostat T9", "US7123456"), ("Acme Thermostat T9", "US8234567"), ("Acme Thermostat T9", "USD654321"),
        ("Acme Controller C5", "US20130210636"), ("Acme Controller C6", "US9341718"),
        ("Acme Scanner S3", "US7777777"),
    }
    # script, navigation and footer numbers are not read; "1,000 hours" is rejected and reported
    assert "US9999999" not in page.patents and "US1111111" not in page.patents and "US2222222" not in page.patents
    kinds = {k for _, k, _ in page.anomalies}
    assert "short_number" in kinds and "no_patent_number" in kinds  # "Acme Empty" row
    assert page.products[0] == "Acme Flow Sensor FS-100"


def test_paragraph_line_from_issue():
    label, nums, bad = parse_vpm_line("Product: US 7,123,456; 8,234,567 B2; D654,321")
    assert label == "Product"
    assert [n.canonical for n in nums] == ["US7123456", "US8234567", "USD654321"]
    assert nums[2].is_design and bad == []


@pytest.mark.parametrize("raw,clean", [
    ("Acme Gas Detector GD-7 – U.S. Pat. Nos.", "Acme Gas Detector GD-7"),
    ("• HC900 Controller:", "HC900 Controller"),
    ("Widget X is protected by US Patents", "Widget X"),
    ("Sensor 5 Pat. No.", "Sensor 5"),
])
def test_clean_product_name(raw, clean):
    assert clean_product_name(raw) == clean


def test_text_with_heading_context():
    page = parse_vpm_text((FIX / "vpm_page.txt").read_text())
    assert {(p, n) for p, n, _ in page.links} == {
        ("Acme Flow Sensor FS-100", "US7123456"), ("Acme Flow Sensor FS-100", "US8234567"),
        ("Acme Gauge G1", "US9111111"), ("Acme Cover", "USD654321")}


def test_pdf_page():
    page = parse_vpm_bytes(make_pdf(VPM_PDF_LINES), name="vpm.pdf")
    assert {(p, n) for p, n, _ in page.links} == {
        ("Acme Pump P4", "US7000001"), ("Acme Pump P4", "US8000002"), ("Acme Lid", "USD600001")}


def test_tsv_goes_through_parse_vpm_table():
    tsv = "Product Name\tAssociated Patent(s)\nWidget A\t7327247: 11232703\nWidget A\t7327247\n"
    page = parse_vpm_bytes(tsv.encode(), name="vpm.tsv")
    assert {(p, n) for p, n, _ in page.links} == {("Widget A", "US7327247"), ("Widget A", "US11232703")}
    assert {k for _, k, _ in page.anomalies} >= {"colon_separator", "duplicate_product_row"}
