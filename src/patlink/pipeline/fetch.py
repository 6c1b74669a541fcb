"""Polite HTTP fetching (§2.2.3): timeouts, retries with exponential back-off, a size limit, robots.txt, http(s) only.

:class:`Fetcher` wraps one ``httpx.Client``. A transient failure (timeout, connection error, HTTP 429 or 5xx) is
retried ``FetchConfig.retries`` times with delays ``backoff_s, 2*backoff_s, ...`` (``Retry-After`` honoured up to
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

__all__ = ["Fetcher", "FetchResult", "FetchError", "check_url"]


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

    Args:
        config: timeouts, retries, limits, user agent.
        sleep: the delay function (tests pass a no-op to skip back-off waits).
    """

    def __init__(self, config: FetchConfig | None = None, sleep=time.sleep):
        self.config = config or FetchConfig()
        c = self.config
        self._sleep = sleep
        self.client = httpx.Client(
            timeout=httpx.Timeout(c.timeout_s, connect=c.connect_timeout_s),
            follow_redirects=True,
            max_redirects=c.max_redirects,
            headers={"User-Agent": c.user_agent},
        )
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Fetcher":
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
    def _get_once(self, url: str) -> FetchResult:
        c = self.config
        with self.client.stream("GET", url) as r:
            declared = r.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > c.max_bytes:
                raise FetchError(f"body of {declared} bytes exceeds the {c.max_bytes}-byte limit: {url}")
            if r.status_code >= 400:
                raise _HTTPStatus(r.status_code, r.headers.get("retry-after"))
            buf = bytearray()
            for part in r.iter_bytes():
                buf.extend(part)
                if len(buf) > c.max_bytes:
                    raise FetchError(f"body exceeds the {c.max_bytes}-byte limit: {url}")
            ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
            return FetchResult(url, str(r.url), r.status_code, ctype, bytes(buf))

    def fetch(self, url: str) -> FetchResult:
        """GET ``url`` under the configured rules.

        Raises:
            FetchError: with a one-line reason (scheme, robots.txt, HTTP status, redirects, size, timeout after
                retries, connection failure after retries).
        """
        c = self.config
        url = check_url(url, c.allowed_schemes)
        if not self.allowed(url):
            raise FetchError(f"disallowed by robots.txt: {url}")
        last: str = ""
        for attempt in range(c.retries + 1):
            delay = c.backoff_s * (2 ** attempt)
            try:
                res = self._get_once(url)
                if urlsplit(res.final_url).scheme not in c.allowed_schemes:  # pragma: no cover - httpx refuses
                    raise FetchError(f"redirected to a non-http(s) URL: {res.final_url}")
                return res
            except httpx.TooManyRedirects:
                raise FetchError(f"more than {c.max_redirects} redirects (loop?): {url}") from None
            except _HTTPStatus as e:
                last = f"HTTP {e.status}: {url}"
                if e.status != 429 and e.status < 500:
                    raise FetchError(last) from None
                if e.retry_after and e.retry_after.isdigit():
                    delay = min(float(e.retry_after), 30.0)
            except httpx.TimeoutException:
                last = f"timed out after {c.timeout_s:g} s: {url}"
            except httpx.TransportError as e:
                last = f"connection failed ({type(e).__name__}): {url}"
            except httpx.HTTPError as e:  # invalid URL, decoding errors ...
                raise FetchError(f"{type(e).__name__}: {e}: {url}") from None
            if attempt < c.retries:
                self._sleep(delay)
        raise FetchError(f"{last} (after {c.retries + 1} attempts)")


class _HTTPStatus(Exception):
    def __init__(self, status: int, retry_after: str | None):
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after
