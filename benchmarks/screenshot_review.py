"""The README's screenshot of the review page (docs/img/review.png), taken on real data.

Serves ``honeywell-vpm`` (Honeywell's Virtual Patent Marking pages: real products and the patents each page lists;
the patents have no text, so each is represented by its linked products) ranked by BM25, on a throw-away decisions
database, drives headless Chromium (the system's, through Playwright) to a product, accepts its top candidate and
rejects the first candidate that is not a known link (so both badges show), opens the patent panel of the accepted
one, and saves the page.

Usage: python benchmarks/screenshot_review.py [--query "ring scanner"] [--item "8650 Ring Scanner"]
    [--out docs/img/review.png]
    [--width 1400 --height 900]

Needs ``apt-get install chromium`` (Debian) and ``pip install playwright``; no network.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no Chromium on PATH: apt-get install chromium (Debian), and pip install playwright")


def _serve(app):
    """``app`` on a free loopback port in a background thread: (base URL, stop())."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/api/health", timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

    def stop():
        server.should_exit = True
        thread.join(10)
        sock.close()
    return base, stop


def _save_small(png: bytes, out: Path, max_bytes: int) -> int:
    """Write ``png``; when over ``max_bytes``, as a 256-colour palette PNG (UI screenshots lose nothing visible).
    Returns the bytes written (atomically)."""
    if len(png) > max_bytes:
        from PIL import Image

        img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        png = buf.getvalue()
    from patlink.io import atomic_writer

    with atomic_writer(out) as f:
        f.write(png)
    return len(png)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--query", default="ring scanner", help="what to type in the product search box")
    ap.add_argument("--item", default="8650 Ring Scanner", help="the product id to pick among the results")
    ap.add_argument("--note", default="covers the imager, not the ring mount", help="the reject's note")
    ap.add_argument("--out", type=Path, default=Path("docs/img/review.png"))
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--max-kb", type=int, default=400, help="quantise the PNG when it is larger")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from playwright.sync_api import expect, sync_playwright

    import patlink as pl
    from patlink.review.decisions import DecisionStore
    from patlink.review.service import ReviewService
    from patlink.serve import create_app

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="patlink-shot-") as tmp:
        service = ReviewService.for_dataset(pl.load_dataset("honeywell-vpm"), pl.BM25(),
                                            DecisionStore(Path(tmp) / "decisions.sqlite"))
        base, stop = _serve(create_app(service))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=_browser(), args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.set_default_timeout(60_000)
                expect.set_options(timeout=60_000)     # the first ranking prepares the product profiles
                page.goto(base)
                expect(page.locator("#info-method")).not_to_be_empty()
                page.fill("#reviewer", "analyst")
                page.fill("#item-search", args.query)
                page.locator(f'#item-list .item[data-item-id="{args.item}"]').click()
                expect(page.locator("#candidates")).to_have_attribute("data-state", "ready")
                rows = page.locator("#candidates .candidate")
                if rows.count() < 2:
                    sys.exit(f"{args.item!r}: fewer than 2 candidates, pick another product")
                # accept the top candidate; reject the first one that is not a known link (else the second)
                known = [r.locator(".badge.known").count() > 0 for r in rows.all()]
                other = next((i for i, k in enumerate(known) if not k and i > 0), 1)
                rows.nth(0).locator('[data-decision="accept"]').click()
                expect(rows.nth(0)).to_have_attribute("data-current", "accept")
                rows.nth(other).locator(".note").fill(args.note)
                rows.nth(other).locator('[data-decision="reject"]').click()
                expect(rows.nth(other)).to_have_attribute("data-current", "reject")
                rows.nth(0).locator(".patent-id").click()
                expect(page.locator("#patent-items")).not_to_have_attribute("data-state", "loading")
                rows.nth(min(other + 1, rows.count() - 1)).focus()      # the focus ring
                page.evaluate("document.querySelector('.review').scrollTop = 0")   # the product's name on top
                png = page.screenshot(type="png")
                browser.close()
        finally:
            stop()
    size = _save_small(png, args.out, args.max_kb * 1024)
    print(f"{args.out}: {args.width}x{args.height}, {size / 1024:.0f} KB, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
