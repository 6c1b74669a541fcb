"""The one HTTP client of patlink (hydration sources and the data pipeline's page fetcher), and the one redaction
function every path that records or prints an HTTP response or error goes through.

Built on :mod:`httpx`. Timeouts, a deadline per request, retries with exponential back-off, a rate limit, a
body-size limit for streamed downloads, and no secret leaks:

* every attempt has a deadline (``HttpConfig.deadline_s``): connecting, sending and reading the whole response,
  redirects included, must finish within it. It holds against a server that drips one byte a second (which a
  read timeout alone never stops: each gap is short): a timer shuts the attempt's socket down when the deadline
  passes, and the body is checked against the clock between chunks. Each request then opens its own connection
  (no keep-alive) so that the timer knows the socket;
* retries happen on transport errors (connect/read timeouts, resets), an exceeded deadline, HTTP 429 and 5xx; the
  wait before retry ``k`` (0-based) is ``min(backoff_max_s, backoff_base_s * 2**k)`` plus up to ``jitter``
  (10 %) of it, or the server's ``Retry-After`` seconds when given (capped by ``backoff_max_s``); other 4xx, too
  many redirects, a redirect to a non-HTTP URL (``file:``, ``ftp:``) and a body over the limit fail at once;
* :func:`redact` removes secrets from any text: the values of the client's secret headers (``Authorization``,
  ``X-Api-Key`` ... and any named in ``secret_headers``), ``Bearer`` tokens, ``api_key=``/``token=`` parameters,
  JSON or Python-literal fields such as ``"api_key": "…"``, passwords in URLs. Error messages, log records and
  stored failures are redacted before they are cut to length, so not even the start of a key survives.

Importing this module adds a filter to the loggers of httpx and httpcore that redacts their records the same way
(they log request URLs and, at DEBUG level, response headers).

Used by :mod:`patlink.hydrate` (PatentsView API, Google Patents pages) and :class:`patlink.pipeline.fetch.Fetcher`
(which adds robots.txt, URL-scheme and content-type rules on top).
"""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import httpx

__all__ = ["HttpClient", "HttpConfig", "HttpError", "LimitedResponse", "SECRET_HEADERS", "SECRET_NAMES", "redact"]

log = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}
T = TypeVar("T")

#: Header names whose values are always secrets (lower case); a client adds the ones named in ``secret_headers``.
SECRET_HEADERS: tuple[str, ...] = ("authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token",
                                   "x-patlink-token", "cookie", "set-cookie")
#: Parameter and field names whose values are secrets (``name=value`` in URLs and forms, ``"name": "value"``).
SECRET_NAMES: tuple[str, ...] = ("api_key", "apikey", "api-key", "x-api-key", "key", "token", "access_token",
                                 "refresh_token", "id_token", "auth_token", "client_secret", "secret", "password",
                                 "passwd", "signature", "sig", "x-amz-signature", "x-goog-signature")


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))


_MASK = "***"
_FIELD_NAMES = _alternatives((*SECRET_NAMES, *SECRET_HEADERS))
_AUTH_HEADERS = _alternatives(h for h in SECRET_HEADERS if "cookie" not in h)
# "api_key": "…" / 'Authorization': '…' (JSON, Python reprs); the value may be cut off before its closing quote
_QUOTED_FIELD = re.compile(rf"""(?i)(["'])({_FIELD_NAMES})\1(\s*[:=]\s*)(["'])(?:\\.|(?!\4)[^\\])*(?:\4|$)""")
# (b'Authorization', b'Bearer …') header pairs, as httpcore logs them
_TUPLE_FIELD = re.compile(rf"""(?i)(\(b?)(["'])({_FIELD_NAMES})\2(,\s*b?)(["'])(?:\\.|(?!\5)[^\\])*(?:\5|$)""")
# Authorization: Bearer … / X-Api-Key: … (header lines, also flattened into one line)
_HEADER_LINE = re.compile(rf"(?i)(?<![\w-])({_AUTH_HEADERS})(\s*:\s*)"
                          r"(?:(bearer|basic|digest|token|negotiate|apikey)\s+)?[^\s,;\"'<>]+")
_COOKIE_LINE = re.compile(r"(?i)(?<![\w-])((?:set-)?cookie)(\s*:\s*)[^\r\n]+")
# ?api_key=… &token=… and form bodies
_NAME_VALUE = re.compile(rf"(?i)(?<![\w-])({_alternatives(SECRET_NAMES)})=[^&#\s\"'<>;,]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{6,}")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]+@")


def _forms(secret: str) -> set[str]:
    """The spellings of ``secret`` a server may echo: raw, percent-encoded, JSON-escaped."""
    return {f for f in (secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1])
            if f}


def redact(text: str, secrets: Iterable[str | None] = (), patterns: Iterable[str | re.Pattern] = ()) -> str:
    """``text`` with every secret replaced by ``***``.

    Removed: each value in ``secrets`` (raw, percent-encoded and JSON-escaped; empty ones ignored); values of
    :data:`SECRET_HEADERS` in header lines (``Authorization: Bearer …`` keeps the scheme, drops the credential)
    and ``Bearer …`` tokens anywhere; ``name=value`` parameters and ``"name": "value"`` fields whose name is in
    :data:`SECRET_NAMES` or :data:`SECRET_HEADERS`; the password of ``scheme://user:password@host`` URLs; and every
    match of the extra regular expressions in ``patterns``.

    Args:
        text: any text (an error message, a response body, a URL, a log line).
        secrets: exact values to hide (API keys, tokens the caller knows).
        patterns: extra regular expressions whose matches are hidden.

    Returns:
        The redacted text (unchanged when it holds no secret). Redact before cutting a text to length.
    """
    out = str(text)
    for form in sorted({f for s in secrets if s for f in _forms(str(s))}, key=len, reverse=True):
        out = out.replace(form, _MASK)
    out = _QUOTED_FIELD.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{_MASK}{m[4]}", out)
    out = _TUPLE_FIELD.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{m[2]}{m[4]}{m[5]}{_MASK}{m[5]}", out)
    out = _HEADER_LINE.sub(lambda m: f"{m[1]}{m[2]}{m[3] + ' ' if m[3] else ''}{_MASK}", out)
    out = _COOKIE_LINE.sub(rf"\1\2{_MASK}", out)
    out = _NAME_VALUE.sub(rf"\1={_MASK}", out)
    out = _BEARER.sub(rf"\1 {_MASK}", out)
    out = _URL_PASSWORD.sub(rf"\1:{_MASK}@", out)
    for p in patterns:
        out = re.sub(p, _MASK, out)
    return out


class _RedactingFilter(logging.Filter):
    """Passes the records of httpx and httpcore through :func:`redact`: they log request URLs (INFO) and response
    headers (DEBUG), which may carry tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's business
            return True
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, ()
        return True


for _name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
              "httpcore.socks"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactingFilter) for f in _logger.filters):
        _logger.addFilter(_RedactingFilter())


@dataclass
class HttpConfig:
    """HTTP client behaviour (:class:`HttpClient`).

    Attributes:
        timeout_s: read/write/pool timeout of one request (and connect timeout unless ``connect_timeout_s``), s:
            the longest wait for the next bytes.
        max_retries: retries after the first attempt on transport errors, exceeded deadlines, HTTP 429 and 5xx
            (total attempts = ``max_retries + 1``). Other 4xx are not retried.
        backoff_base_s: first back-off, seconds; attempt ``k`` waits ``backoff_base_s * 2**k`` (capped) plus up to
            ``jitter`` of it, or the server's ``Retry-After`` when it sends one (capped by ``backoff_max_s``).
        backoff_max_s: cap of one back-off wait, seconds.
        min_interval_s: rate limit, minimum seconds between the starts of two requests (0 = unlimited).
        user_agent: ``User-Agent`` header.
        connect_timeout_s: connect timeout, seconds (``None`` = ``timeout_s``).
        max_redirects: more redirects than this is a failure (catches redirect loops).
        jitter: random extra share of each exponential back-off wait (0 = deterministic waits).
        deadline_s: the most one attempt may take in total, seconds: connect + sending + every read of the
            response, redirects included (``None``: no overall limit, only the per-read timeouts). A request then
            takes at most ``(max_retries + 1) * deadline_s`` plus the back-off waits.
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
    deadline_s: float | None = 300.0


class HttpError(RuntimeError):
    """A request that failed for good (after retries, or a non-retryable condition). The message never contains
    secrets.

    Attributes:
        status: the last HTTP status, ``None`` for transport errors.
        kind: ``status`` (an HTTP error status), ``timeout`` (no bytes for ``timeout_s``), ``deadline`` (the
            attempt ran past ``deadline_s``), ``transport`` (connection failed, reset …), ``redirects`` (more than
            ``max_redirects``), ``scheme`` (a redirect to a non-HTTP URL), ``content_type`` (a type the caller
            refused) or ``too_large`` (body over the limit).
        attempts: requests made for this URL, retries included.
        reason: the message without its ``METHOD URL failed:`` prefix (redacted too).
    """

    def __init__(self, message: str, status: int | None = None, kind: str = "status", attempts: int = 1,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.attempts = status, kind, attempts
        self.reason = message if reason is None else reason


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


def _shutdown(stream: Any) -> None:
    """Shut the socket of an httpcore network stream down (a read blocked on it in another thread returns)."""
    try:
        sock = stream.get_extra_info("socket")
    except Exception:  # noqa: BLE001 - a stream without a socket (test transports, proxies)
        return
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Deadline:
    """The deadline of one attempt (internal).

    A timer thread shuts down every socket the attempt opened (reported by httpcore's ``trace`` request extension)
    when ``seconds`` (plus a grace of ``GRACE_S``, so that a silent server whose read timeout equals the deadline
    reports as a timeout) have passed, so that a read blocked on a dripping server ends at the deadline; the
    per-phase timeouts are capped by the time left; and :meth:`expired` lets body loops check the clock between
    chunks.
    """

    GRACE_S = 0.1

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.fired = False
        self.capped = {"connect": False, "read": False}  # whether the deadline shortened a phase's timeout
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(max(0.0, seconds) + self.GRACE_S, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def remaining(self) -> float | None:
        return None if self.seconds is None else self.seconds - (time.monotonic() - self.start)

    def expired(self, slack: float = 0.0) -> bool:
        left = self.remaining()
        return left is not None and (self.fired or left <= slack)

    def timeout(self, base: httpx.Timeout) -> httpx.Timeout:
        """``base`` with every phase capped by the time left."""
        left = self.remaining()
        if left is None:
            return base
        left = max(left, 0.001)

        def cap(v: float | None) -> float:
            return left if v is None else min(v, left)

        self.capped = {"connect": base.connect is None or left < base.connect - 0.01,
                       "read": base.read is None or left < base.read - 0.01}
        return httpx.Timeout(connect=cap(base.connect), read=cap(base.read), write=cap(base.write),
                             pool=cap(base.pool))

    def trace(self, event: str, info: dict) -> None:
        """httpcore ``trace`` callback: watch each connection the attempt opens (TCP, then TLS)."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is None or self.seconds is None:
            return
        with self._lock:
            self._streams.append(stream)
            fired = self.fired
        if fired:
            _shutdown(stream)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            streams = list(self._streams)
        for s in streams:
            _shutdown(s)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class HttpClient:
    """Rate-limited, retrying HTTP client with a deadline per attempt.

    Args:
        config: timeouts, deadline, retries, back-off, rate limit, redirects (:class:`HttpConfig`).
        headers: default headers sent with every request.
        secret_headers: names of headers whose values are secrets (redacted from logs and errors), besides
            :data:`SECRET_HEADERS` (``Authorization``, ``X-Api-Key`` …, always secret).
        secrets: further values to redact from this client's errors and log records, e.g. an API key the caller
            sends as a query parameter (a server may echo it bare in an error body).
        sleep: the sleep function (injectable so tests do not wait).
        transport: optional :class:`httpx.BaseTransport` (tests).
    """

    def __init__(self, config: HttpConfig | None = None, headers: Mapping[str, str] | None = None,
                 secret_headers: tuple[str, ...] = (), sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None, secrets: Iterable[str] = ()) -> None:
        self.config = c = config or HttpConfig()
        hdrs = {"User-Agent": c.user_agent}
        hdrs.update(headers or {})
        self._secret_names = {s.lower() for s in (*SECRET_HEADERS, *secret_headers)}
        self._secrets = (*self._secret_values(hdrs), *(str(s) for s in secrets if s))
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_start = 0.0
        self.n_requests = 0  # attempts made, retries included
        # with a deadline every request opens its own connection: the deadline's timer must know the socket
        limits = httpx.Limits(max_keepalive_connections=0) if c.deadline_s is not None else httpx.Limits()
        self.client = httpx.Client(
            headers=hdrs, timeout=httpx.Timeout(c.timeout_s, connect=c.connect_timeout_s or c.timeout_s),
            follow_redirects=True, max_redirects=c.max_redirects, transport=transport, limits=limits,
        )

    def _secret_values(self, headers: Mapping[str, str] | None) -> tuple[str, ...]:
        return tuple(str(v) for k, v in (headers or {}).items() if k.lower() in self._secret_names and v)

    def redact(self, text: str, secrets: Iterable[str | None] = ()) -> str:
        """:func:`redact` with this client's secret header values (and ``secrets``)."""
        return redact(text, (*self._secrets, *secrets))

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

    def _deadline_hit(self) -> _Retryable:
        return _Retryable(f"deadline of {self.config.deadline_s:g} s exceeded (connect + reading the whole "
                          "response)", None, "deadline")

    def _with_retries(self, method: str, url: str, attempt_once: Callable[[_Deadline], T],
                      secrets: tuple[str, ...] = (), max_retries: int | None = None) -> T:
        """Run ``attempt_once(deadline)`` until it returns, raises a non-retryable :class:`HttpError`, or retries
        run out. Every message is redacted with the client's and the request's ``secrets``."""
        retries = self.config.max_retries if max_retries is None else max_retries

        def fail(reason: str, status: int | None, kind: str, attempts: int) -> HttpError:
            reason = self.redact(reason, secrets)
            return HttpError(f"{method} {self.redact(url, secrets)} failed: {reason}", status=status, kind=kind,
                             attempts=attempts, reason=reason)

        last: _Retryable | None = None
        for attempt in range(retries + 1):
            self._wait_rate_limit()
            self.n_requests += 1
            deadline = _Deadline(self.config.deadline_s)
            try:
                return attempt_once(deadline)
            except _Retryable as e:
                last = e
            except HttpError as e:  # non-retryable, raised by the attempt itself
                raise fail(e.reason, e.status, e.kind, attempt + 1) from None
            except httpx.TooManyRedirects:
                raise fail(f"more than {self.config.max_redirects} redirects (loop?)", None, "redirects",
                           attempt + 1) from None
            except httpx.UnsupportedProtocol as e:
                try:
                    target = str(e.request.url)
                except RuntimeError:  # no request attached
                    target = ""
                if target and target != url:
                    raise fail(f"redirect to a non-HTTP URL {target} refused", None, "scheme", attempt + 1) from None
                raise fail(f"unsupported URL scheme ({e})", None, "scheme", attempt + 1) from None
            except httpx.HTTPError as e:
                phase = "connect" if isinstance(e, httpx.ConnectTimeout) else "read"
                if deadline.fired or (deadline.expired(slack=0.05) and (
                        deadline.capped[phase] or not isinstance(e, httpx.TimeoutException))):
                    last = self._deadline_hit()
                elif isinstance(e, httpx.TimeoutException):
                    last = _Retryable(f"timed out after {self.config.timeout_s:g} s ({type(e).__name__})", None,
                                      "timeout")
                elif isinstance(e, httpx.TransportError):
                    last = _Retryable(f"connection failed ({type(e).__name__}: {e})", None, "transport")
                else:
                    raise fail(f"{type(e).__name__}: {e}", None, "transport", attempt + 1) from None
            finally:
                deadline.cancel()
            if last.kind == "status" and last.status not in _RETRY_STATUS:
                raise fail(str(last), last.status, "status", attempt + 1)
            if attempt < retries:
                wait = self._backoff(attempt, last.response)
                log.info("retry %d/%d of %s %s in %.1fs (%s)", attempt + 1, retries, method,
                         self.redact(url, secrets), wait, self.redact(str(last), secrets))
                self._sleep(wait)
        assert last is not None
        raise fail(str(last), last.status, last.kind, retries + 1)

    def _error_status(self, r: httpx.Response, secrets: tuple[str, ...]) -> _Retryable:
        """An HTTP error status with the start of the body, redacted BEFORE it is cut to 300 characters."""
        try:
            body = self.redact(r.text, secrets)[:300].replace("\n", " ").replace("\r", " ")
        except (httpx.HTTPError, UnicodeError, LookupError):
            body = ""
        return _Retryable(f"HTTP {r.status_code} {r.reason_phrase}: {body}".rstrip(": "), r.status_code, "status", r)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; return the 2xx/3xx response (body read), within the deadline.

        Raises:
            HttpError: a non-retryable status (4xx other than 429), too many redirects, a redirect to a non-HTTP
                URL, or retries exhausted (``kind="deadline"`` when the last attempt ran past ``deadline_s``).
                Message redacted.
        """
        secrets = self._secret_values(kwargs.get("headers"))

        def once(deadline: _Deadline) -> httpx.Response:
            with self.client.stream(method, url, timeout=deadline.timeout(self.client.timeout),
                                    extensions={"trace": deadline.trace}, **kwargs) as response:
                deadline.watch(response.extensions.get("network_stream"))
                response.read()
            if deadline.fired:  # the timer shut the socket: a body delimited by the connection's end is cut
                raise self._deadline_hit()
            if response.status_code >= 400:
                raise self._error_status(response, secrets)
            return response

        return self._with_retries(method, url, once, secrets)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get_limited(self, url: str, max_bytes: int, *, accept_type: Callable[[str], bool] | None = None,
                    max_retries: int | None = None) -> LimitedResponse:
        """GET ``url`` streaming, refusing bodies over ``max_bytes`` (by ``Content-Length`` or while reading),
        within the deadline (checked between chunks too).

        Args:
            url: the URL.
            max_bytes: body size limit.
            accept_type: called with the response's content type (lower case, no parameters) before the body is
                read; ``False`` fails at once (``kind="content_type"``) without downloading it.
            max_retries: override of ``HttpConfig.max_retries`` for this call.

        Raises:
            HttpError: as :meth:`request`; ``kind="too_large"`` (not retried) for a body over the limit,
                ``kind="content_type"`` for a type ``accept_type`` refused.
        """
        def once(deadline: _Deadline) -> LimitedResponse:
            with self.client.stream("GET", url, timeout=deadline.timeout(self.client.timeout),
                                    extensions={"trace": deadline.trace}) as r:
                deadline.watch(r.extensions.get("network_stream"))
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise HttpError(f"body of {declared} bytes exceeds the {max_bytes}-byte limit",
                                    status=r.status_code, kind="too_large")
                if r.status_code >= 400:
                    raise _Retryable(f"HTTP {r.status_code}", r.status_code, "status", r)
                ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
                if accept_type is not None and not accept_type(ctype):
                    raise HttpError(f"unsupported content type {ctype!r}", status=r.status_code,
                                    kind="content_type")
                buf = bytearray()
                for part in r.iter_bytes():
                    if deadline.expired():
                        raise self._deadline_hit()
                    buf.extend(part)
                    if len(buf) > max_bytes:
                        raise HttpError(f"body exceeds the {max_bytes}-byte limit", status=r.status_code,
                                        kind="too_large")
                if deadline.fired:
                    raise self._deadline_hit()
                return LimitedResponse(url, str(r.url), r.status_code, ctype, bytes(buf))

        return self._with_retries("GET", url, once, max_retries=max_retries)
