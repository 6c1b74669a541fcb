"""Polite HTTP fetching (§2.2.3): a deadline per page, retries with exponential back-off, a size limit, robots.txt,
http(s) only, extractable content types only.

:class:`Fetcher` wraps patlink's one HTTP client (:class:`patlink.http.HttpClient`). ``FetchConfig.timeout_s`` is
the deadline of one attempt at a page: connecting plus reading the whole body (redirects included) must finish
within it, however slowly the server drips its bytes. A transient failure (timeout, exceeded deadline,
connection error, HTTP 429 or 5xx) is retried ``FetchConfig.retries`` times with delays ``backoff_s,
2*backoff_s, ...`` (``Retry-After`` honoured up to 30 s), so a page takes at most ``(retries + 1) * timeout_s``
plus those delays; anything else raises :class:`FetchError` at once: other 4xx statuses, more than
``max_redirects`` redirects (redirect loops), a redirect to a non-HTTP URL (``file:``, ``ftp:``), a body over
``max_bytes``, a scheme other than http/https, a path robots.txt disallows for our user agent, and (for pages to
extract) a content type other than HTML, XHTML, plain text or PDF. Messages are one line, secrets redacted.
"""

from __future__ import annotations

import time
import urllib.robotparser
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from patlink.pipeline.config import FetchConfig

__all__ = ["FetchError", "FetchResult", "Fetcher", "check_url"]


class FetchError(Exception):
    """A URL could not be fetched; the message says why (recorded in the pipeline database)."""


@dataclass
class FetchResult:
    """A fetched resource.

    Attributes:
        url: the URL asked for.
        final_url: the URL after redirects.
        status_code: final HTTP status (2xx).
        content_type: the ``Content-Type`` header, lower-cased, parameters stripped (``"text/html"``).
        body: raw bytes, at most ``FetchConfig.max_bytes``.
    """

    url: str
    final_url: str
    status_code: int
    content_type: str
    body: bytes


def check_url(url: str, allowed_schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Return ``url`` stripped of whitespace and fragment if its scheme is allowed and it has a host.

    Raises:
        FetchError: for another scheme (``file:``, ``ftp:``, ``javascript:`` ...) or a URL without a host.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in allowed_schemes:
        raise FetchError(f"scheme {parts.scheme or '(none)'!r} not allowed (only {', '.join(allowed_schemes)}): {url}")
    if not parts.netloc:
        raise FetchError(f"URL has no host: {url}")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


class Fetcher:
    """Fetch URLs politely. Use as a context manager or call :meth:`close`.

    The requests go through :class:`patlink.http.HttpClient` (timeouts, retries with exponential back-off and
    ``Retry-After``, size limit); this class adds the URL-scheme rule, robots.txt and the one-line reasons that
    the pipeline database records.

    Args:
        config: timeouts, retries, limits, user agent.
        sleep: the delay function (tests pass a no-op to skip back-off waits).
    """

    def __init__(self, config: FetchConfig | None = None, sleep=time.sleep):
        from patlink.http import HttpClient, HttpConfig

        self.config = c = config or FetchConfig()
        self.http = HttpClient(HttpConfig(timeout_s=c.timeout_s, connect_timeout_s=c.connect_timeout_s,
                                          deadline_s=c.timeout_s, max_retries=c.retries, backoff_base_s=c.backoff_s,
                                          backoff_max_s=30.0, jitter=0.0, max_redirects=c.max_redirects,
                                          user_agent=c.user_agent),
                               sleep=sleep)
        self.client = self.http.client
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- robots.txt ------------------------------------------------------------------------------------------
    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        p = urlsplit(url)
        root = f"{p.scheme}://{p.netloc}"
        if root not in self._robots:
            from patlink.http import HttpError

            rp: urllib.robotparser.RobotFileParser | None = urllib.robotparser.RobotFileParser(root + "/robots.txt")
            try:  # one attempt, under the same deadline as a page
                r = self.http.get_limited(root + "/robots.txt", 500_000, max_retries=0)
                rp.parse(r.body.decode("utf-8", "replace").splitlines())
            except HttpError as e:
                if e.status in (401, 403):
                    rp.disallow_all = True
                else:
                    rp = None  # no robots.txt, or unreachable: allowed (the page fetch itself reports an outage)
            except httpx.HTTPError:
                rp = None
            self._robots[root] = rp
        return self._robots[root]

    def allowed(self, url: str) -> bool:
        """Whether robots.txt of ``url``'s host lets ``FetchConfig.user_agent`` fetch it (True if not checked)."""
        if not self.config.respect_robots:
            return True
        rp = self._robots_for(url)
        return True if rp is None else rp.can_fetch(self.config.user_agent, url)

    # -- fetching --------------------------------------------------------------------------------------------
    def fetch(self, url: str, *, extractable_only: bool = False) -> FetchResult:
        """GET ``url`` under the configured rules.

        Args:
            url: an http(s) URL.
            extractable_only: refuse bodies that cannot be extracted (see
                :func:`patlink.pipeline.extract.content_kind`): a declared type other than HTML, XHTML, plain text
                or PDF is refused before the body is downloaded; an ``application/octet-stream`` (or untyped) body
                is kept only when its bytes are a PDF (or, untyped, text).

        Raises:
            FetchError: with a one-line reason (scheme, robots.txt, HTTP status, redirects, a redirect to a
                non-HTTP URL, size, content type, deadline or timeout after retries, connection failure after
                retries). Secrets (``token=`` parameters, passwords in URLs …) are redacted.
        """
        from patlink.http import HttpError, redact
        from patlink.pipeline.extract import UnsupportedContentType, accepts_content_type, content_kind

        c = self.config
        url = check_url(url, c.allowed_schemes)
        shown = redact(url)
        if not self.allowed(url):
            raise FetchError(f"disallowed by robots.txt: {shown}")
        try:
            res = self.http.get_limited(url, c.max_bytes, accept_type=accepts_content_type if extractable_only
                                        else None)
        except HttpError as e:
            tries = f" (after {e.attempts} attempts)" if e.attempts > 1 else ""
            reason = {"status": f"HTTP {e.status}",
                      "timeout": f"timed out after {c.timeout_s:g} s",
                      "deadline": f"deadline of {c.timeout_s:g} s exceeded",
                      "transport": "connection failed",
                      "redirects": f"more than {c.max_redirects} redirects (loop?)",
                      "content_type": f"{e.reason} (only HTML, XHTML, plain text and PDF are extracted)",
                      }.get(e.kind, e.reason)
            raise FetchError(f"{reason}: {shown}{tries}") from None
        except httpx.HTTPError as e:  # invalid URL ...
            raise FetchError(redact(f"{type(e).__name__}: {e}: {url}")) from None
        if urlsplit(res.final_url).scheme not in c.allowed_schemes:
            raise FetchError(f"redirect to {redact(res.final_url)} refused (only {', '.join(c.allowed_schemes)}): "
                             f"{shown}")
        if extractable_only:
            try:
                content_kind(res.body, res.content_type, res.final_url)
            except UnsupportedContentType as e:
                raise FetchError(f"{e}: {shown}") from None
        return FetchResult(res.url, res.final_url, res.status_code, res.content_type, res.body)
