"""The one HTTP client of patlink (hydration sources and the data pipeline's page fetcher).

Built on :mod:`httpx`. Timeouts, retries with exponential back-off, a rate limit, a body-size limit for streamed
downloads, and no secret leaks:

* retries happen on transport errors (connect/read timeouts, resets), HTTP 429 and 5xx; the wait before retry
  ``k`` (0-based) is ``min(backoff_max_s, backoff_base_s * 2**k)`` plus up to ``jitter`` (10 %) of it, or the
  server's ``Retry-After`` seconds when given (capped by ``backoff_max_s``); other 4xx, too many redirects and a
  body over the limit fail at once;
* headers named in ``secret_headers`` (e.g. ``X-Api-Key``) and query parameters named like a key/token are never
  logged nor put in exception messages.

Used by :mod:`patlink.hydrate` (PatentsView API, Google Patents pages) and :class:`patlink.pipeline.fetch.Fetcher`
(which adds robots.txt and URL-scheme rules on top).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

__all__ = ["HttpClient", "HttpConfig", "HttpError", "LimitedResponse", "redact"]

log = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}
_SECRET_PARAM = re.compile(r"(?i)([?&](?:key|api_key|apikey|token|access_token|x-api-key)=)[^&#\s]*")
T = TypeVar("T")


@dataclass
class HttpConfig:
    """HTTP client behaviour (:class:`HttpClient`).

    Attributes:
        timeout_s: read/write/pool timeout of one request (and connect timeout unless ``connect_timeout_s``), s.
        max_retries: retries after the first attempt on transport errors, HTTP 429 and 5xx (total attempts =
            ``max_retries + 1``). Other 4xx are not retried.
        backoff_base_s: first back-off, seconds; attempt ``k`` waits ``backoff_base_s * 2**k`` (capped) plus up to
            ``jitter`` of it, or the server's ``Retry-After`` when it sends one (capped by ``backoff_max_s``).
        backoff_max_s: cap of one back-off wait, seconds.
        min_interval_s: rate limit, minimum seconds between the starts of two requests (0 = unlimited).
        user_agent: ``User-Agent`` header.
        connect_timeout_s: connect timeout, seconds (``None`` = ``timeout_s``).
        max_redirects: more redirects than this is a failure (catches redirect loops).
        jitter: random extra share of each exponential back-off wait (0 = deterministic waits).
    """

    timeout_s: float = 30.0
    max_retries: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    min_interval_s: float = 0.0
    user_agent: str = "patlink-hydrate/0.1 (+https://github.com/patlink)"
    connect_timeout_s: float | None = None
    max_redirects: int = 20
    jitter: float = 0.1


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace secret values and ``key=…``/``token=…`` query parameters in ``text`` with ``***``."""
    out = _SECRET_PARAM.sub(r"\1***", text)
    for s in secrets:
        if s:
            out = out.replace(s, "***")
    return out


class HttpError(RuntimeError):
    """A request that failed for good (after retries, or a non-retryable condition). The message never contains
    secrets.

    Attributes:
        status: the last HTTP status, ``None`` for transport errors.
        kind: ``status`` (an HTTP error status), ``timeout``, ``transport`` (connection failed, reset …),
            ``redirects`` (more than ``max_redirects``) or ``too_large`` (body over the limit).
        attempts: requests made for this URL, retries included.
    """

    def __init__(self, message: str, status: int | None = None, kind: str = "status", attempts: int = 1) -> None:
        super().__init__(message)
        self.status, self.kind, self.attempts = status, kind, attempts


@dataclass
class LimitedResponse:
    """A body downloaded by :meth:`HttpClient.get_limited`.

    Attributes:
        url: the URL asked for; final_url: after redirects; status_code: final status (< 400);
        content_type: ``Content-Type`` lower-cased without parameters (``"text/html"``); body: at most the limit.
    """

    url: str
    final_url: str
    status_code: int
    content_type: str
    body: bytes


class _Retryable(Exception):
    """One failed attempt that may be retried (internal)."""

    def __init__(self, message: str, status: int | None, kind: str, response: httpx.Response | None = None):
        super().__init__(message)
        self.status, self.kind, self.response = status, kind, response


class HttpClient:
    """Rate-limited, retrying HTTP client.

    Args:
        config: timeouts, retries, back-off, rate limit, redirects (:class:`HttpConfig`).
        headers: default headers sent with every request.
        secret_headers: names of headers whose values are secrets (redacted from logs and errors).
        sleep: the sleep function (injectable so tests do not wait).
        transport: optional :class:`httpx.BaseTransport` (tests).
    """

    def __init__(self, config: HttpConfig | None = None, headers: Mapping[str, str] | None = None,
                 secret_headers: tuple[str, ...] = (), sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = c = config or HttpConfig()
        hdrs = {"User-Agent": c.user_agent}
        hdrs.update(headers or {})
        self._secrets = tuple(v for k, v in hdrs.items() if k.lower() in {s.lower() for s in secret_headers} and v)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_start = 0.0
        self.n_requests = 0  # attempts made, retries included
        self.client = httpx.Client(
            headers=hdrs, timeout=httpx.Timeout(c.timeout_s, connect=c.connect_timeout_s or c.timeout_s),
            follow_redirects=True, max_redirects=c.max_redirects, transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _wait_rate_limit(self) -> None:
        with self._lock:
            gap = self.config.min_interval_s - (time.monotonic() - self._last_start)
            if gap > 0:
                self._sleep(gap)
            self._last_start = time.monotonic()

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            ra = response.headers.get("Retry-After")
            if ra:
                try:
                    return min(self.config.backoff_max_s, max(0.0, float(ra)))
                except ValueError:
                    pass
        base = min(self.config.backoff_max_s, self.config.backoff_base_s * (2 ** attempt))
        return base * (1.0 + self.config.jitter * random.random())

    def _with_retries(self, method: str, url: str, attempt_once: Callable[[], T]) -> T:
        """Run ``attempt_once`` until it returns, raises a non-retryable :class:`HttpError`, or retries run out."""
        last: _Retryable | None = None
        for attempt in range(self.config.max_retries + 1):
            self._wait_rate_limit()
            self.n_requests += 1
            try:
                return attempt_once()
            except _Retryable as e:
                last = e
            except httpx.TooManyRedirects:
                raise HttpError(redact(f"{method} {url} failed: more than {self.config.max_redirects} redirects "
                                       f"(loop?)", self._secrets), kind="redirects", attempts=attempt + 1) from None
            except httpx.TimeoutException as e:
                last = _Retryable(f"timed out after {self.config.timeout_s:g} s ({type(e).__name__})", None,
                                  "timeout")
            except httpx.TransportError as e:
                last = _Retryable(f"connection failed ({type(e).__name__}: {e})", None, "transport")
            if last.kind == "status" and last.status not in _RETRY_STATUS:
                raise HttpError(redact(f"{method} {url} failed: {last}", self._secrets), status=last.status,
                                kind="status", attempts=attempt + 1)
            if attempt < self.config.max_retries:
                wait = self._backoff(attempt, last.response)
                log.info("retry %d/%d of %s %s in %.1fs (%s)", attempt + 1, self.config.max_retries, method,
                         redact(url, self._secrets), wait, redact(str(last), self._secrets))
                self._sleep(wait)
        assert last is not None
        raise HttpError(redact(f"{method} {url} failed: {last}", self._secrets), status=last.status, kind=last.kind,
                        attempts=self.config.max_retries + 1)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; return the 2xx/3xx response (body read).

        Raises:
            HttpError: a non-retryable status (4xx other than 429), too many redirects, or retries exhausted.
                Message redacted.
        """
        def once() -> httpx.Response:
            response = self.client.request(method, url, **kwargs)
            if response.status_code >= 400:
                body = response.text[:300].replace("\n", " ")
                raise _Retryable(f"HTTP {response.status_code} {response.reason_phrase}: {body}",
                                 response.status_code, "status", response)
            return response

        return self._with_retries(method, url, once)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get_limited(self, url: str, max_bytes: int) -> LimitedResponse:
        """GET ``url`` streaming, refusing bodies over ``max_bytes`` (by ``Content-Length`` or while reading).

        Raises:
            HttpError: as :meth:`request`; ``kind="too_large"`` (not retried) for a body over the limit.
        """
        def once() -> LimitedResponse:
            with self.client.stream("GET", url) as r:
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise HttpError(f"body of {declared} bytes exceeds the {max_bytes}-byte limit: "
                                    f"{redact(url, self._secrets)}", status=r.status_code, kind="too_large")
                if r.status_code >= 400:
                    raise _Retryable(f"HTTP {r.status_code}", r.status_code, "status", r)
                buf = bytearray()
                for part in r.iter_bytes():
                    buf.extend(part)
                    if len(buf) > max_bytes:
                        raise HttpError(f"body exceeds the {max_bytes}-byte limit: {redact(url, self._secrets)}",
                                        status=r.status_code, kind="too_large")
                ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
                return LimitedResponse(url, str(r.url), r.status_code, ctype, bytes(buf))

        return self._with_retries("GET", url, once)
