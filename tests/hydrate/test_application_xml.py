"""USPTO published-application full text (``ipaYYMMDD.xml``, ``<us-patent-application>``, red-book v4.4) in bulk
hydration: the exact field mapping of a real-format document (invented texts), the number pre-filter on 11-digit
numbers, damaged documents, republications, the incomplete-record rule for applications, and named entities,
processing instructions and comments in USPTO XML text."""

from __future__ import annotations

import zipfile

import pytest

from patlink.hydrate.bulk import (
    BulkSource,
    MalformedDocumentError,
    find_bulk_files,
    iter_uspto_xml,
    parse_uspto_application_xml,
    parse_uspto_grant_xml,
    parse_uspto_xml,
)
from patlink.hydrate.config import BulkConfig, HydrateConfig
from patlink.hydrate.records import PatentRecord, entity_text, flat_text
from patlink.hydrate.runner import hydrate, incomplete_reason, run_text_fields
from patlink.hydrate.store import HydrationStore

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE us-patent-application SYSTEM "us-patent-application-v44-2014-04-03.dtd" [ ]>\n')


def application(number: str = "20150099999", kind: str = "A1", date: str = "20150409",
                title: str = "Fixture thermostat with occupancy learning", claims: str | None = None) -> str:
    """One ``<us-patent-application>`` document as USPTO writes them (v4.4; invented texts)."""
    if claims is None:
        claims = """<claims id="claims">
<claim id="CLM-00001" num="00001">
<claim-text>1. A fixture thermostat comprising:
<claim-text>an occupancy sensor set at 5&deg; off vertical; and</claim-text>
<claim-text>a controller that learns a schedule.</claim-text>
</claim-text>
</claim>
<claim id="CLM-00002" num="00002">
<claim-text>2. The thermostat of <claim-ref idref="CLM-00001">claim 1</claim-ref>, wherein the schedule has
<i>four</i> periods.</claim-text>
</claim>
</claims>"""
    return HEAD + f"""<us-patent-application lang="EN" dtd-version="v4.4 2014-04-03" file="US{number}{kind}-{date}.XML" status="PRODUCTION" id="us-patent-application" country="US" date-produced="20150325" date-publ="{date}">
<us-bibliographic-data-application lang="EN" country="US">
<publication-reference>
<document-id>
<country>US</country>
<doc-number>{number}</doc-number>
<kind>{kind}</kind>
<date>{date}</date>
</document-id>
</publication-reference>
<application-reference appl-type="utility">
<document-id>
<country>US</country>
<doc-number>14047123</doc-number>
<date>20131007</date>
</document-id>
</application-reference>
<us-application-series-code>14</us-application-series-code>
<priority-claims>
<priority-claim sequence="01" kind="national">
<country>DE</country>
<doc-number>102012012345</doc-number>
<date>20121011</date>
</priority-claim>
</priority-claims>
<classifications-ipcr>
<classification-ipcr>
<ipc-version-indicator><date>20060101</date></ipc-version-indicator>
<classification-level>A</classification-level>
<section>F</section>
<class>24</class>
<subclass>F</subclass>
<main-group>11</main-group>
<subgroup>00</subgroup>
<symbol-position>F</symbol-position>
<classification-value>I</classification-value>
<action-date><date>20150409</date></action-date>
<generating-office><country>US</country></generating-office>
<classification-status>B</classification-status>
<classification-data-source>H</classification-data-source>
</classification-ipcr>
</classifications-ipcr>
<classifications-cpc>
<main-cpc>
<classification-cpc>
<cpc-version-indicator><date>20130101</date></cpc-version-indicator>
<section>F</section>
<class>24</class>
<subclass>F</subclass>
<main-group>11</main-group>
<subgroup>0034</subgroup>
<symbol-position>F</symbol-position>
<classification-value>I</classification-value>
<action-date><date>20150409</date></action-date>
<generating-office><country>US</country></generating-office>
<classification-status>B</classification-status>
<classification-data-source>H</classification-data-source>
<scheme-origination-code>C</scheme-origination-code>
</classification-cpc>
</main-cpc>
<further-cpc>
<classification-cpc>
<cpc-version-indicator><date>20130101</date></cpc-version-indicator>
<section>G</section>
<class>05</class>
<subclass>B</subclass>
<main-group>15</main-group>
<subgroup>02</subgroup>
<symbol-position>L</symbol-position>
<classification-value>I</classification-value>
<action-date><date>20150409</date></action-date>
<generating-office><country>US</country></generating-office>
<classification-status>B</classification-status>
<classification-data-source>H</classification-data-source>
<scheme-origination-code>C</scheme-origination-code>
</classification-cpc>
</further-cpc>
</classifications-cpc>
<invention-title id="d2e61">{title}</invention-title>
<us-related-documents>
<us-provisional-application>
<document-id>
<country>US</country>
<doc-number>61710123</doc-number>
<kind>00</kind>
<date>20121005</date>
</document-id>
</us-provisional-application>
</us-related-documents>
<us-parties>
<us-applicants>
<us-applicant sequence="00" app-type="applicant" designation="us-only" applicant-authority-category="assignee">
<addressbook>
<orgname>Fixture Applicant Inc.</orgname>
<address>
<city>Fixture City</city>
<state>MN</state>
<country>US</country>
</address>
</addressbook>
<residence>
<country>US</country>
</residence>
</us-applicant>
</us-applicants>
<inventors>
<inventor sequence="00" designation="us-only">
<addressbook>
<last-name>Fixture</last-name>
<first-name>Inventor</first-name>
<address>
<city>Fixture City</city>
<state>MN</state>
<country>US</country>
</address>
</addressbook>
</inventor>
</inventors>
</us-parties>
</us-bibliographic-data-application>
<abstract id="abstract">
<p id="p-0001" num="0000">Fixture abstract: a thermostat learns when a room is &lsquo;occupied&rsquo; &#x2014; and when not.</p>
</abstract>
<drawings id="DRAWINGS">
<figure id="Fig-EMI-D00000" num="00000">
<img id="EMI-D00000" he="160.10mm" wi="195.83mm" file="US{number}{kind}-{date}-D00000.TIF" alt="embedded image" img-content="drawing" img-format="tif"/>
</figure>
</drawings>
<description id="description">
<?cross-reference-to-related-applications description="Cross Reference To Related Applications" end="lead"?>
<heading id="h-0001" level="1">CROSS-REFERENCE TO RELATED APPLICATIONS</heading>
<p id="p-0002" num="0001">This application claims the benefit of fixture provisional application 61/710,123.</p>
<?cross-reference-to-related-applications description="Cross Reference To Related Applications" end="tail"?>
<?summary-of-invention description="Summary of Invention" end="lead"?>
<heading id="h-0002" level="1">BACKGROUND</heading>
<p id="p-0003" num="0002">Fixture background: the set point follows
<?in-line-formulae description="In-line Formulae" end="lead"?><i>T</i>=<i>T</i><sub>0</sub>+&#x394;<?in-line-formulae description="In-line Formulae" end="tail"?>
<!-- an editorial comment --> over the day.</p>
<?summary-of-invention description="Summary of Invention" end="tail"?>
<?brief-description-of-drawings description="Brief Description of Drawings" end="lead"?>
<description-of-drawings>
<heading id="h-0003" level="1">BRIEF DESCRIPTION OF THE DRAWINGS</heading>
<p id="p-0004" num="0003"><figref idref="DRAWINGS">FIG. 1</figref> is a fixture view of the thermostat.</p>
</description-of-drawings>
<?brief-description-of-drawings description="Brief Description of Drawings" end="tail"?>
<?detailed-description description="Detailed Description" end="lead"?>
<heading id="h-0004" level="1">DETAILED DESCRIPTION</heading>
<p id="p-0005" num="0004">Fixture detail with H<sub>2</sub>O and a &frac12; step.</p>
<?detailed-description description="Detailed Description" end="tail"?>
</description>
{claims}
</us-patent-application>
"""


EXPECTED = {
    "number": "US20150099999",
    "title": "Fixture thermostat with occupancy learning",
    "abstract": "Fixture abstract: a thermostat learns when a room is \u2018occupied\u2019 \u2014 and when not.",
    "claims": ("1. A fixture thermostat comprising: an occupancy sensor set at 5\u00b0 off vertical; and a controller "
               "that learns a schedule.\n"
               "2. The thermostat of claim 1, wherein the schedule has four periods."),
    "description": ("CROSS-REFERENCE TO RELATED APPLICATIONS\n"
                    "This application claims the benefit of fixture provisional application 61/710,123.\n"
                    "BACKGROUND\n"
                    "Fixture background: the set point follows T=T0+\u0394 over the day.\n"
                    "BRIEF DESCRIPTION OF THE DRAWINGS\n"
                    "FIG. 1 is a fixture view of the thermostat.\n"
                    "DETAILED DESCRIPTION\n"
                    "Fixture detail with H2O and a \u00bd step."),
    "cpc": ["F24F11/0034", "G05B15/02"],
    "publication_date": "2015-04-09",
    "filing_date": "2013-10-07",
    "priority_date": "2012-10-05",  # the US provisional precedes the DE priority claim
    "grant_date": "",
    "family_id": "",
    "kind": "A1",
    "publication_number": "US20150099999A1",
    "citations": [],
    "source": "bulk-uspto-app-xml",
}


def _folder(tmp_path, files: dict[str, str | bytes], name: str = "bulk"):
    folder = tmp_path / name
    folder.mkdir()
    for fname, body in files.items():
        data = body.encode("utf-8") if isinstance(body, str) else body
        if fname.endswith(".zip"):
            with zipfile.ZipFile(folder / fname, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(fname[:-4] + ".xml", data)
        else:
            (folder / fname).write_bytes(data)
    return folder


def _grant(fixtures_dir) -> bytes:
    """US7000308 (B2), the first document of the grant fixture's weekly file."""
    data = (fixtures_dir / "bulk" / "ipg181030.xml").read_bytes()
    return b"<?xml" + data.split(b"<?xml")[1]


# ---------------------------------------------------------------------------------------------- the parser
def test_application_document_fields():
    doc = application().encode()
    assert parse_uspto_application_xml(doc).to_dict() == EXPECTED
    assert parse_uspto_xml(doc).to_dict() == EXPECTED


def test_each_parser_takes_its_own_kind(fixtures_dir):
    app, grant = application().encode(), _grant(fixtures_dir)
    with pytest.raises(ValueError, match="<us-patent-application> is not a us-patent-grant document"):
        parse_uspto_grant_xml(app)
    with pytest.raises(ValueError, match="<us-patent-grant> is not a us-patent-application document"):
        parse_uspto_application_xml(grant)
    g = parse_uspto_xml(grant)
    assert (g.number, g.kind, g.source, g.grant_date) == ("US7000308", "B2", "bulk-uspto-xml", "2006-02-14")
    # the 2001-2004 application format is another schema: refused, not half read
    old = (b'<?xml version="1.0" encoding="UTF-8"?>\n<patent-application-publication><subdoc-bibliographic-'
           b"information><document-id><doc-number>20010000001</doc-number></document-id></subdoc-bibliographic-"
           b"information></patent-application-publication>\n")
    with pytest.raises(ValueError, match="<patent-application-publication> is not a us-patent-grant or "
                                         "us-patent-application document"):
        parse_uspto_xml(old)
    with pytest.raises(ValueError, match="application document without publication-reference/doc-number"):
        parse_uspto_xml(application(number=" ").encode())


def test_a_cut_application_document_is_an_error_not_a_record():
    doc = application().encode()
    cut = doc[: doc.index(b"a controller")]
    with pytest.raises(MalformedDocumentError, match="not well-formed XML") as err:
        parse_uspto_application_xml(cut)
    assert err.value.line > 150


# ------------------------------------------------------------------------------------------ files, filter
def test_ipa_files_are_found_next_to_ipg_files(tmp_path, fixtures_dir):
    folder = _folder(tmp_path, {"ipa150409.xml": application(), "ipa150416.zip": application("20150100001"),
                                "ipg181030.xml": _grant(fixtures_dir), "notes.xml": "<x/>", "ipa.txt": ""})
    found = find_bulk_files(folder)
    assert found == {"uspto_xml": [folder / "ipg181030.xml"],
                     "uspto_app_xml": [folder / "ipa150409.xml", folder / "ipa150416.zip"]}
    src = BulkSource(BulkConfig(folder))
    assert src.text_fields == {"title", "abstract", "claims", "description"}
    cfg = HydrateConfig(source="bulk", bulk=BulkConfig(_folder(tmp_path, {"ipa150409.xml": application()}, "b2")))
    assert run_text_fields(cfg) == {"title", "abstract", "claims", "description"}


def test_eleven_digit_numbers_are_prefiltered(tmp_path):
    body = application("20150099999") + application("20150100001") + application("20150100002")
    path = _folder(tmp_path, {"ipa150409.xml": body}) / "ipa150409.xml"
    docs = list(iter_uspto_xml([path], wanted={"US20150100001", "US7000308"}))
    second = application("20150099999").count("\n") + 1  # the line of the second document's <?xml
    assert [(name, line) for name, line, _ in docs] == [("ipa150409.xml", second)]
    assert docs[0][2].startswith(b"<?xml") and b"<doc-number>20150100001</doc-number>" in docs[0][2]
    assert len(list(iter_uspto_xml([path]))) == 3


def test_bulk_source_reads_ipa_for_applications_and_ipg_for_grants(tmp_path, fixtures_dir, monkeypatch):
    from patlink.hydrate import bulk

    folder = _folder(tmp_path, {"ipa150409.zip": application() + application("20150100001", title="Other"),
                                "ipg181030.xml": _grant(fixtures_dir)})
    read: list[list[str]] = []
    real = bulk.iter_uspto_xml

    def spy(paths, wanted=None, problems=None):
        read.append(sorted(p.name for p in paths))
        return real(paths, wanted, problems)

    monkeypatch.setattr(bulk, "iter_uspto_xml", spy)
    src = BulkSource(BulkConfig(folder))
    records, errors = src.fetch(["US20150099999", "US7000308", "US20159999999", "US1234567"])
    assert read == [["ipg181030.xml"], ["ipa150409.zip"]]
    assert records["US20150099999"].to_dict() == EXPECTED
    assert records["US7000308"].source == "bulk-uspto-xml"
    assert errors == {"US20159999999": "not found in source", "US1234567": "not found in source"}
    read.clear()
    records, _ = src.fetch(["US7000308"])  # grants only: the application files are not opened
    assert read == [["ipg181030.xml"]] and set(records) == {"US7000308"}
    read.clear()
    records, _ = src.fetch(["US20150100001"])
    assert read == [["ipa150409.zip"]] and records["US20150100001"].title == "Other"


def test_a_republication_replaces_the_first_publication(tmp_path):
    """``A9`` (corrected) and ``A2`` (republished) publications keep the number of the ``A1``: the later is kept,
    whatever the order of the files."""
    first = application(kind="A1", date="20150409", title="First title")
    corrected = application(kind="A9", date="20150716", title="Corrected title")
    for files in ({"ipa150409.xml": first, "ipa150716.xml": corrected},
                  {"ipa150409.xml": corrected, "ipa150716.xml": first}):
        folder = _folder(tmp_path, files, name=f"b{len(list(tmp_path.iterdir()))}")
        records, _ = BulkSource(BulkConfig(folder)).fetch(["US20150099999"])
        r = records["US20150099999"]
        assert (r.kind, r.title, r.publication_date, r.publication_number) == (
            "A9", "Corrected title", "2015-07-16", "US20150099999A9")


def test_tsv_values_win_and_the_application_xml_fills_the_rest(tmp_path):
    folder = _folder(tmp_path, {"ipa150409.xml": application()})
    (folder / "g_patent.tsv").write_text("patent_id\tpatent_type\tpatent_date\tpatent_title\twipo_kind\n"
                                         "20150099999\tutility\t2015-04-09\tTitle from the table\tA1\n")
    records, _ = BulkSource(BulkConfig(folder)).fetch(["US20150099999"])
    r = records["US20150099999"]
    assert r.title == "Title from the table" and r.claims == EXPECTED["claims"]
    assert r.source == "bulk-patentsview+uspto-app-xml" and r.grant_date == "2015-04-09"  # the table's patent_date


# --------------------------------------------------------------------------------- damage and completeness
def test_a_damaged_application_document_is_reported_and_a_complete_file_fixes_it(tmp_path):
    good, other = application(), application("20150100001")
    cut = good[: good.index("a controller")]
    folder = _folder(tmp_path, {"ipa150409.xml": other + cut})
    db = tmp_path / "h.duckdb"
    config = HydrateConfig(source="bulk", db_path=db, bulk=BulkConfig(folder))
    summary = hydrate(["US20150099999", "US20150100001"], config)
    start = other.count("\n") + 1
    assert summary.fetched == ["US20150100001"] and list(summary.failed) == ["US20150099999"]
    msg = summary.failed["US20150099999"]
    assert msg.startswith(f"ipa150409.xml line {start}: not well-formed XML: ") and msg.endswith(
        "; the document is skipped, not stored")
    assert summary.malformed == [msg]
    with HydrationStore(db, read_only=True) as store:
        assert set(store.get(["US20150099999", "US20150100001"])) == {"US20150100001"}
    (folder / "ipa150409.xml").write_text(other + good)
    again = hydrate(["US20150099999", "US20150100001"], config)
    assert again.fetched == ["US20150099999"] and again.cached == ["US20150100001"] and not again.failed
    with HydrationStore(db, read_only=True) as store:
        assert store.get(["US20150099999"])["US20150099999"].to_dict() == EXPECTED


def test_incomplete_reason_for_applications():
    def rec(**kw):
        base = {"number": "US20150099999", "title": "T", "abstract": "A", "claims": "1. A thing.", "kind": "A1",
                "publication_date": "2015-04-09", "source": "bulk-uspto-app-xml"}
        return PatentRecord(**{**base, **kw})

    assert incomplete_reason(rec()) == ""
    assert incomplete_reason(rec(claims="")) == "a published application (A1) without claims"
    assert incomplete_reason(rec(claims="", kind="A9", source="bigquery")) == (
        "a published application (A9) without claims")
    assert incomplete_reason(rec(claims=""), can_give={"title", "abstract"}) == ""  # the run cannot give claims
    assert incomplete_reason(rec(claims="", source="bulk-patentsview")) == ""  # TSVs without g_claims give none
    # parsed strictly from the start: a claim without a final full stop is the document's, not a cut
    assert incomplete_reason(rec(claims="1. A thing.\n2. The thing of claim 1 wherein x")) == ""
    assert incomplete_reason(rec(title="", abstract="", claims="")) == "no title, abstract, claims or description"


def test_an_application_stored_without_claims_is_refetched_from_application_xml(tmp_path):
    folder = _folder(tmp_path, {"ipa150409.xml": application()})
    db = tmp_path / "h.duckdb"
    with HydrationStore(db) as store:
        store.write_batch([PatentRecord(**{**EXPECTED, "claims": ""})], {}, source="bulk")
    summary = hydrate(["US20150099999"], HydrateConfig(source="bulk", db_path=db, bulk=BulkConfig(folder)))
    assert summary.refetched_incomplete == ["US20150099999"] and not summary.incomplete
    with HydrationStore(db, read_only=True) as store:
        assert store.get(["US20150099999"])["US20150099999"].claims == EXPECTED["claims"]


# --------------------------------------------------------------------------- entities, PIs and comments
def test_named_entities_processing_instructions_and_comments_in_grant_and_application_xml(fixtures_dir):
    from lxml import etree

    assert [entity_text(e) for e in ("&lsquo;", "&rsquo;", "&ldquo;", "&mdash;", "&deg;", "&plusmn;", "&times;",
                                      "&micro;", "&frac12;", "&alpha;", "&le;", "&nbsp;", "&amp;")] == \
        ["\u2018", "\u2019", "\u201c", "\u2014", "\u00b0", "\u00b1", "\u00d7", "\u00b5", "\u00bd", "\u03b1", "\u2264",
         "\u00a0", "&"]
    assert entity_text("&notanentity;") == "&notanentity;"  # unknown: kept as written, not dropped
    grant = _grant(fixtures_dir).replace(b"two illumination sources", b"two &ldquo;illumination&rdquo; sources "
                                         b"<?in-line-formulae description=\"In-line Formulae\" end=\"lead\"?>"
                                         b"<!-- c --> &notanentity;")
    r = parse_uspto_grant_xml(grant)
    assert r.abstract == ("Fixture abstract: an indicia reader has two \u201cillumination\u201d sources "
                          "&notanentity; \u2014 red and white.")
    # the parser leaves undeclared named references in the tree (the DTD is not loaded); flat_text maps them
    parser = etree.XMLParser(recover=False, resolve_entities=False, load_dtd=False, no_network=True)
    el = etree.fromstring(HEAD.encode() + b"<p>a&lsquo;b&rsquo; &amp;&#x2018;<?pi x?>c<!--d-->e</p>", parser)
    assert flat_text(el) == "a\u2018b\u2019 &\u2018ce"
