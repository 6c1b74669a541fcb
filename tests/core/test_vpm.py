"""The raw VPM parser on a fixture table with every known anomaly, and on the real bundled table."""

from patlink.data.vpm import normalize_product_name, parse_vpm_table

FIXTURE = (
    "Product Name\tAssociated Patent(s)\tTable Number\r\n"
    "Scanner A\t7327247: 11232703; 7551096\t1\r\n"            # line 2: colon separator
    "Scanner B\t9341718\xa0 8664951\t1\r\n"                   # line 3: nbsp separator
    "Scanner C\t7740176 7997489; 7740176\t2\r\n"              # line 4: space separator + repeated number
    "Scanner A\t8000000\t3\r\n"                                # line 5: duplicate product row (merged)
    "  Printer\xa0 D\t\t1\r\n"                                 # line 6: whitespace in name + empty cell
    "\t1234567\t1\r\n"                                         # line 7: empty product name
    "Printer E\t879099; abc\t1\r\n"                            # line 8: short number + invalid token
)


def test_fixture_links_and_anomalies():
    t = parse_vpm_table(FIXTURE)
    assert t.n_rows == 7
    assert t.products == ["Scanner A", "Scanner B", "Scanner C", "Printer D", "Printer E"]
    assert ("Scanner A", "US7327247") in t.links and ("Scanner A", "US11232703") in t.links
    assert ("Scanner A", "US8000000") in t.links  # merged from line 5
    assert {p for i, p in t.links if i == "Scanner B"} == {"US9341718", "US8664951"}
    assert {p for i, p in t.links if i == "Scanner C"} == {"US7740176", "US7997489"}
    assert len(t.links) == len(set(t.links)) == 9
    kinds = {(a.line, a.kind) for a in t.anomalies}
    assert {(2, "colon_separator"), (3, "nbsp_separator"), (4, "space_separator"),
            (4, "duplicate_number_in_row"), (5, "duplicate_product_row"), (6, "whitespace_in_name"),
            (6, "empty_patent_cell"), (7, "empty_product_name"), (8, "short_number"),
            (8, "invalid_number")} <= kinds
    assert t.tables["Scanner A"] == ["1", "3"]


def test_normalize_product_name():
    assert normalize_product_name("  EC350 and\xa0 MiWi350\r\nX ") == "EC350 and MiWi350 X"


def test_real_honeywell_counts_against_upstream():
    from patlink.data import load_dataset
    from patlink.data.registry import load_vpm_table

    t = load_vpm_table()
    assert t.n_rows == 1947
    counts = t.anomaly_counts()
    assert counts["nbsp_separator"] == 128 and counts["colon_separator"] == 1
    assert counts["duplicate_product_row"] == 4
    ds = load_dataset("honeywell-vpm")
    # upstream's cleaned graph: 1,826 products / 4,443 patents / 20,192 edges (see docs/data.md for the gap)
    assert (len(ds.items), len(ds.patents), len(ds.links)) == (1827, 4445, 20203)
    assert len(set(ds.links)) == len(ds.links)
    assert all(p.startswith("US") for p in ds.patents)
