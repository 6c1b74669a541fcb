"""Stage ``search`` (§2.2.1): product → candidate web pages through a pluggable search provider.

A provider implements :class:`SearchProvider`. Two ship with patlink:

* :class:`SearXNGProvider` — a self-hosted SearXNG metasearch instance through its JSON API
  (``GET {base}/search?q=...&format=json``; the instance's ``settings.yml`` must list ``json`` under
  ``search.formats``);
* :class:`URLListProvider` — URLs the user already has, from a CSV/TSV (``product``, ``url``) or JSONL file.

Query-based providers get one query per template (``"{company} {product}"``, ``+ datasheet``, ``+ technical
specifications``, ``+ user manual``) and the top ``top_k`` results of each are kept.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import httpx

from patlink.data.vpm import normalize_product_name
from patlink.http import redact
from patlink.pipeline.config import SearchConfig

__all__ = ["SearchResult", "SearchProvider", "SearXNGProvider", "URLListProvider", "SearchError", "make_provider",
           "build_queries", "read_url_list"]


class SearchError(Exception):
    """The search engine failed or answered something unusable (recorded as a failure of that query)."""


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
    """

    name: str
    uses_queries: bool

    def search(self, query: str | None, product: str, top_k: int) -> list[SearchResult]:
        """Top ``top_k`` results for ``query`` (or for ``product`` when ``uses_queries`` is False)."""
        ...


def build_queries(company: str, product: str, templates) -> list[str]:
    """The queries of §2.2.1 for one product, duplicates removed, e.g. ``"Honeywell HC900 datasheet"``."""
    out = []
    for t in templates:
        q = " ".join(t.format(company=company, product=product).split())
        if q and q not in out:
            out.append(q)
    return out


class SearXNGProvider:
    """SearXNG JSON API client.

    Args:
        base_url: the instance root, e.g. ``http://localhost:8888`` (``/search`` is appended).
        timeout_s: request timeout, seconds.
        extra_params: extra parameters (``language``, ``categories``, ``engines`` ...).
        client: an ``httpx.Client`` to reuse (tests); one is created otherwise.
    """

    name = "searxng"
    uses_queries = True

    def __init__(self, base_url: str, timeout_s: float = 20.0, extra_params: dict | None = None,
                 client: httpx.Client | None = None):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"--searxng-url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.extra_params = dict(extra_params or {})
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=True)

    def search(self, query: str | None, product: str, top_k: int) -> list[SearchResult]:
        params = {"q": query or product, "format": "json", **self.extra_params}
        try:
            r = self.client.get(self.base_url + "/search", params=params)
        except httpx.HTTPError as e:
            raise SearchError(redact(f"SearXNG unreachable at {self.base_url}: {type(e).__name__}")) from None
        if r.status_code == 403:
            raise SearchError("SearXNG refused format=json (HTTP 403): add 'json' to search.formats in its "
                              "settings.yml")
        if r.status_code >= 400:
            raise SearchError(f"SearXNG answered HTTP {r.status_code}")
        try:
            data = r.json()
        except ValueError:
            raise SearchError("SearXNG answer is not JSON (is format=json enabled?)") from None
        results = []
        for hit in data.get("results", []):
            url = hit.get("url")
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


def make_provider(cfg: SearchConfig) -> SearchProvider | None:
    """The provider ``cfg`` selects, or ``None`` for ``provider="none"``.

    Raises:
        ValueError: unknown provider or missing ``searxng_url`` / ``urls_file``.
    """
    if cfg.provider == "none":
        return None
    if cfg.provider == "searxng":
        if not cfg.searxng_url:
            raise ValueError("--search searxng needs --searxng-url URL")
        return SearXNGProvider(cfg.searxng_url, cfg.timeout_s, cfg.extra_params)
    if cfg.provider == "urls":
        if not cfg.urls_file:
            raise ValueError("the URL-list provider needs --urls FILE")
        return URLListProvider(cfg.urls_file)
    raise ValueError(f"unknown search provider {cfg.provider!r} (use searxng, urls or none)")
