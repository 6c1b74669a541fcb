"""Fetching (timeouts, retries, limits, robots.txt, schemes) and extraction/chunking against the local server."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patlink.pipeline.config import FetchConfig
from patlink.pipeline.extract import chunk_text, extract_html, extract_pdf, extract_text, token_spans
from patlink.pipeline.fetch import FetchError, Fetcher, check_url

from .conftest import DATASHEET_LINES, make_pdf


@pytest.fixture()
def fetcher():
    delays = []
    f = Fetcher(FetchConfig(timeout_s=1.2, connect_timeout_s=1.2, retries=1, backoff_s=0.01, max_bytes=1_000_000,
                            max_redirects=3), sleep=delays.append)
    f.delays = delays
    yield f
    f.close()


def test_html_page_and_main_text(web, fetcher):
    res = fetcher.fetch(web + "/products/product_fs100.html")
    assert res.status_code == 200 and res.content_type == "text/html"
    text = extract_text(res.body, res.content_type, res.final_url)
    assert "heated platinum element" in text
    assert "Cart" not in text  # navigation removed by trafilatura


def test_pdf_datasheet(web, fetcher):
    res = fetcher.fetch(web + "/docs/acme-fs-100-datasheet.pdf")
    assert res.content_type == "application/pdf" and res.body.startswith(b"%PDF")
    text = extract_text(res.body, res.content_type)
    for line in DATASHEET_LINES:
        assert line in text


def test_404_is_permanent(web, fetcher):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.fetch(web + "/missing/acme-fs-100")
    assert web.hits["/missing/acme-fs-100"] == 1  # 4xx not retried


def test_redirect_loop(web, fetcher):
    with pytest.raises(FetchError, match="redirects"):
        fetcher.fetch(web + "/loop/acme-fs-100")


def test_slow_page_times_out_after_retries(web, fetcher):
    with pytest.raises(FetchError, match="timed out.*after 2 attempts"):
        fetcher.fetch(web + "/slow/acme-fs-100")
    assert web.hits["/slow/acme-fs-100"] == 2 and fetcher.delays == [0.01]


def test_huge_page_cut_off(web, fetcher):
    with pytest.raises(FetchError, match="byte limit"):
        fetcher.fetch(web + "/huge/acme-fs-100.html")


def test_robots_txt_respected(web, fetcher):
    with pytest.raises(FetchError, match="robots.txt"):
        fetcher.fetch(web + "/private/acme-fs-100.html")
    assert web.hits["/private/acme-fs-100.html"] == 0
    assert fetcher.allowed(web + "/products/x.html")
    polite_off = Fetcher(FetchConfig(respect_robots=False, timeout_s=2))
    assert polite_off.fetch(web + "/private/acme-fs-100.html").status_code == 200
    polite_off.close()


def test_transient_503_retried(web, fetcher):
    res = fetcher.fetch(web + "/flaky/acme-v2")
    assert res.status_code == 200 and web.hits["/flaky/acme-v2"] == 2


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "http://"])
def test_only_http(url, fetcher):
    with pytest.raises(FetchError):
        fetcher.fetch(url)
    with pytest.raises(FetchError):
        check_url(url)


def test_extract_pdf_rejects_garbage():
    with pytest.raises(ValueError):
        extract_pdf(b"%PDF-1.4 this is not a pdf")
    assert "FS-100" in extract_pdf(make_pdf(DATASHEET_LINES))


def test_extract_html_fallback_for_tiny_pages():
    assert extract_html("<html><body><div>Only a tiny div</div><script>x=1</script></body></html>") == \
        "Only a tiny div"


def test_chunking_known_output():
    text = "a b c d e f g h i j"
    assert chunk_text(text, 4, 1) == ["a b c d", "d e f g", "g h i j"]
    assert chunk_text(text, 4, 0) == ["a b c d", "e f g h", "i j"]
    assert chunk_text("  ", 4, 1) == []
    with pytest.raises(ValueError):
        chunk_text(text, 4, 4)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), size=st.integers(1, 12), data=st.data())
def test_chunking_invariants(n, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    tokens = [f"t{i}" for i in range(n)]
    chunks = chunk_text(" ".join(tokens), size, overlap)
    toks = [c.split() for c in chunks]
    assert all(1 <= len(c) <= size for c in toks)
    if n:
        assert toks[0][0] == "t0" and toks[-1][-1] == f"t{n - 1}"  # full coverage
        covered = {t for c in toks for t in c}
        assert covered == set(tokens)
    for a, b in zip(toks, toks[1:]):
        assert a[-overlap:] == b[:overlap] if overlap else a[-1] != b[0]  # exact overlap


def test_model_tokenizer_chunks():
    spans = token_spans("The FS-100 sensor", "minilm")
    assert len(spans) > 3  # WordPiece splits FS-100
    chunks = chunk_text("The FS-100 sensor measures flow.", 4, 1, "minilm")
    assert chunks[0].startswith("The") and len(chunks) >= 2
