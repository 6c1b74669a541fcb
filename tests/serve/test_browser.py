"""The review page in a real browser: headless Chromium driven by Playwright against the ``patlink serve`` app
(uvicorn on 127.0.0.1, a free port) over a small real dataset — pap2pat (papers linked to the patents that cite
them, both with text), ranked by BM25.

The browser is the system's (Debian's ``chromium``); without one, or without the ``playwright`` package, these
tests are skipped with the line to install them — except where ``PATLINK_REQUIRE_BROWSER=1`` (set by CI, which
installs Chromium), where a missing browser fails them instead of skipping silently.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None


def _browser_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


pytestmark = pytest.mark.skipif(
    (sync_playwright is None or _browser_path() is None) and os.environ.get("PATLINK_REQUIRE_BROWSER") != "1",
    reason="the browser test needs Chromium and Playwright: apt-get install chromium (Debian) and "
           "pip install playwright (no `playwright install`: the system browser is used)")

PAPER = "W2035549926"     # "17.6% Conversion Efficiency Multicrystalline Silicon Solar Cells ..."
XSS_ID = "xss-probe"
XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">Etched solar cells'


@pytest.fixture(scope="module")
def corpus():
    """pap2pat indexed once for the module (BM25, tuned as ``patlink eval`` tunes it), its items and links plus
    one item whose name and text are markup, linked to the patent the paper is linked to."""
    import patlink as pl
    from patlink.linking import DatasetIndex

    ds = pl.load_dataset("pap2pat")
    texts = ds.item_texts()
    items = {i: {"name": str(f.get("name") or f.get("title") or i), "text": texts.get(i, "")}
             for i, f in ds.items.items()}
    known = [p for i, p in ds.links if i == PAPER]
    assert len(known) == 1
    items[XSS_ID] = {"name": XSS_NAME, "text": XSS_NAME + "\n" + texts[PAPER]}
    return {"index": DatasetIndex(ds, pl.BM25()), "items": items, "links": [*ds.links, (XSS_ID, known[0])],
            "known": known[0]}


@dataclass
class Served:
    base: str
    service: object

    @property
    def store(self):
        return self.service.store


@contextmanager
def _serving(app):
    """``app`` served by uvicorn in a background thread on a free loopback port; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                    assert json.load(r)["status"] == "ok"
                break
            except OSError:
                if time.monotonic() > deadline or not thread.is_alive():
                    raise
                time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def serve(corpus, tmp_path):
    """Start a server over a fresh decisions database: ``serve(token=None)`` → :class:`Served`."""
    from patlink.review.decisions import DecisionStore
    from patlink.review.service import ReviewService
    from patlink.serve import create_app

    stack = []

    def start(token: str | None = None) -> Served:
        service = ReviewService(corpus["index"], DecisionStore(tmp_path / f"d{len(stack)}.sqlite"),
                                items=corpus["items"], links=corpus["links"])
        ctx = _serving(create_app(service, token=token))
        stack.append(ctx)
        return Served(ctx.__enter__(), service)

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_browser_path(), args=["--no-sandbox"])
        yield b
        b.close()


class PageLog:
    """What the page reported: uncaught errors and Content-Security-Policy refusals (there must be none)."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("console", lambda m: self.errors.append(f"console: {m.text}")
                if m.type == "error" and ("Content Security Policy" in m.text or "Refused to" in m.text) else None)

    def assert_clean(self):
        assert self.errors == []


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)      # assertions wait as long as actions (a loaded CI machine is slow)
    pg.log = PageLog(pg)
    yield pg
    context.close()


def _pick(page, query: str, item_id: str):
    """Search the known products, pick one, and wait for its candidates."""
    page.fill("#item-search", query)
    page.locator(f'#item-list .item[data-item-id="{item_id}"]').click()
    expect(page.locator("#candidates")).to_have_attribute("data-state", "ready")
    return page.locator("#candidates .candidate")


def test_review_a_known_product_accept_reject_and_export(page, serve, corpus):
    served = serve()
    page.goto(served.base)
    expect(page.locator("#info-method")).to_have_text("bm25")
    expect(page.locator("#info-documents")).to_have_text("1,513 patents")
    page.fill("#reviewer", "ana")
    rows = _pick(page, "multicrystalline silicon solar", PAPER)
    expect(rows).to_have_count(10)
    expect(page.locator("#item-title")).to_contain_text("17.6% Conversion Efficiency")

    first, second = rows.nth(0), rows.nth(1)
    p1, p2 = first.get_attribute("data-patent-id"), second.get_attribute("data-patent-id")
    assert p1 == corpus["known"]                       # the paper's own patent ranks first, marked as known
    expect(first.locator(".badge.known")).to_have_text("known link")
    expect(second.locator(".badge.known")).to_have_count(0)
    # "Solar Cell and Method of Manufacturing the Same": the paper's words found in the patent are marked
    assert first.locator(".cand-title mark").all_text_contents() == ["Solar", "Cell"]
    assert first.locator(".term").count() > 0
    expect(first.locator(".support")).to_contain_text(["17.6% Conversion Efficiency"])
    ext = first.locator("a.external")
    assert ext.get_attribute("href") == f"https://patents.google.com/patent/{p1}"
    assert ext.get_attribute("target") == "_blank"
    assert set(ext.get_attribute("rel").split()) >= {"noopener", "noreferrer"}

    first.locator('[data-decision="accept"]').click()
    second.locator(".note").fill("a different etching process")
    second.locator('[data-decision="reject"]').click()
    expect(first).to_have_attribute("data-current", "accept")
    expect(first.locator(".badge.decision")).to_have_text("accepted by ana")
    expect(first.locator('[data-decision="accept"]')).to_have_attribute("aria-pressed", "true")
    expect(second).to_have_attribute("data-current", "reject")
    expect(second.locator(".badge.decision")).to_have_text("rejected by ana")
    expect(page.locator("#info-decisions")).to_have_text("decisions: 1 accepted, 1 rejected, 0 unsure")
    expect(page.locator(f'#item-list .item[data-item-id="{PAPER}"] .item-meta')).to_contain_text("2 decided")

    rows_db = served.store.decisions(latest=False)
    assert [(d.item_id, d.patent_id, d.decision, d.reviewer, d.note, d.rank, d.method, d.item_text)
            for d in rows_db] == [(PAPER, p1, "accept", "ana", "", 1, "bm25", ""),
                                  (PAPER, p2, "reject", "ana", "a different etching process", 2, "bm25", "")]
    assert rows_db[0].score == pytest.approx(served.service.link(item_id=PAPER, top_k=1)["candidates"][0]["score"])

    with urllib.request.urlopen(served.base + "/api/decisions/export?format=csv") as r:
        table = list(csv.DictReader(io.StringIO(r.read().decode("utf-8"))))
    assert [(t["item_id"], t["patent_id"], t["decision"], t["reviewer"]) for t in table] == [
        (PAPER, p1, "accept", "ana"), (PAPER, p2, "reject", "ana")]
    with page.expect_download() as dl:                 # the page's own export button (JSONL)
        page.click("#export-jsonl")
    assert dl.value.suggested_filename == "decisions.jsonl"
    with open(dl.value.path(), encoding="utf-8") as f:
        lines = [json.loads(x) for x in f if x.strip()]
    assert [(x["patent_id"], x["decision"]) for x in lines] == [(p1, "accept"), (p2, "reject")]

    # keyboard: u on the focused third row, j to the fourth, r there
    third = rows.nth(2)
    third.focus()
    page.keyboard.press("u")
    expect(third).to_have_attribute("data-current", "unsure")
    page.keyboard.press("j")
    page.keyboard.press("r")
    expect(rows.nth(3)).to_have_attribute("data-current", "reject")
    assert [d.decision for d in served.store.decisions(item_id=PAPER)] == ["accept", "reject", "unsure", "reject"]

    page.reload()                                      # the reviewer's name is remembered
    expect(page.locator("#reviewer")).to_have_value("ana")
    page.log.assert_clean()


def test_names_and_texts_from_the_data_stay_text(page, serve, corpus):
    served = serve()
    page.goto(served.base)
    page.fill("#item-search", "__xss")
    button = page.locator(f'#item-list .item[data-item-id="{XSS_ID}"]')
    expect(button.locator(".item-name")).to_have_text(XSS_NAME)
    button.click()
    expect(page.locator("#candidates")).to_have_attribute("data-state", "ready")
    expect(page.locator("#item-title")).to_have_text(XSS_NAME)
    assert page.locator("#item-text").text_content().startswith(XSS_NAME)
    known = page.locator(f'#candidates .candidate[data-patent-id="{corpus["known"]}"]')
    expect(known.locator(".badge.known")).to_have_text("known link")
    expect(known.locator(".support")).to_contain_text([XSS_NAME])

    # the paper's own candidates list the markup-named product among the supporting ones, as text
    rows = _pick(page, "multicrystalline silicon solar", PAPER)
    expect(rows.first.locator(".support")).to_have_count(2)
    expect(rows.first.locator(".support").nth(1)).to_have_text(XSS_NAME)
    rows.first.locator(".cand-title").click()
    expect(page.locator("#patent-known")).to_contain_text(XSS_NAME)

    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))") == ["/static/app.js"]
    page.log.assert_clean()


def test_reverse_view_shows_the_patent_and_decides_products_for_it(page, serve, corpus):
    served = serve()
    patent = served.service.patent(corpus["known"])
    page.goto(served.base)
    page.fill("#reviewer", "bo")
    rows = _pick(page, "multicrystalline silicon solar", PAPER)
    expect(page.locator("#patent-panel")).to_be_hidden()
    rows.first.locator(".patent-id").click()           # the id (the Google Patents link is a separate <a>)
    panel = page.locator("#patent-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#patent-title")).to_have_text(patent["title"])
    expect(page.locator("#patent-id")).to_have_text(corpus["known"])
    assert page.locator("#patent-text").text_content() == patent["text"]
    assert page.locator("#patent-text mark").count() > 0
    expect(page.locator("#patent-known .item-open")).to_have_text([
        served.service.item(PAPER)["name"], XSS_NAME])
    expect(page.locator("#patent-items")).to_have_attribute("data-state", "ready")
    ranked = page.locator("#patent-items .reverse-item")
    expect(ranked).to_have_count(10)
    ranked_ids = [r.get_attribute("data-item-id") for r in ranked.all()]
    assert ranked_ids == [c["id"] for c in served.service.rank_items(corpus["known"], 10)["candidates"]]

    # accept the paper from the panel: its row in the main list follows; reject another product
    mine = page.locator(f'#patent-items .reverse-item[data-item-id="{PAPER}"]')
    mine.locator('[data-decision="accept"]').click()
    expect(mine).to_have_attribute("data-current", "accept")
    expect(rows.first).to_have_attribute("data-current", "accept")
    other = next(i for i in ranked_ids if i not in (PAPER, XSS_ID))
    page.locator(f'#patent-items .reverse-item[data-item-id="{other}"] [data-decision="reject"]').click()
    expect(page.locator("#patent-decisions .patent-decision")).to_have_count(2)
    got = [(d.item_id, d.patent_id, d.decision, d.reviewer, d.score, d.rank) for d in served.store.decisions()]
    assert got == [(PAPER, corpus["known"], "accept", "bo", None, None),
                   (other, corpus["known"], "reject", "bo", None, None)]

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    page.log.assert_clean()


def test_a_pasted_description_is_ranked_and_its_text_recorded(page, serve):
    served = serve()
    text = ("Etching of multicrystalline silicon wafers for solar cells: a plasma texturing step lowers the "
            "reflectance, then a damage removal etch restores the open circuit voltage.")
    page.goto(served.base)
    page.click("#tab-new")
    expect(page.locator("#panel-new")).to_be_visible()
    expect(page.locator("#panel-known")).to_be_hidden()
    page.fill("#new-id", "Acme textured wafer")
    page.fill("#new-text", text)
    page.click("#new-rank")
    expect(page.locator("#candidates")).to_have_attribute("data-state", "ready")
    rows = page.locator("#candidates .candidate")
    expect(rows).to_have_count(10)
    expect(page.locator("#candidates .badge.known")).to_have_count(0)
    expect(page.locator("#item-title")).to_have_text("New: Acme textured wafer")
    pid = rows.first.get_attribute("data-patent-id")
    rows.first.locator('[data-decision="accept"]').click()
    expect(rows.first).to_have_attribute("data-current", "accept")
    [d] = served.store.decisions(latest=False)
    assert (d.item_id, d.patent_id, d.decision, d.item_text, d.rank) == ("Acme textured wafer", pid, "accept", text, 1)
    page.log.assert_clean()


def test_api_errors_are_shown_and_the_token_is_asked_once(page, serve):
    served = serve(token="s3cret")
    page.goto(served.base)
    form = page.locator("#token-form")
    expect(form).to_be_visible()                       # /api/info and /api/items both got 401: one prompt
    expect(page.locator("#status")).to_contain_text("missing or wrong token")
    page.fill("#token-input", "wrong")
    page.click("#token-form button[type=submit]")
    expect(form).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Wrong token")
    page.fill("#token-input", "s3cret")
    page.click("#token-form button[type=submit]")
    expect(form).to_be_hidden()
    expect(page.locator("#info-method")).to_have_text("bm25")
    expect(page.locator("#item-list .item")).to_have_count(50)
    assert page.evaluate("sessionStorage.getItem('patlink.token')") == "s3cret"

    rows = _pick(page, "multicrystalline silicon solar", PAPER)
    expect(rows).to_have_count(10)
    page.fill("#top-k", "500")                         # over the server's limit: its 422 detail is shown
    page.click("#rerank")
    status = page.locator("#status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_contain_text("Error 422: top_k")
    page.fill("#top-k", "3")
    page.fill("#min-score", "1e9")                     # nothing passes: an empty list, said so
    page.click("#rerank")
    expect(page.locator("#candidates .empty")).to_have_text("No candidate passes the filters.")
    expect(status).to_have_attribute("data-kind", "info")
    page.log.assert_clean()


def test_api_docs_render_offline(serve, browser):
    """/docs renders every operation with Swagger UI served by the app itself (no CDN request is made)."""
    served = serve()
    page = browser.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(served.base) else None)
    page.goto(served.base + "/docs")
    page.wait_for_selector(".opblock", timeout=20000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/api/link", "/api/candidates", "/api/decisions", "/api/decisions/export", "/api/health"} <= \
        {p.replace("\u200b", "") for p in paths}
    assert outside == []
    page.close()
