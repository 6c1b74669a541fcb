"""Stage ``search`` (§2.2.1): product → candidate web pages through a pluggable search provider.

A provider implements :class:`SearchProvider`. Five ship with patlink:

* :class:`GoogleCSEProvider` — Google Programmable Search through the Custom Search JSON API
  (``GET https://www.googleapis.com/customsearch/v1?key=KEY&cx=ENGINE_ID&q=...&num=N[&start=S]``; answer
  ``{"items": [{"title", "link", "snippet"}, ...], "queries": {"nextPage": [...]}, ...}``; 10 results a call,
  the first 100 reachable);
* :class:`BraveSearchProvider` — the Brave Search API (``GET https://api.search.brave.com/res/v1/web/search?q=...
  &count=N[&offset=PAGE]`` with header ``X-Subscription-Token: KEY``; answer ``{"web": {"results": [{"title",
  "url", "description"}, ...]}, "query": {"more_results_available": ...}}``; 20 results a call, 10 pages);
* :class:`SerpAPIProvider` — SerpAPI's Google results (``GET https://serpapi.com/search.json?engine=google&q=...
  &api_key=KEY[&start=OFFSET]``; answer ``{"organic_results": [{"position", "title", "link", "snippet"}, ...],
  "search_metadata": {"status"}, "serpapi_pagination": {"next"}}``), the closest to the Google searches of
  El Bouari & de Rassenfosse;
* :class:`SearXNGProvider` — a self-hosted SearXNG metasearch instance through its JSON API
  (``GET {base}/search?q=...&format=json``; the instance's ``settings.yml`` must list ``json`` under
  ``search.formats``);
* :class:`URLListProvider` — URLs the user already has, from a CSV/TSV (``product``, ``url``) or JSONL file.

Query-based providers get one query per template (``"{company} {product}"``, ``+ datasheet``, ``+ technical
specifications``, ``+ user manual``) and the top ``top_k`` results of each are kept.

Every engine is reached through :class:`patlink.http.HttpClient`: a deadline per attempt (``timeout_s``),
retries with back-off on timeouts, connection errors, HTTP 429 and 5xx (``Retry-After`` honoured), an optional
rate limit. The API providers read their key from an environment variable when they are made
(:func:`make_provider`); the key is kept in memory only, never stored, logged, shown in a ``repr``, put in a
cache key or in an error message (Google and SerpAPI send it in the query string: every message is passed
through :func:`patlink.http.redact` with the key). An API that rejects the key or whose quota is exhausted raises
a *fatal* :class:`SearchError` (:class:`SearchAuthError`, :class:`SearchQuotaError`): every further query would
fail the same way, so the pipeline stops its search stage with that one line instead of recording a failure per
query.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from patlink.data.vpm import normalize_product_name
from patlink.http import HttpClient, HttpConfig, HttpError, redact
from patlink.pipeline.config import FetchConfig, SearchConfig

__all__ = ["SearchResult", "SearchProvider", "SearXNGProvider", "URLListProvider", "GoogleCSEProvider",
           "BraveSearchProvider", "SerpAPIProvider", "SearchError", "SearchAuthError", "SearchQuotaError",
           "PROVIDERS", "make_provider", "build_queries", "check_templates", "read_url_list"]

#: ``--search`` values: the API providers, then the self-hosted engine, the URL list and none.
PROVIDERS: tuple[str, ...] = ("google", "brave", "serpapi", "searxng", "urls", "none")


class SearchError(Exception):
    """The search engine failed or answered something unusable (recorded as a failure of that query).

    Attributes:
        fatal: ``True`` when every further query would fail the same way (key rejected, quota exhausted, wrong
            engine ID): the pipeline stops its search stage and records nothing for the query.
    """

    fatal = False

    def __init__(self, message: str, *, fatal: bool | None = None) -> None:
        super().__init__(message)
        if fatal is not None:
            self.fatal = fatal


class SearchAuthError(SearchError):
    """The API rejected the key (HTTP 401/403, or its own "invalid key" answer). Fatal."""

    fatal = True


class SearchQuotaError(SearchError):
    """The API's quota or rate limit is exhausted (HTTP 429 after the retries, Google's daily-limit 403). Fatal."""

    fatal = True


@dataclass
class SearchResult:
    """One hit: ``url``, ``title``, ``snippet``, and its 1-based ``rank`` for the query."""

    url: str
    title: str = ""
    snippet: str = ""
    rank: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


class SearchProvider(Protocol):
    """Interface of a search provider.

    Attributes:
        name: short identifier, part of the cache key (results of different providers are cached apart).
        uses_queries: ``True`` if :meth:`search` answers text queries; ``False`` for providers that answer per
            product (the URL list), called once per product with ``query=None``.

    A provider may also have ``cache_id`` (what its results depend on besides the query: endpoint, engine ID;
    never a key), part of the stage's input hash, and ``close()``, called when the stage ends.
    """

    name: str
    uses_queries: bool

    def search(self, query: str | None, product: str, top_k: int) -> list[SearchResult]:
        """Top ``top_k`` results for ``query`` (or for ``product`` when ``uses_queries`` is False)."""
        ...


_TEMPLATE_FIELDS = ("company", "product")


def check_templates(templates: Iterable[str]) -> tuple[str, ...]:
    """Check query templates: at least one; each names ``{product}``, and no placeholder but ``{company}`` and
    ``{product}``.

    Returns:
        The templates as a tuple.

    Raises:
        ValueError: one line naming the bad template.
    """
    out = tuple(templates)
    if not out:
        raise ValueError("no query templates: give --query-template at least once (or none for the paper's four)")
    for t in out:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(t) if f is not None]
        except ValueError as e:
            raise ValueError(f"query template {t!r}: {e} (write literal braces as {{{{ and }}}})") from None
        bad = [f for f in fields if f not in _TEMPLATE_FIELDS]
        if bad:
            raise ValueError(f"query template {t!r}: unknown placeholder {{{bad[0]}}} (use {{company}} and "
                             "{product})")
        if "product" not in fields:
            raise ValueError(f"query template {t!r} has no {{product}} placeholder")
    return out


def build_queries(company: str, product: str, templates) -> list[str]:
    """The queries of §2.2.1 for one product, duplicates removed, e.g. ``"Honeywell HC900 datasheet"``."""
    out = []
    for t in templates:
        q = " ".join(t.format(company=company, product=product).split())
        if q and q not in out:
            out.append(q)
    return out


def _check_http_url(url: str, option: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"{option} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _http_client(timeout_s: float, retries: int, backoff_s: float, min_interval_s: float,
                 headers: dict[str, str] | None, secret_headers: tuple[str, ...],
                 sleep: Callable[[float], None], secrets: tuple[str, ...] = ()) -> HttpClient:
    if timeout_s <= 0:
        raise ValueError(f"the search timeout must be > 0 seconds, got {timeout_s}")
    if retries < 0:
        raise ValueError(f"search retries must be >= 0, got {retries}")
    cfg = HttpConfig(timeout_s=timeout_s, connect_timeout_s=min(timeout_s, 10.0), deadline_s=timeout_s,
                     max_retries=retries, backoff_base_s=backoff_s, backoff_max_s=max(60.0, backoff_s),
                     min_interval_s=max(0.0, min_interval_s), user_agent=FetchConfig().user_agent, max_redirects=5)
    return HttpClient(cfg, headers=headers, secret_headers=secret_headers, sleep=sleep, secrets=secrets)


_MESSAGE_FIELD = re.compile(r'"(?:message|detail|error)"\s*:\s*"((?:\\.|[^"\\])*)')


def _api_message(reason: str) -> str:
    """The API's own words from an :class:`HttpError` reason (``HTTP 401 Unauthorized: {json body start}``):
    Google's ``error.message``, Brave's ``error.detail`` (with its ``code``), SerpAPI's ``error``; the body
    start when it is not JSON. At most 200 characters, one line."""
    body = reason.split(": ", 1)[1] if ": " in reason else ""
    msg = ""
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, str):
            msg = err
        elif isinstance(err, dict):
            text = err.get("message") or err.get("detail") or ""
            code = err.get("code") if isinstance(err.get("code"), str) else ""
            msg = f"{code}: {text}" if code and text else str(text or code)
    if not msg:
        m = _MESSAGE_FIELD.search(body)  # a body cut at 300 characters is no longer valid JSON
        msg = m.group(1).replace('\\"', '"') if m else body
    msg = " ".join(str(msg).split())
    return msg[:197] + "..." if len(msg) > 200 else msg


class _APIProvider:
    """Common part of the key-holding web search APIs (internal): key from the environment, the HTTP client,
    error classification, paging and de-duplication."""

    name = ""
    label = ""
    default_base_url = ""
    path = ""
    default_key_env = ""
    max_results = 100
    uses_queries = True

    def __init__(self, *, key_env: str | None = None, base_url: str | None = None, timeout_s: float = 20.0,
                 retries: int = 2, backoff_s: float = 1.0, min_interval_s: float = 0.0,
                 extra_params: dict[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.key_env = key_env or self.default_key_env
        key = os.environ.get(self.key_env, "").strip()
        if not key:
            raise ValueError(f"--search {self.name} needs an API key in the environment variable {self.key_env} "
                             f"(export {self.key_env}=YOUR_KEY, or name another variable with --search-key-env)")
        self._key = key
        self.base_url = _check_http_url(base_url or self.default_base_url, "--search-base-url")
        self.extra_params = {str(k): str(v) for k, v in (extra_params or {}).items()}
        # the client knows the key too: its retry log lines and errors are redacted with it
        self.http = _http_client(timeout_s, retries, backoff_s, min_interval_s, self._headers(key),
                                 self._secret_headers, sleep, secrets=(key,))

    _secret_headers: tuple[str, ...] = ()

    def _headers(self, key: str) -> dict[str, str]:
        return {"Accept": "application/json"}

    @property
    def cache_id(self) -> str:
        """What the results depend on besides the query (the endpoint; never the key)."""
        return self.base_url + self.path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, key_env={self.key_env!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _redact(self, text: str) -> str:
        return redact(text, (self._key,))

    # -- one call ---------------------------------------------------------------------------------------------
    def _get(self, params: dict[str, Any]) -> dict:
        """GET the API with ``params`` (the extra parameters first, never replacing ours); the decoded JSON object.

        Raises:
            SearchError (or a fatal subclass), its message redacted.
        """
        try:
            r = self.http.get(self.base_url + self.path, params={**self.extra_params, **params},
                              follow_redirects=False)
        except HttpError as e:
            raise self._error(e) from None
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise SearchError(self._redact(f"{self.label} request failed: {type(e).__name__}: {e}")) from None
        if r.status_code >= 300:  # an API does not redirect; following one would carry the key elsewhere
            raise SearchError(f"{self.label} answered HTTP {r.status_code} (a redirect) at {self.base_url}; "
                              "is the endpoint right?", fatal=True)
        try:
            data = r.json()
        except ValueError:
            ctype = r.headers.get("content-type", "?").split(";")[0]
            raise SearchError(f"{self.label} answer is not JSON (HTTP {r.status_code}, {ctype})") from None
        if not isinstance(data, dict):
            raise SearchError(f"{self.label} answer is not a JSON object (got {type(data).__name__})")
        return data

    def _classify(self, status: int, reason: str) -> str | None:
        """``"auth"``, ``"quota"`` or ``None`` for an HTTP error status."""
        if status in (401, 403):
            return "auth"
        if status == 429:
            return "quota"
        return None

    def _error(self, e: HttpError) -> SearchError:
        reason = self._redact(e.reason)
        if e.kind in ("timeout", "deadline"):
            return SearchError(f"{self.label} did not answer in time at {self.base_url} ({reason}; "
                               f"{e.attempts} attempt(s))")
        if e.kind != "status" or e.status is None:
            return SearchError(f"{self.label} unreachable at {self.base_url}: {reason}")
        detail = self._redact(_api_message(reason))
        said = f"HTTP {e.status}" + (f": {detail}" if detail else "")
        kind = self._classify(e.status, reason)
        if kind == "auth":
            return SearchAuthError(f"{self.label} rejected the API key in {self.key_env} ({said}): check the key"
                                   + self._auth_hint)
        if kind == "quota":
            return SearchQuotaError(f"{self.label} quota exhausted ({said}, after {e.attempts} attempt(s)): wait "
                                    "for it to reset or raise the plan's limit; re-run to resume")
        if kind == "request":
            return SearchError(f"{self.label} refused the request ({said}){self._request_hint}", fatal=True)
        return SearchError(f"{self.label} answered {said}" + (f" (after {e.attempts} attempts)"
                                                               if e.attempts > 1 else ""))

    _auth_hint = ""
    _request_hint = ""

    # -- paging -----------------------------------------------------------------------------------------------
    def _page(self, query: str, page: int, top_k: int) -> tuple[list[tuple[str, str, str]], bool]:
        """Results ``(url, title, snippet)`` of page ``page`` (0-based) and whether a next page may follow."""
        raise NotImplementedError

    def search(self, query: str | None, product: str, top_k: int) -> list[SearchResult]:
        """The top ``top_k`` results (1 <= top_k <= :attr:`max_results`), paging as needed; a URL seen on an
        earlier page is not repeated. Ranks are 1-based, in the engine's order.

        Raises:
            ValueError: ``top_k`` out of range. SearchError: the API failed (``fatal`` when no query can succeed).
        """
        if not 1 <= top_k <= self.max_results:
            raise ValueError(f"--search-top-k must be between 1 and {self.max_results} for {self.name}, got {top_k}")
        q = " ".join((query or product).split())
        out: list[SearchResult] = []
        seen: set[str] = set()
        page = 0
        while True:
            hits, more = self._page(q, page, top_k)
            for url, title, snippet in hits:
                if url in seen:
                    continue
                seen.add(url)
                out.append(SearchResult(url, title, snippet, len(out) + 1))
                if len(out) >= top_k:
                    return out
            if not more or not hits:
                return out
            page += 1

    @staticmethod
    def _list(data: dict, *path: str) -> list:
        """``data[path[0]][path[1]]...`` as a list of objects: missing → ``[]``; anything else than a list of
        objects → :class:`SearchError`."""
        obj: Any = data
        for p in path:
            if obj is None:
                return []
            if not isinstance(obj, dict):
                raise SearchError(f"unexpected answer: {'.'.join(path)} is not inside a JSON object")
            obj = obj.get(p)
        if obj is None:
            return []
        if not isinstance(obj, list):
            raise SearchError(f"unexpected answer: {'.'.join(path)} is a {type(obj).__name__}, not a list")
        return [h for h in obj if isinstance(h, dict)]


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


class GoogleCSEProvider(_APIProvider):
    """Google Programmable Search (Custom Search JSON API, ``cse.list``).

    Args:
        cx: the Programmable Search Engine ID; ``None`` = the environment variable ``cx_env``.
        cx_env: variable holding the engine ID when ``cx`` is not given (default ``GOOGLE_CSE_ID``).
        key_env: variable holding the API key (default ``GOOGLE_CSE_API_KEY``).
        base_url: API root (default ``https://www.googleapis.com``; ``/customsearch/v1`` is appended).
        timeout_s, retries, backoff_s, min_interval_s, extra_params, sleep: see :class:`SearchConfig`.

    ``num`` is at most 10 a call; further results are asked with ``start`` (1-based), up to result 100 (the
    API refuses ``start + num > 101``). HTTP 401/403 (not quota) and 400 "API key not valid" →
    :class:`SearchAuthError`; 429 and the 403 ``dailyLimitExceeded``/``quotaExceeded``/``rateLimitExceeded`` →
    :class:`SearchQuotaError`; another 400 (usually a wrong engine ID) is fatal too.

    Raises:
        ValueError: the key or engine ID variable is unset, or the base URL is not http(s).
    """

    name = "google"
    label = "Google Programmable Search"
    default_base_url = "https://www.googleapis.com"
    path = "/customsearch/v1"
    default_key_env = "GOOGLE_CSE_API_KEY"
    max_results = 100
    per_call = 10
    _auth_hint = " (and that the Custom Search JSON API is enabled for its Google Cloud project)"
    _request_hint = ": check the search engine ID (--google-cx or GOOGLE_CSE_ID) and any extra parameters"

    def __init__(self, cx: str | None = None, *, cx_env: str = "GOOGLE_CSE_ID", **kw: Any) -> None:
        cx = (cx or os.environ.get(cx_env, "")).strip()
        if not cx:
            raise ValueError(f"--search google needs the Programmable Search Engine ID: --google-cx ID or the "
                             f"environment variable {cx_env}")
        self.cx = cx
        super().__init__(**kw)

    @property
    def cache_id(self) -> str:
        return f"{self.base_url}{self.path}?cx={self.cx}"

    def __repr__(self) -> str:
        return f"GoogleCSEProvider(base_url={self.base_url!r}, cx={self.cx!r}, key_env={self.key_env!r})"

    _QUOTA_WORDS = ("quota", "dailylimitexceeded", "ratelimitexceeded", "userratelimitexceeded", "limitexceeded",
                    "resource_exhausted")

    def _classify(self, status: int, reason: str) -> str | None:
        low = reason.lower()
        if status == 429 or (status == 403 and any(w in low for w in self._QUOTA_WORDS)):
            return "quota"
        if status in (401, 403) or (status == 400 and ("api_key_invalid" in low or "api key not valid" in low
                                                       or "api key expired" in low)):
            return "auth"
        if status == 400:
            return "request"
        return None

    def _page(self, query: str, page: int, top_k: int) -> tuple[list[tuple[str, str, str]], bool]:
        num = min(self.per_call, top_k)
        start = 1 + page * num
        if start + num - 1 > self.max_results:
            return [], False
        params: dict[str, Any] = {"key": self._key, "cx": self.cx, "q": query, "num": num}
        if start > 1:
            params["start"] = start
        data = self._get(params)
        items = self._list(data, "items")
        hits = [(_text(h.get("link")), _text(h.get("title")), _text(h.get("snippet"))) for h in items]
        queries = data.get("queries")
        has_next = bool(queries.get("nextPage")) if isinstance(queries, dict) else True
        more = len(items) >= num and has_next and start + 2 * num - 1 <= self.max_results
        return [h for h in hits if h[0]], more


class BraveSearchProvider(_APIProvider):
    """Brave Search API, web search.

    Args:
        key_env: variable holding the subscription token (default ``BRAVE_SEARCH_API_KEY``), sent in the
            ``X-Subscription-Token`` header.
        base_url: API root (default ``https://api.search.brave.com``; ``/res/v1/web/search`` is appended).
        timeout_s, retries, backoff_s, min_interval_s, extra_params, sleep: see :class:`SearchConfig`.

    ``count`` is at most 20 a call; further pages are asked with ``offset`` (in pages, at most 9), so up to 200
    results. HTTP 401/403 and 422 ``SUBSCRIPTION_TOKEN_INVALID`` → :class:`SearchAuthError`; 429 (rate or
    monthly quota, after the retries) → :class:`SearchQuotaError`.

    Raises:
        ValueError: the key variable is unset, or the base URL is not http(s).
    """

    name = "brave"
    label = "Brave Search"
    default_base_url = "https://api.search.brave.com"
    path = "/res/v1/web/search"
    default_key_env = "BRAVE_SEARCH_API_KEY"
    max_results = 200
    per_call = 20
    max_offset = 9
    _secret_headers = ("x-subscription-token",)

    def _headers(self, key: str) -> dict[str, str]:
        return {"Accept": "application/json", "X-Subscription-Token": key}

    def _classify(self, status: int, reason: str) -> str | None:
        if status == 422 and "token_invalid" in reason.lower():
            return "auth"
        return super()._classify(status, reason)

    def _page(self, query: str, page: int, top_k: int) -> tuple[list[tuple[str, str, str]], bool]:
        count = min(self.per_call, top_k)
        if page > self.max_offset:
            return [], False
        params: dict[str, Any] = {"q": query, "count": count}
        if page:
            params["offset"] = page
        data = self._get(params)
        results = self._list(data, "web", "results")
        hits = [(_text(h.get("url")), _text(h.get("title")), _text(h.get("description"))) for h in results]
        q = data.get("query")
        more_flag = q.get("more_results_available", True) if isinstance(q, dict) else True
        more = len(results) >= count and more_flag is not False and page < self.max_offset
        return [h for h in hits if h[0]], more


class SerpAPIProvider(_APIProvider):
    """SerpAPI, Google engine (``engine=google``; another SerpAPI engine with ``organic_results`` can be chosen
    with ``extra_params={"engine": ...}``).

    Args:
        key_env: variable holding the API key (default ``SERPAPI_API_KEY``), sent as ``api_key``.
        base_url: API root (default ``https://serpapi.com``; ``/search.json`` is appended).
        timeout_s, retries, backoff_s, min_interval_s, extra_params, sleep: see :class:`SearchConfig`.

    One call returns one Google result page (about 10 organic results); further pages are asked with ``start``
    (0-based result offset) while ``serpapi_pagination.next`` exists, up to 100 results. Each call costs one
    search of the plan. A search whose ``search_metadata.status`` is ``"Success"`` with no
    ``organic_results`` (SerpAPI then puts "Google hasn't returned any results" in ``error``) is an empty
    result; status ``"Error"`` is a :class:`SearchError`. HTTP 401/403 → :class:`SearchAuthError`; 429 (out
    of searches, or the hourly limit after the retries) → :class:`SearchQuotaError`.

    Raises:
        ValueError: the key variable is unset, or the base URL is not http(s).
    """

    name = "serpapi"
    label = "SerpAPI"
    default_base_url = "https://serpapi.com"
    path = "/search.json"
    default_key_env = "SERPAPI_API_KEY"
    max_results = 100
    page_size = 10

    @property
    def cache_id(self) -> str:
        return f"{self.base_url}{self.path}?engine={self.extra_params.get('engine', 'google')}"

    def _page(self, query: str, page: int, top_k: int) -> tuple[list[tuple[str, str, str]], bool]:
        start = page * self.page_size
        if start >= self.max_results:
            return [], False
        params: dict[str, Any] = {"engine": self.extra_params.get("engine", "google"), "q": query,
                                  "api_key": self._key}
        if start:
            params["start"] = start
        data = self._get(params)
        meta = data.get("search_metadata")
        status = meta.get("status") if isinstance(meta, dict) else None
        if status == "Error" or (status is None and "error" in data and "organic_results" not in data):
            raise SearchError(self._redact(f"SerpAPI search failed: {_text(data.get('error')) or 'status Error'}"))
        results = self._list(data, "organic_results")
        results.sort(key=lambda h: h.get("position") if isinstance(h.get("position"), int) else 10**6)
        hits = [(_text(h.get("link")), _text(h.get("title")), _text(h.get("snippet"))) for h in results]
        pag = data.get("serpapi_pagination") or data.get("pagination")
        more = bool(results) and isinstance(pag, dict) and bool(pag.get("next"))
        return [h for h in hits if h[0]], more


class SearXNGProvider:
    """SearXNG JSON API client (through :class:`patlink.http.HttpClient`: deadline, retries, back-off).

    Args:
        base_url: the instance root, e.g. ``http://localhost:8888`` (``/search`` is appended).
        timeout_s: deadline of one attempt (connect + reading the answer), seconds.
        extra_params: extra parameters (``language``, ``categories``, ``engines`` ...).
        client: an :class:`HttpClient` to reuse (tests); one is made from the other arguments otherwise.
        retries, backoff_s, min_interval_s, sleep: see :class:`SearchConfig`.

    Raises:
        ValueError: ``base_url`` is not http(s).
    """

    name = "searxng"
    uses_queries = True

    def __init__(self, base_url: str, timeout_s: float = 20.0, extra_params: dict | None = None,
                 client: HttpClient | None = None, *, retries: int = 2, backoff_s: float = 1.0,
                 min_interval_s: float = 0.0, sleep: Callable[[float], None] = time.sleep):
        self.base_url = _check_http_url(base_url, "--searxng-url")
        self.extra_params = dict(extra_params or {})
        self.client = client or _http_client(timeout_s, retries, backoff_s, min_interval_s, None, (), sleep)

    @property
    def cache_id(self) -> str:
        return self.base_url

    def __repr__(self) -> str:
        return f"SearXNGProvider(base_url={self.base_url!r})"

    def close(self) -> None:
        self.client.close()

    def search(self, query: str | None, product: str, top_k: int) -> list[SearchResult]:
        params = {**self.extra_params, "q": query or product, "format": "json"}
        try:
            r = self.client.get(self.base_url + "/search", params=params)
        except HttpError as e:
            if e.status == 403:
                raise SearchError("SearXNG refused format=json (HTTP 403): add 'json' to search.formats in its "
                                  "settings.yml") from None
            if e.kind == "status":
                raise SearchError(f"SearXNG answered HTTP {e.status}" + (f" (after {e.attempts} attempts)"
                                                                         if e.attempts > 1 else "")) from None
            if e.kind in ("timeout", "deadline"):
                raise SearchError(f"SearXNG did not answer in time at {self.base_url} ({e.reason})") from None
            raise SearchError(redact(f"SearXNG unreachable at {self.base_url}: {e.reason}")) from None
        try:
            data = r.json()
        except ValueError:
            raise SearchError("SearXNG answer is not JSON (is format=json enabled?)") from None
        if not isinstance(data, dict) or not isinstance(data.get("results", []), list):
            raise SearchError("SearXNG answer is not a JSON object with a 'results' list")
        results = []
        for hit in data.get("results", []):
            url = hit.get("url") if isinstance(hit, dict) else None
            if not url:
                continue
            results.append(SearchResult(url, hit.get("title") or "", hit.get("content") or "", len(results) + 1))
            if len(results) >= top_k:
                break
        return results


def read_url_list(path: str | Path) -> dict[str, list[str]]:
    """Read a user URL list: CSV/TSV with ``product`` and ``url`` columns, or JSONL objects with ``product`` and
    ``url`` (or ``urls``, a list). Product names are normalised like VPM names.

    Returns:
        ``{product: [url, ...]}`` in file order.

    Raises:
        FileNotFoundError: missing file. ValueError: missing columns or a malformed line (with its line number).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"URL list not found: {path}")
    text = path.read_text(encoding="utf-8")
    out: dict[str, list[str]] = {}

    def add(prod: str, url: str) -> None:
        prod, url = normalize_product_name(prod), url.strip()
        if prod and url and url not in out.setdefault(prod, []):
            out[prod].append(url)

    if path.suffix.lower() in (".jsonl", ".json"):
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                urls = obj.get("urls") or [obj["url"]]
                for u in urls:
                    add(obj["product"], u)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ValueError(f"{path}:{i}: expected {{\"product\": ..., \"url\": ...}}: {e}") from None
        return out
    delim = "\t" if path.suffix.lower() == ".tsv" or "\t" in text.split("\n", 1)[0] else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    cols = {c.lower().strip(): c for c in (reader.fieldnames or [])}
    if "product" not in cols or "url" not in cols:
        raise ValueError(f"{path}: header must have 'product' and 'url' columns, got {reader.fieldnames}")
    for row in reader:
        if row.get(cols["url"]) is None:
            raise ValueError(f"{path}:{reader.line_num}: missing url")
        add(row[cols["product"]] or "", row[cols["url"]] or "")
    return out


class URLListProvider:
    """URLs supplied by the user, per product (no search engine involved)."""

    name = "urls"
    uses_queries = False

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.urls = read_url_list(path)

    def search(self, query: str | None, product: str, top_k: int) -> list[SearchResult]:
        return [SearchResult(u, rank=i) for i, u in enumerate(self.urls.get(normalize_product_name(product), []), 1)]


def make_provider(cfg: SearchConfig, *, sleep: Callable[[float], None] = time.sleep) -> SearchProvider | None:
    """The provider ``cfg`` selects, or ``None`` for ``provider="none"``. The API providers read their key (and
    Google its engine ID) from the environment now; nothing is sent until :meth:`search`.

    Args:
        cfg: the search settings.
        sleep: back-off delay function (tests).

    Raises:
        ValueError: one line: unknown provider; missing ``searxng_url`` / ``urls_file``; an unset key (or engine
        ID) variable, named; a bad template; ``top_k`` out of the provider's range.
    """
    if cfg.provider == "none":
        return None
    if cfg.provider == "urls":
        if not cfg.urls_file:
            raise ValueError("the URL-list provider needs --urls FILE")
        return URLListProvider(cfg.urls_file)
    if cfg.provider not in PROVIDERS:
        raise ValueError(f"unknown search provider {cfg.provider!r} (use {', '.join(PROVIDERS)})")
    check_templates(cfg.templates)
    if cfg.top_k < 1:
        raise ValueError(f"--search-top-k must be at least 1, got {cfg.top_k}")
    common = dict(timeout_s=cfg.timeout_s, retries=cfg.retries, backoff_s=cfg.backoff_s,
                  min_interval_s=cfg.min_interval_s, sleep=sleep)
    if cfg.provider == "searxng":
        if not cfg.searxng_url:
            raise ValueError("--search searxng needs --searxng-url URL")
        return SearXNGProvider(cfg.searxng_url, extra_params=cfg.extra_params, **common)
    cls = {"google": GoogleCSEProvider, "brave": BraveSearchProvider, "serpapi": SerpAPIProvider}[cfg.provider]
    if cfg.top_k > cls.max_results:
        raise ValueError(f"--search-top-k must be between 1 and {cls.max_results} for {cfg.provider}, "
                         f"got {cfg.top_k}")
    kw = dict(key_env=cfg.api_key_env, base_url=cfg.api_base_url, extra_params=cfg.extra_params, **common)
    if cls is GoogleCSEProvider:
        return GoogleCSEProvider(cfg.google_cx, **kw)
    return cls(**kw)
