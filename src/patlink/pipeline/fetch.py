"""Polite HTTP fetching (§2.2.3): timeouts, retries with exponential back-off, a size limit, robots.txt, http(s) only.

:class:`Fetcher` wraps patlink's one HTTP client (:class:`patlink.http.HttpClient`). A transient failure
(timeout, connection error, HTTP 429 or 5xx) is retried ``FetchConfig.retries`` times with delays ``backoff_s, 2*backoff_s, ...`` (``Retry-After`` honoured up to
30 s); anything else raises :class:`FetchError` at once: other 4xx statuses, more than ``max_redirects``
redirects (redirect loops), a body over ``max_bytes``, a scheme other than http/https, a path robots.txt
disallows for our user agent.
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
                                          max_retries=c.retries, backoff_base_s=c.backoff_s, backoff_max_s=30.0,
                                          jitter=0.0, max_redirects=c.max_redirects, user_agent=c.user_agent),
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
            rp: urllib.robotparser.RobotFileParser | None = urllib.robotparser.RobotFileParser(root + "/robots.txt")
            try:
                r = self.client.get(root + "/robots.txt", follow_redirects=True)
                if r.status_code in (401, 403):
                    rp.disallow_all = True
                elif r.status_code >= 400:
                    rp = None  # no robots.txt: everything allowed
                else:
                    rp.parse(r.text[:500_000].splitlines())
            except httpx.HTTPError:
                rp = None  # unreachable robots.txt: allowed (the page fetch itself reports the outage)
            self._robots[root] = rp
        return self._robots[root]

    def allowed(self, url: str) -> bool:
        """Whether robots.txt of ``url``'s host lets ``FetchConfig.user_agent`` fetch it (True if not checked)."""
        if not self.config.respect_robots:
            return True
        rp = self._robots_for(url)
        return True if rp is None else rp.can_fetch(self.config.user_agent, url)

    # -- fetching --------------------------------------------------------------------------------------------
    def fetch(self, url: str) -> FetchResult:
        """GET ``url`` under the configured rules.

        Raises:
            FetchError: with a one-line reason (scheme, robots.txt, HTTP status, redirects, size, timeout after
                retries, connection failure after retries).
        """
        from patlink.http import HttpError

        c = self.config
        url = check_url(url, c.allowed_schemes)
        if not self.allowed(url):
            raise FetchError(f"disallowed by robots.txt: {url}")
        try:
            res = self.http.get_limited(url, c.max_bytes)
        except HttpError as e:
            tries = f" (after {e.attempts} attempts)" if e.attempts > 1 else ""
            reason = {"status": f"HTTP {e.status}: {url}",
                      "timeout": f"timed out after {c.timeout_s:g} s: {url}",
                      "transport": f"connection failed: {url}",
                      "redirects": f"more than {c.max_redirects} redirects (loop?): {url}"}.get(e.kind, str(e))
            raise FetchError(reason + tries) from None
        except httpx.HTTPError as e:  # invalid URL, decoding errors ...
            raise FetchError(f"{type(e).__name__}: {e}: {url}") from None
        if urlsplit(res.final_url).scheme not in c.allowed_schemes:  # pragma: no cover - httpx refuses
            raise FetchError(f"redirected to a non-http(s) URL: {res.final_url}")
        return FetchResult(res.url, res.final_url, res.status_code, res.content_type, res.body)
