"""Real bundled patent texts written into the real bulk formats, hydrated through ``patlink hydrate --source bulk``.

The pap2pat pool is 1,513 published applications and no grant: the applications are hydrated from USPTO
application full text (``ipa*.xml``, the format they were published in) and, as a deviation that tests the TSV path
on real texts, from PatentsView-style tables; the grant paths run on the 25 real grants the bundles hold with
title, abstract and claims (``api-patents`` ∩ ``cpc-claims``).
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

import pytest

from .bulk_formats import (
    bundled_grants,
    compare_stored,
    expected_texts,
    pap2pat_patents,
    split_pool,
    write_application_xml,
    write_grant_xml,
    write_patentsview_tsvs,
    write_twin,
)

SUBSET = 40
#: pap2pat patents with texts that test the writers and readers: a U+2028 and a quote (US20230419153), a quote
#: (US20190265319), ``<`` (US20160244772), ``&`` (US20130210636), claims numbered ``1)`` (US20070071362).
SPECIAL = ["US20230419153", "US20190265319", "US20160244772", "US20130210636", "US20070071362"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def pap2pat() -> dict[str, dict]:
    return pap2pat_patents()


@pytest.fixture(scope="module")
def subset(pap2pat) -> dict[str, dict]:
    numbers = sorted(pap2pat)
    picked = list(SPECIAL)
    for n in numbers[::len(numbers) // SUBSET]:
        if len(picked) == SUBSET:
            break
        if n not in picked:
            picked.append(n)
    return {n: pap2pat[n] for n in picked}


@pytest.fixture(scope="module")
def grants() -> dict[str, dict]:
    return bundled_grants()


def hydrate(tmp_path, capsys, numbers, bulk_dir, name="store") -> tuple[dict, dict[str, dict]]:
    """Run ``patlink hydrate --numbers FILE --source bulk --bulk-dir DIR --db STORE --json``; returns the JSON
    summary and the stored records ``{number: PatentRecord.to_dict()}``."""
    from patlink.cli.main import main
    from patlink.hydrate.store import HydrationStore

    nums = tmp_path / f"{name}.txt"
    nums.write_text("".join(f"{n}\n" for n in numbers))
    db = tmp_path / f"{name}.duckdb"
    capsys.readouterr()
    rc = main(["hydrate", "--numbers", str(nums), "--source", "bulk", "--bulk-dir", str(bulk_dir),
               "--db", str(db), "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    with HydrationStore(db, read_only=True) as store:
        recs = {n: r.to_dict() for n, r in store.get(list(numbers)).items()}
    return json.loads(out.out), recs


# --------------------------------------------------------------------------------------------- the pool
def test_pap2pat_pool_is_applications_with_the_bundled_texts(pap2pat):
    from patlink.data import load_dataset

    grants, apps = split_pool(pap2pat)
    assert (len(grants), len(apps)) == (0, 1513)
    bundled = load_dataset("pap2pat").patents
    assert set(bundled) == set(pap2pat)
    for n, p in pap2pat.items():
        b = bundled[n]
        assert (p["title"], p["abstract"], p["description"]) == (b["title"], b["abstract"], b["description"])
        assert "\n".join(p["claims"]) == b["claims"]
        assert p["filing_date"] == b["date"] and p["publication_date"][:4] == n[2:6] and p["kind"] == "A1"


def test_writers_keep_grants_and_applications_apart(tmp_path, subset, grants):
    app, grant = next(iter(subset)), next(iter(grants))
    with pytest.raises(ValueError, match="grants only"):
        write_grant_xml({app: subset[app]}, tmp_path)
    with pytest.raises(ValueError, match="applications only"):
        write_application_xml({grant: grants[grant]}, tmp_path)
    with pytest.raises(ValueError, match="g_\\* tables hold grants only"):
        write_patentsview_tsvs({app: subset[app]}, tmp_path)
    assert not list(tmp_path.glob("ip*")) and not list(tmp_path.glob("g_*"))


# ------------------------------------------------------------------------------------ hydrated == bundled
@pytest.mark.parametrize("quoting", ["nonnumeric", "minimal", "all"])
def test_pap2pat_applications_from_patentsview_tables(tmp_path, capsys, subset, quoting):
    files = write_patentsview_tsvs(subset, tmp_path / "bulk", quoting=quoting, include_applications=True)
    assert set(files) == {"g_patent", "g_patent_abstract", "g_application", "g_claims", "g_detail_desc_text"}
    summary, recs = hydrate(tmp_path, capsys, subset, tmp_path / "bulk")
    assert (summary["requested"], summary["fetched"], summary["failed"]) == (SUBSET, SUBSET, 0)
    assert compare_stored(recs, subset, "tsv") == []
    for n, p in subset.items():
        r = recs[n]
        assert (r["kind"], r["publication_date"], r["filing_date"]) == ("A1", p["publication_date"], p["date"])
        assert r["source"] == "bulk-patentsview" and r["claims"].count("\n") == len(p["claims"]) - 1


@pytest.mark.parametrize("as_zip", [False, True])
def test_real_grants_from_grant_xml(tmp_path, capsys, grants, as_zip):
    files = write_grant_xml(grants, tmp_path / "bulk", as_zip=as_zip)
    assert files and all(f.name.startswith("ipg") and f.suffix == (".zip" if as_zip else ".xml") for f in files)
    summary, recs = hydrate(tmp_path, capsys, grants, tmp_path / "bulk")
    assert (summary["fetched"], summary["failed"]) == (len(grants), 0)
    assert compare_stored(recs, grants, "xml") == []
    for n, p in grants.items():
        r = recs[n]
        assert (r["kind"], r["grant_date"], r["publication_date"]) == ("B2", p["publication_date"],
                                                                       p["publication_date"])
        assert r["filing_date"] == p["filing_date"] and r["source"] == "bulk-uspto-xml"
        assert r["publication_number"] == f"US{int(n[2:]):08d}B2"


def test_real_grants_from_patentsview_tables(tmp_path, capsys, grants):
    write_patentsview_tsvs(grants, tmp_path / "bulk")
    summary, recs = hydrate(tmp_path, capsys, grants, tmp_path / "bulk")
    assert (summary["fetched"], summary["failed"]) == (len(grants), 0)
    assert compare_stored(recs, grants, "tsv") == []
    assert {(r["kind"], r["source"]) for r in recs.values()} == {("B2", "bulk-patentsview")}
    assert all(recs[n]["grant_date"] == p["publication_date"] for n, p in grants.items())


def test_whole_twin_folder(tmp_path, capsys, subset, grants):
    pool = {**subset, **grants}
    report = write_twin(pool, tmp_path / "bulk", as_zip=True)
    assert (report["grants"], report["applications"]) == (len(grants), SUBSET)
    assert report["ipa_files"] and report["ipg_files"] and set(report["tsv"]) >= {"g_patent", "g_claims"}
    summary, recs = hydrate(tmp_path, capsys, pool, tmp_path / "bulk")
    assert (summary["fetched"], summary["failed"]) == (len(pool), 0)
    # cpc-claims cut some grants' last claim (the bundle's, not the XML's): reported, no application is
    cut = {n for n, p in grants.items() if not p["claims"][-1].rstrip().endswith(".")}
    assert len(cut) == 4 and summary["incomplete_records"] == {
        n: "claims cut short (the last claim does not end with a full stop)" for n in cut}
    # grants: TSV values win, the grant XML is merged in; applications: from the application XML alone
    assert compare_stored(recs, grants, "tsv") == [] and compare_stored(recs, subset, "xml") == []
    assert {recs[n]["source"] for n in grants} == {"bulk-patentsview+uspto-xml"}
    assert {recs[n]["source"] for n in subset} == {"bulk-uspto-app-xml"}


def test_applications_in_the_tables_and_in_application_xml(tmp_path, capsys, subset):
    """The deviation kept as an option: applications also in the g_* tables; the table values win, the XML fills
    nothing the tables lack, and both give the bundled texts (the XML and TSV normalisations agree on pap2pat)."""
    report = write_twin(subset, tmp_path / "bulk", applications_in_tables=True)
    assert report["ipa_files"] and "g_claims" in report["tsv"]
    summary, recs = hydrate(tmp_path, capsys, subset, tmp_path / "bulk")
    assert (summary["fetched"], summary["failed"]) == (SUBSET, 0)
    assert compare_stored(recs, subset, "tsv") == [] == compare_stored(recs, subset, "xml")
    assert {r["source"] for r in recs.values()} == {"bulk-patentsview+uspto-app-xml"}
    assert all(expected_texts(p, "xml") == expected_texts(p, "tsv") for p in subset.values())


def test_an_altered_bulk_file_is_detected(tmp_path, capsys, subset, grants):
    bulk = tmp_path / "bulk"
    write_patentsview_tsvs(subset, bulk, include_applications=True)
    write_grant_xml(grants, bulk)
    app, grant, spaced = list(subset)[5], list(grants)[3], list(subset)[6]
    # the first claim of `app` loses its last word in g_claims; `grant`'s XML title changes; `spaced`'s abstract
    # gets extra spaces and an empty line (whitespace only: must NOT count as a difference)
    claim = subset[app]["claims"][0].replace('"', '""')
    claims_file = next(f for f in bulk.glob("g_claims_*.tsv") if claim in f.read_text())
    text = claims_file.read_text()
    assert text.count(claim) == 1
    claims_file.write_text(text.replace(claim, claim.rsplit(" ", 1)[0]))
    title = escape(" ".join(grants[grant]["title"].split()))
    xml_file = next(f for f in bulk.glob("ipg*.xml") if f">{title}</invention-title>" in f.read_text())
    xml_file.write_text(xml_file.read_text().replace(f">{title}</invention-title>",
                                                     f">{title} (altered)</invention-title>"))
    abstract_file = bulk / "g_patent_abstract.tsv"
    abstract = subset[spaced]["abstract"].replace('"', '""')
    abstract_file.write_text(abstract_file.read_text().replace(abstract, "  " + abstract.replace(" ", "   ", 3)
                                                               + "\n\n"))
    _, recs = hydrate(tmp_path, capsys, list(subset) + list(grants), bulk)
    assert compare_stored(recs, subset, "tsv") == [(app, "claims")]
    # the TSV has no grants here, so the XML alone answers for them
    assert compare_stored(recs, grants, "xml") == [(grant, "title")]
    assert recs[grant]["title"].endswith("(altered)")
    assert compare_stored({}, {app: subset[app]}, "tsv") == [(app, "missing")]


# ------------------------------------------------------------------------------------ USPTO application XML
@pytest.mark.parametrize("as_zip", [False, True])
def test_pap2pat_applications_from_application_xml(tmp_path, capsys, subset, as_zip):
    """The format pap2pat's patents were published in, and nothing else in the folder."""
    files = write_application_xml(subset, tmp_path / "bulk", as_zip=as_zip)
    assert files and all(f.name.startswith("ipa") and f.suffix == (".zip" if as_zip else ".xml") for f in files)
    assert sorted(p.name for p in (tmp_path / "bulk").iterdir()) == sorted(f.name for f in files)
    summary, recs = hydrate(tmp_path, capsys, subset, tmp_path / "bulk")
    assert (summary["requested"], summary["fetched"], summary["failed"], summary["incomplete"]) == (SUBSET, SUBSET,
                                                                                                    0, 0)
    assert compare_stored(recs, subset, "xml") == []
    for n, p in subset.items():
        r = recs[n]
        assert (r["kind"], r["publication_date"], r["filing_date"], r["grant_date"]) == (
            "A1", p["publication_date"], p["date"], "")
        assert r["source"] == "bulk-uspto-app-xml" and r["publication_number"] == f"{n}A1"
        assert r["claims"].count("\n") == len(p["claims"]) - 1


def test_an_altered_application_xml_is_detected(tmp_path, capsys, subset):
    """A claim cut in the XML (a word dropped, still well-formed) is caught by the comparison; a document cut
    short is reported as malformed and not stored; the others are unaffected."""
    bulk = tmp_path / "bulk"
    files = write_application_xml(subset, bulk)
    altered, cut = list(subset)[7], list(subset)[9]
    claim = escape(" ".join(subset[altered]["claims"][0].split("\n")[0].split()))
    path = next(f for f in files if claim in f.read_text())
    path.write_text(path.read_text().replace(claim, claim.rsplit(" ", 1)[0], 1))
    cut_file = next(f for f in files if f"<doc-number>{cut[2:]}</doc-number>" in f.read_text())
    text = cut_file.read_text()
    start = text.index(f"<doc-number>{cut[2:]}</doc-number>")
    end = text.find("<?xml", start)
    cut_file.write_text(text[: text.index("<claims", start) + 40] + (text[end:] if end >= 0 else ""))
    summary, recs = hydrate(tmp_path, capsys, subset, bulk)
    assert list(summary["failures"]) == [cut] and summary["malformed"] == 1
    assert "not well-formed XML" in summary["failures"][cut] and cut_file.name in summary["failures"][cut]
    assert compare_stored(recs, subset, "xml") == [(altered, "claims"), (cut, "missing")]


# ----------------------------------------------------------------------------------- gzip tables, memory
def test_gzip_tables_of_every_year_read_within_one_gb(tmp_path, pap2pat):
    """All 1,513 pap2pat patents as PatentsView gzip tables: 20 yearly ``g_claims_YYYY.tsv.gz`` files (as real
    PatentsView ships claims), read as one table with DuckDB capped at 1 GB. Deterministic on any machine: two
    files are read at a time (about 250 MB each); DuckDB's own default for a multi-file read with a 200 MB line limit
    gave every gzip file a 2.9 GiB buffer at once."""
    from patlink.data.patentsview import PatentsViewTables, find_patentsview_tables

    files = write_patentsview_tsvs(pap2pat, tmp_path / "bulk", compress=True, include_applications=True)
    assert len(files["g_claims"]) == 20 and all(f.suffix == ".gz" for f in files["g_claims"])
    ids = [n[2:] for n in sorted(pap2pat)]
    with PatentsViewTables(find_patentsview_tables(tmp_path / "bulk"), parallel_files=2) as tables:
        tables.con.execute("SET memory_limit='1GB'")
        rows = tables.select("g_claims", "claim_text", ids, "ORDER BY pid, TRY_CAST(claim_sequence AS INTEGER)")
        descriptions = dict(tables.select("g_detail_desc_text", "description_text", ids))
    assert len(rows) == sum(len(p["claims"]) for p in pap2pat.values())
    first = {}
    for pid, text in rows:
        first.setdefault(pid, text)
    assert all(first[n[2:]] == pap2pat[n]["claims"][0] for n in pap2pat if pap2pat[n]["claims"])
    assert descriptions == {n[2:]: p["description"] for n, p in pap2pat.items() if p["description"].strip()}


def _long_description_table(folder, length: int):
    import gzip

    folder.mkdir()
    line = 'A long "quoted" description line.\n'
    text = (line * (length // len(line) + 1))[:length]
    with gzip.open(folder / "g_detail_desc_text_2001.tsv.gz", "wt", encoding="utf-8", newline="") as f:
        f.write("patent_id\tdescription_text\tdescription_length\n1\tshort\t5\n")
        f.write(f'7000001\t"{text.replace(chr(34), chr(34) * 2)}"\t{len(text)}\n2\tafter\t5\n')
    with gzip.open(folder / "g_detail_desc_text_2002.tsv.gz", "wt", encoding="utf-8", newline="") as f:
        f.write("patent_id\tdescription_text\tdescription_length\n3\tother\t5\n")
    return text


def test_a_row_longer_than_duckdbs_default_limit_is_read(tmp_path):
    """A 5 MB description (DuckDB's own max_line_size is 2 MB; real descriptions run to 20 million characters)."""
    from patlink.data.patentsview import MAX_LINE_BYTES, PatentsViewTables, find_patentsview_tables

    text = _long_description_table(tmp_path / "bulk", 5_000_000)
    with PatentsViewTables(find_patentsview_tables(tmp_path / "bulk")) as tables:
        assert tables.max_line_bytes == MAX_LINE_BYTES == 64 * 2**20
        rows = dict(tables.select("g_detail_desc_text", "description_text", ["7000001", "2", "3"]))
    assert rows == {"7000001": text, "2": "after", "3": "other"}


def test_a_row_over_the_limit_is_a_clear_error_naming_the_file(tmp_path):
    from patlink.data.patentsview import (
        MalformedTableError,
        PatentsViewTables,
        RowTooLongError,
        find_patentsview_tables,
    )

    text = _long_description_table(tmp_path / "bulk", 3_000_000)
    files = find_patentsview_tables(tmp_path / "bulk")
    for parallel in (1, 2):
        with PatentsViewTables(files, max_line_bytes=2**20, parallel_files=parallel) as tables, \
                pytest.raises(RowTooLongError) as err:
            tables.select("g_detail_desc_text", "description_text", ["1"])
        e = err.value
        assert isinstance(e, MalformedTableError) and e.path == files["g_detail_desc_text"][0] and e.limit == 2**20
        written = len(f'7000001\t"{text.replace(chr(34), chr(34) * 2)}"\t{len(text)}\n')  # the row in the file
        assert e.size == pytest.approx(written, abs=10) and len(str(e)) < 300
        assert e.line == 3 and str(e) == (f"{e.path} line 3: a row of {e.size:,} bytes is longer than the reader's "
                                          "limit of 1,048,576 bytes; read it with a larger "
                                          "PatentsViewTables(max_line_bytes=...)")
    with PatentsViewTables(files, max_line_bytes=4 * 2**20) as tables:
        assert tables.select("g_detail_desc_text", "description_text", ["7000001"]) == [("7000001", text)]
    with pytest.raises(ValueError, match="at least 1"):
        PatentsViewTables(files, parallel_files=0)


def test_gzip_and_plain_tables_hold_the_same_rows(tmp_path, subset):
    """What the gzip writer writes is the plain file, compressed (one file at a time reads fine)."""
    import gzip

    plain = write_patentsview_tsvs(subset, tmp_path / "plain", include_applications=True)
    gz = write_patentsview_tsvs(subset, tmp_path / "gz", compress=True, include_applications=True)
    assert sorted(f.name + ".gz" for fs in plain.values() for f in fs) == sorted(f.name for fs in gz.values()
                                                                                 for f in fs)
    for key, fs in plain.items():
        for f, g in zip(fs, gz[key]):
            assert gzip.decompress(g.read_bytes()) == f.read_bytes()
