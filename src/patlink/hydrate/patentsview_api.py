"""PatentsView PatentSearch API (https://search.patentsview.org/docs/): batched, paged, rate-limited.

Per batch of numbers: ``POST /api/v1/patent/`` (title, abstract, dates, kind, current CPC), and optionally
``/api/v1/g_claim/`` (claims) and ``/api/v1/g_detail_desc_text/`` (description). Each request body is
``{"q": {"patent_id": [ids]}, "f": [fields], "s": [{"patent_id": "asc"}, ...], "o": {"size": n, "after": ...}}``;
pages are followed with ``o.after`` (the sort values of the last record) until a page is shorter than ``size``.
The API key is read from ``$PATENTSVIEW_API_KEY`` (configurable) and sent as ``X-Api-Key``; it is never logged
nor put in an error (the API's error bodies and messages go through :func:`patlink.http.redact` with the key).
The API allows 45 requests/minute per key: the client waits ``60/45`` s between requests by default, and
backs off on HTTP 429 (honouring ``Retry-After``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from patlink.data.numbers import normalize_publication_number
from patlink.http import HttpClient, HttpError
from patlink.hydrate.base import NOT_FOUND, BatchResult, iso_date, office_id
from patlink.hydrate.config import HttpConfig, PatentsViewConfig
from patlink.hydrate.records import PatentRecord, clean_text

__all__ = ["PATENT_FIELDS", "PatentsViewSource"]

PATENT_FIELDS = ["patent_id", "patent_title", "patent_abstract", "patent_date", "patent_type", "wipo_kind",
                 "application.filing_date", "cpc_current.cpc_sequence", "cpc_current.cpc_group_id"]
_META_KEYS = {"error", "count", "total_hits", "message", "detail"}


def _records_of(payload: dict) -> list[dict]:
    """The list of records of a PatentSearch response (key ``patents``, ``g_claims`` ... depending on endpoint)."""
    for key, value in payload.items():
        if key not in _META_KEYS and isinstance(value, list):
            return value
    return []


class PatentsViewSource:
    """Hydrate from the PatentSearch API.

    Args:
        config: endpoint root, API-key variable, page size, which texts to fetch, rate limit.
        http: HTTP behaviour (timeouts, retries); its ``min_interval_s`` is raised to the API's rate limit.
        api_key: the key (``None``: read ``os.environ[config.api_key_env]``).
        client: an :class:`HttpClient` to use instead of building one (tests).

    Attributes:
        secrets: the values every message of this source is redacted of (the API key), also used by
            :func:`patlink.hydrate.runner.hydrate` on what the source raises.
        text_fields: the text fields fetched (claims and description unless turned off in ``config``).

    Raises:
        ValueError: when no API key is given nor set in the environment.
    """

    name = "patentsview"

    def __init__(self, config: PatentsViewConfig | None = None, http: HttpConfig | None = None,
                 api_key: str | None = None, client: HttpClient | None = None) -> None:
        self.config = config or PatentsViewConfig()
        key = api_key if api_key is not None else os.environ.get(self.config.api_key_env, "")
        if not key:
            raise ValueError(f"the patentsview source needs an API key in ${self.config.api_key_env} "
                             "(request one at https://patentsview-support.atlassian.net/servicedesk)")
        self.secrets: tuple[str, ...] = (key,)
        self.text_fields = frozenset({"title", "abstract"} | ({"claims"} if self.config.claims else set())
                                     | ({"description"} if self.config.description else set()))
        http = http or HttpConfig()
        if client is None:
            cfg = HttpConfig(**{**http.__dict__, "min_interval_s": max(http.min_interval_s, self.config.min_interval_s)})
            client = HttpClient(cfg, headers={"X-Api-Key": key, "Accept": "application/json"},
                                secret_headers=("X-Api-Key",))
        self.http = client

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------------------------------------- paging
    def query(self, endpoint: str, ids: Sequence[str], fields: list[str], sort: list[str]) -> list[dict]:
        """All records of ``endpoint`` whose ``patent_id`` is in ``ids``, following pages.

        Raises:
            HttpError: on HTTP failure after retries, or when the API answers ``"error": true``.
        """
        url = f"{self.config.base_url.rstrip('/')}/api/v1/{endpoint}/"
        out: list[dict] = []
        after: Any = None
        size = max(1, min(1000, self.config.page_size))
        for _ in range(100_000):  # bounded: a page is never empty-and-full
            body: dict[str, Any] = {"q": {"patent_id": list(ids)}, "f": fields,
                                    "s": [{k: "asc"} for k in sort], "o": {"size": size}}
            if after is not None:
                body["o"]["after"] = after
            resp = self.http.post(url, json=body)
            try:
                payload = resp.json()
            except ValueError:
                raise HttpError(f"{endpoint}: response is not JSON") from None
            if not isinstance(payload, dict):
                raise HttpError(f"{endpoint}: response is not a JSON object")
            if payload.get("error"):
                msg = self.http.redact(str(payload.get("message") or payload), self.secrets)[:300]  # redact, then cut
                raise HttpError(f"{endpoint}: API error: {' '.join(msg.split())}")
            page = _records_of(payload)
            out.extend(page)
            if len(page) < size:
                break
            last = page[-1]
            vals = [last.get(k) for k in sort]
            after = vals[0] if len(vals) == 1 else vals
        return out

    # ----------------------------------------------------------------------------------------------- fetch
    def fetch(self, numbers: Sequence[str]) -> BatchResult:
        ids: dict[str, str] = {}
        errors: dict[str, str] = {}
        for n in numbers:
            try:
                ids[office_id(n)] = n
            except ValueError as e:
                errors[n] = str(e)
        if not ids:
            return {}, errors
        id_list = list(ids)
        records: dict[str, PatentRecord] = {}
        for row in self.query("patent", id_list, PATENT_FIELDS, ["patent_id"]):
            pid = str(row.get("patent_id", ""))
            number = ids.get(pid) or ids.get(_strip_zeros(pid))
            if number is None:
                continue
            cpcs = sorted(row.get("cpc_current") or [], key=lambda c: int(c.get("cpc_sequence") or 0))
            apps = row.get("application") or []
            records[number] = PatentRecord(
                number=number,
                title=clean_text(row.get("patent_title")),
                abstract=clean_text(row.get("patent_abstract")),
                cpc=list(dict.fromkeys(str(c["cpc_group_id"]) for c in cpcs if c.get("cpc_group_id"))),
                publication_date=iso_date(row.get("patent_date")),
                grant_date=iso_date(row.get("patent_date")),
                filing_date=iso_date(apps[0].get("filing_date")) if apps else "",
                kind=str(row.get("wipo_kind") or ""),
                publication_number=pid,
                source="patentsview",
            )
        found = [p for p, n in ids.items() if n in records]
        if found and self.config.claims:
            claims: dict[str, list[tuple[int, str]]] = {}
            for row in self.query("g_claim", found, ["patent_id", "claim_sequence", "claim_text"],
                                  ["patent_id", "claim_sequence"]):
                claims.setdefault(str(row.get("patent_id")), []).append(
                    (int(row.get("claim_sequence") or 0), clean_text(row.get("claim_text"))))
            for pid, parts in claims.items():
                number = ids.get(pid) or ids.get(_strip_zeros(pid))
                if number in records:
                    records[number].claims = "\n".join(t for _, t in sorted(parts) if t)
        if found and self.config.description:
            for row in self.query("g_detail_desc_text", found, ["patent_id", "description_text"], ["patent_id"]):
                pid = str(row.get("patent_id"))
                number = ids.get(pid) or ids.get(_strip_zeros(pid))
                if number in records:
                    records[number].description = clean_text(row.get("description_text"))
        for n in ids.values():
            if n not in records:
                errors[n] = NOT_FOUND
        return records, errors


def _strip_zeros(pid: str) -> str:
    """``D0654321`` → ``D654321`` (PatentSearch can pad ids with ``pad_patent_id``)."""
    try:
        return office_id(normalize_publication_number(pid))
    except ValueError:
        return pid
