"""Search providers, URL filtering, the OpenAI-compatible client and the extractive summariser."""

import json

import pytest

from patlink.pipeline.condense import Condenser, parse_bullets
from patlink.pipeline.config import FilterConfig, LLMConfig, SummaryConfig
from patlink.pipeline.filtering import filter_urls, name_in_url, name_variants, normalize_url
from patlink.pipeline.llm import ChatClient, ExtractiveSummarizer, LLMError, split_sentences
from patlink.pipeline.search import SearchError, SearXNGProvider, URLListProvider, build_queries


def test_queries_of_the_paper():
    assert build_queries("Honeywell", "HC900", ("{company} {product}", "{company} {product} datasheet",
                                                 "{company} {product} technical specifications",
                                                 "{company} {product} user manual")) == [
        "Honeywell HC900", "Honeywell HC900 datasheet", "Honeywell HC900 technical specifications",
        "Honeywell HC900 user manual"]


def test_searxng_json_api(web):
    web.search["Acme FS-100 datasheet"] = ["/products/product_fs100.html", "https://example.invalid/x"]
    p = SearXNGProvider(web)
    res = p.search("Acme FS-100 datasheet", "FS-100", top_k=1)
    assert [r.url for r in res] == [web + "/products/product_fs100.html"] and res[0].rank == 1
    assert len(p.search("Acme FS-100 datasheet", "FS-100", top_k=5)) == 2
    assert p.search("unknown query", "x", 1) == []


def test_searxng_errors_are_clear(web):
    with pytest.raises(SearchError, match="unreachable"):
        SearXNGProvider("http://127.0.0.1:9").search("q", "p", 1)
    with pytest.raises(ValueError):
        SearXNGProvider("ftp://x")


def test_url_list_provider(tmp_path):
    f = tmp_path / "urls.csv"
    f.write_text("product,url\nAcme  FS-100,http://a/1\nAcme FS-100,http://a/2\nAcme FS-100,http://a/1\n")
    p = URLListProvider(f)
    assert [r.url for r in p.search(None, "Acme FS-100", 10)] == ["http://a/1", "http://a/2"]
    j = tmp_path / "urls.jsonl"
    j.write_text(json.dumps({"product": "V2", "urls": ["http://b/1"]}) + "\nnot json\n")
    with pytest.raises(ValueError, match=":2:"):
        URLListProvider(j)


def test_filter_rules():
    urls = ["https://shop.example.org/acme-fs-100.html#top", "https://SHOP.example.org/acme-fs-100.html",
            "https://vpm.example.com/acme-fs-100", "https://example.org/garden-chairs",
            "ftp://example.org/fs100", "https://docs.example.net/FS100_manual.pdf?utm_source=x"]
    r = filter_urls("Acme FS-100", urls, FilterConfig(blocked_domains=("example.com",)), company="Acme")
    assert r.kept == [urls[0], urls[5]]
    assert [d["reason"] for d in r.dropped] == ["duplicate", "blocked_domain", "name_not_in_url", "not_http"]


def test_name_variants_and_url_match():
    assert name_variants("Honeywell HC900 Process Controller", "Honeywell")[:2] == [
        "honeywellhc900processcontroller", "hc900processcontroller"]
    assert "hc900" in name_variants("Honeywell HC900 Process Controller", "Honeywell")
    assert name_in_url("HC900 Controller", "https://x.org/products/hc-900/")
    assert not name_in_url("Valve V2", "https://x.org/pumps")
    assert normalize_url("HTTP://A.org:80/x/?utm_source=1&id=2#f") == "http://a.org/x?id=2"


def test_chat_client_sends_key_but_never_shows_it(llm, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    c = ChatClient(LLMConfig(base_url=llm, model="m1", api_key_env="MY_KEY", retries=0))
    assert c.chat([{"role": "system", "content": "Answer YES or NO."},
                   {"role": "user", "content": "Product: X\nURL: http://x"}]) == "YES"
    headers = {k.lower(): v for k, v in llm.requests[-1]["headers"].items()}  # header names: any case
    assert headers["authorization"] == "Bearer sk-secret-123"
    assert llm.requests[-1]["body"]["model"] == "m1"
    assert "sk-secret" not in repr(c) and "sk-secret" not in c.fingerprint
    bad = ChatClient(LLMConfig(base_url=llm + "/nope", model="m1", api_key_env="MY_KEY", retries=0))
    with pytest.raises(LLMError) as e:
        bad.chat([{"role": "user", "content": "hi"}])
    assert "sk-secret" not in str(e.value)


def test_chat_client_retries_then_fails(llm):
    llm.fail_products.add("Broken")
    delays = []
    c = ChatClient(LLMConfig(base_url=llm, model="m", retries=2, backoff_s=0.5), sleep=delays.append)
    with pytest.raises(LLMError, match="HTTP 500.*3 attempts"):
        c.chat([{"role": "system", "content": "s"}, {"role": "user", "content": "Product: Broken\nx"}])
    assert delays == [0.5, 1.0] and len(llm.requests) == 3


def test_parse_bullets():
    assert parse_bullets("Here:\n- a  b\n* c\n1. d\nnot a bullet") == ["a b", "c", "d"]
    assert parse_bullets("NONE") == []


def test_llm_condenser_paths(llm):
    cond = Condenser(ChatClient(LLMConfig(base_url=llm, model="m", retries=0)), SummaryConfig(patent_max_words=50))
    b = cond.bullets("Acme V2", "The valve switches water.")
    assert b[0] == "Acme V2 is an industrial device." and len(b) == 3
    assert cond.paragraph("Acme V2", ["x", "y"]) == "PARAGRAPH about Acme V2 from 2 bullets."
    s = cond.patent_summary("US7123456", "A long patent text.")
    assert s.startswith("SUMMARY") and len(s.split()) == 50  # cut to the encoder budget
    assert cond.judge_url("Acme V2", "http://x/acme-v2") and not cond.judge_url("Acme V2", "http://x/unrelated")
    with pytest.raises(ValueError, match="no information"):
        cond.paragraph("Acme V2", [])


def test_extractive_summariser_prefers_central_sentences():
    sents = ["The flow sensor measures gas flow with a heated element.",
             "The sensor measures the mass flow of gases using a heated element.",
             "Gas flow is measured by the sensor's heated platinum element.",
             "Our office is closed on public holidays."]
    ex = ExtractiveSummarizer()
    score = ex.centrality(sents)
    assert score.shape == (4,) and abs(score.sum() - 1) < 1e-9
    assert score.argmin() == 3
    assert ex.top_sentences(sents, 2) == [s for s in sents[:3] if s in ex.top_sentences(sents, 2)]
    assert "holidays" not in " ".join(ex.top_sentences(sents, 2))
    summary = ex.summarize(" ".join(sents), max_words=12)
    assert len(summary.split()) <= 12 and "holidays" not in summary
    assert ex.dedupe(["A b c.", "a  B c", "Totally different topic here."]) == ["A b c.",
                                                                                 "Totally different topic here."]
    assert split_sentences("- First bullet here\nSecond one is here. Third is here too.") == [
        "First bullet here", "Second one is here.", "Third is here too."]
