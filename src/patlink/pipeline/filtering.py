"""Stage ``filter`` (§2.2.2): de-duplication, a domain block list, the product-name-in-URL rule.

The rule of the paper is deliberately aggressive (precision over recall: missing pages are complemented by hand
later, §2.2.5): a URL is kept only if the product name, or a close variant, appears in its host or path.
Variants, compared after lower-casing, URL-unquoting and removing everything but letters and digits:

* the whole name (``"HC900 Process Controller"`` → ``hc900processcontroller``);
* the name without the company's words (``"Honeywell HC900"`` → ``hc900``);
* each model-like token of the name, i.e. containing a digit (``"FS-100"`` → ``fs100``), of at least
  ``min_name_chars`` characters.

An optional LLM judge (:meth:`patlink.pipeline.condense.Condenser.judge_url`) runs after these rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from patlink.pipeline.config import FilterConfig

__all__ = ["normalize_url", "name_variants", "name_in_url", "domain_blocked", "filter_urls", "FilterResult"]

_TRACKING = re.compile(r"^(utm_.*|gclid|fbclid|mc_eid|mc_cid|ref|ref_src)$", re.IGNORECASE)


def normalize_url(url: str) -> str:
    """De-duplication key of a URL: lower-case scheme and host, default port, fragment and tracking parameters
    (``utm_*``, ``gclid`` ...) dropped, trailing ``/`` removed from the path."""
    p = urlsplit(url.strip())
    host = (p.hostname or "").lower()
    port = p.port
    netloc = host if port is None or (p.scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(p.query, keep_blank_values=True) if not _TRACKING.match(k)])
    path = p.path.rstrip("/") or ""
    return urlunsplit((p.scheme.lower(), netloc, path, query, ""))


def _compact(s: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", unquote(s).lower())


def name_variants(product: str, company: str = "", min_chars: int = 3) -> list[str]:
    """Compact forms of ``product`` that count as "the name in the URL" (see module doc), longest first."""
    words = product.split()
    company_words = {_compact(w) for w in company.split()}
    out = {_compact(product), _compact(" ".join(w for w in words if _compact(w) not in company_words))}
    for tok in re.split(r"[\s/,;()]+", product):
        c = _compact(tok)
        if any(ch.isdigit() for ch in c) and len(c) >= min_chars:
            out.add(c)
    return sorted((v for v in out if len(v) >= min_chars), key=lambda v: (-len(v), v))


def name_in_url(product: str, url: str, company: str = "", min_chars: int = 3) -> bool:
    """Whether a variant of ``product`` appears in the host, path or query of ``url``.

    Names whose every variant is shorter than ``min_chars`` cannot be checked and pass.
    """
    variants = name_variants(product, company, min_chars)
    if not variants:
        return True
    p = urlsplit(url)
    hay = _compact((p.hostname or "") + p.path + "?" + p.query)
    return any(v in hay for v in variants)


def domain_blocked(url: str, blocked: tuple[str, ...] | list[str]) -> bool:
    """Whether the host of ``url`` is a blocked domain or one of its sub-domains."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for d in blocked:
        d = d.lower().strip().lstrip(".")
        if d and (host == d or host.endswith("." + d)):
            return True
    return False


@dataclass
class FilterResult:
    """``kept`` URLs (original spelling, first occurrence) and ``dropped`` ``{"url", "reason"}`` records;
    reasons: ``duplicate``, ``not_http``, ``blocked_domain``, ``name_not_in_url``, ``over_limit``, ``llm_judge``."""

    kept: list[str] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"kept": self.kept, "dropped": self.dropped}


def filter_urls(product: str, urls: list[str], cfg: FilterConfig | None = None, company: str = "") -> FilterResult:
    """Apply the rule-based filters of §2.2.2 to one product's candidate URLs, in order."""
    cfg = cfg or FilterConfig()
    res = FilterResult()
    seen: set[str] = set()
    for url in urls:
        key = normalize_url(url)
        if key in seen:
            res.dropped.append({"url": url, "reason": "duplicate"})
            continue
        seen.add(key)
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            res.dropped.append({"url": url, "reason": "not_http"})
        elif domain_blocked(url, cfg.blocked_domains):
            res.dropped.append({"url": url, "reason": "blocked_domain"})
        elif cfg.require_name_in_url and not name_in_url(product, url, company, cfg.min_name_chars):
            res.dropped.append({"url": url, "reason": "name_not_in_url"})
        elif len(res.kept) >= cfg.max_urls_per_product:
            res.dropped.append({"url": url, "reason": "over_limit"})
        else:
            res.kept.append(url)
    return res
