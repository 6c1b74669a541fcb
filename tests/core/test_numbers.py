import pytest

from patlink.data.numbers import find_publication_numbers, normalize_publication_number, parse_publication_number


@pytest.mark.parametrize("raw,expected", [
    ("US7852519", "US7852519"),
    ("7,852,519", "US7852519"),
    ("US 7852519 B2", "US7852519"),
    ("US-7852519-B2", "US7852519"),
    ("7852519B2", "US7852519"),
    ("us7852519", "US7852519"),
    ("\xa07852519 ", "US7852519"),
    ("D123,456", "USD123456"),
    ("USD0123456S", "USD123456"),
    ("RE45,123", "USRE45123"),
    ("US 2013/0210636 A1", "US20130210636"),
    ("US20130210636", "US20130210636"),
    ("US-2013210636-A1", "US20130210636"),
    ("EP1234567", "EP1234567"),
])
def test_normalize(raw, expected):
    assert normalize_publication_number(raw) == expected


def test_parse_keeps_kind_and_type():
    p = parse_publication_number("US 7852519 B2")
    assert (p.country, p.prefix, p.number, p.kind) == ("US", "", "7852519", "B2")
    assert parse_publication_number("US20130210636").is_application
    assert parse_publication_number("D123,456").is_design


@pytest.mark.parametrize("bad", ["", "hello", "US", "12-34", "7852519 7852520"])
def test_rejects_non_numbers(bad):
    with pytest.raises(ValueError):
        normalize_publication_number(bad)


def test_find_in_vpm_paragraph():
    text = "Product X: US 7,123,456; 8,234,567 B2; D654,321 and RE45,123 (rated 1,000 hours, model 4820, 2.500 bar)"
    assert [p.canonical for p in find_publication_numbers(text)] == [
        "US7123456", "US8234567", "USD654321", "USRE45123"]


def test_short_prefixed_canonical_numbers_parse_back():
    """Canonical forms of old statutory invention registrations, designs, plants and reissues with fewer than five
    digits (``H0002222`` → ``USH2222``) are numbers again when parsed: hydration keys on them."""
    from patlink.data.numbers import find_publication_numbers, normalize_publication_number

    for raw, canon in [("H0002222", "USH2222"), ("USD1234", "USD1234"), ("USPP1234", "USPP1234"),
                       ("USRE1234", "USRE1234"), ("RE 1,234", "USRE1234")]:
        assert normalize_publication_number(raw) == canon
        assert normalize_publication_number(canon) == canon
    for bare in ("US1234", "1234"):
        with pytest.raises(ValueError):
            normalize_publication_number(bare)
    found = [n.canonical for n in find_publication_numbers("model H2222, D1000 and US D1234; patent 7,852,519")]
    assert found == ["USD1234", "US7852519"]
