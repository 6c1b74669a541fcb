"""A small HTTP client for hydration sources: timeouts, retries with exponential back-off, rate limit, no leaks.

Built on :mod:`httpx`. Retries happen on transport errors (connect/read timeouts, resets), HTTP 429 and 5xx;
the wait before retry ``k`` (0-based) is ``min(backoff_max_s, backoff_base_s * 2**k)`` plus up to 10 % jitter, or
the server's ``Retry-After`` seconds when given. Headers named in ``secret_headers`` (e.g. ``X-Api-Key``) and
query parameters named like a key/token are never logged nor put in exception messages.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from patlink.hydrate.config import HttpConfig

__all__ = ["HttpClient", "HttpError", "redact"]

log = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}
_SECRET_PARAM = re.compile(r"(?i)([?&](?:key|api_key|apikey|token|access_token|x-api-key)=)[^&#\s]*")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace secret values and ``key=…``/``token=…`` query parameters in ``text`` with ``***``."""
    out = _SECRET_PARAM.sub(r"\1***", text)
    for s in secrets:
        if s:
            out = out.replace(s, "***")
    return out


class HttpError(RuntimeError):
    """A request that failed for good (after retries, or a non-retryable status). ``status`` is ``None`` for
    transport errors. The message never contains secrets."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HttpClient:
    """Rate-limited, retrying HTTP client.

    Args:
        config: timeouts, retries, back-off, rate limit (:class:`~patlink.hydrate.config.HttpConfig`).
        headers: default headers sent with every request.
        secret_headers: names of headers whose values are secrets (redacted from logs and errors).
        sleep: the sleep function (injectable so tests do not wait).
        transport: optional :class:`httpx.BaseTransport` (tests).
    """

    def __init__(self, config: HttpConfig | None = None, headers: Mapping[str, str] | None = None,
                 secret_headers: tuple[str, ...] = (), sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = config or HttpConfig()
        hdrs = {"User-Agent": self.config.user_agent}
        hdrs.update(headers or {})
        self._secrets = tuple(v for k, v in hdrs.items() if k.lower() in {s.lower() for s in secret_headers} and v)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_start = 0.0
        self.n_requests = 0  # attempts made, retries included
        self.client = httpx.Client(
            headers=hdrs, timeout=httpx.Timeout(self.config.timeout_s), follow_redirects=True, transport=transport
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
        return base * (1.0 + 0.1 * random.random())

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; return the 2xx/3xx response.

        Raises:
            HttpError: a non-retryable status (4xx other than 429), or retries exhausted. Message redacted.
        """
        last: str = ""
        status: int | None = None
        for attempt in range(self.config.max_retries + 1):
            self._wait_rate_limit()
            self.n_requests += 1
            response = None
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as e:
                last, status = f"{type(e).__name__}: {e}", None
            else:
                if response.status_code < 400:
                    return response
                status = response.status_code
                body = response.text[:300].replace("\n", " ")
                last = f"HTTP {status} {response.reason_phrase}: {body}"
                if status not in _RETRY_STATUS:
                    break
            if attempt < self.config.max_retries:
                wait = self._backoff(attempt, response)
                log.info("retry %d/%d of %s %s in %.1fs (%s)", attempt + 1, self.config.max_retries, method,
                         redact(url, self._secrets), wait, redact(last, self._secrets))
                self._sleep(wait)
        raise HttpError(redact(f"{method} {url} failed: {last}", self._secrets), status=status)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)
