"""``patlink serve``: the review workbench over HTTP — a JSON API and the analysts' page, one ASGI app.

FastAPI (on Starlette, served by uvicorn): typed request bodies validated by pydantic, the OpenAPI schema at
``/openapi.json`` with interactive docs at ``/docs``, and a test client that runs the app in-process; the page is
three fixed files of this package, served by the same app with no build step.

Interactive API docs at ``/docs`` use Swagger UI from the ``swagger-ui-py`` package (served by the app, so
they work without network access).

Endpoints (all JSON; ids are passed as query parameters or in bodies, never in paths, so any id — ``13 mm Series
Pressure Transducers``, ``US10001292`` — is safe):

============================  =======================================================================
``GET  /api/health``          liveness (no token needed)
``GET  /api/info``            method, counts, decisions by kind
``POST /api/link``            rank patents for one or many texts (``{"queries": {id: text}, "top_k"}``)
``POST /api/candidates``      one item's candidates for review (known item id and/or text, filters)
``GET  /api/items``           known items (``q``, ``limit``, ``offset``)
``GET  /api/item?id=``        one item, its known patents and decisions
``GET  /api/patent?id=``      one patent, its known items and decisions
``GET  /api/patent/items``    the reverse view: known items ranked for a patent
``POST /api/decisions``       record accept / reject / unsure (201)
``GET  /api/decisions``       list decisions (filters, ``history``, paging)
``GET  /api/decisions/export``  download decisions (``format=csv|tsv|jsonl|parquet``)
============================  =======================================================================

Security: with a token (required by ``patlink serve`` for any address but loopback) every ``/api`` call but
health needs ``Authorization: Bearer TOKEN`` or ``X-Patlink-Token: TOKEN``, compared in constant time. Bodies
over ``max_body_bytes`` get 413, a POST without a JSON content type 415, invalid fields 422, bad values 400,
unknown ids 404 — always ``{"detail": "one line"}``. The page builds every element with ``textContent`` (no
markup from data ever reaches ``innerHTML``) under a strict Content-Security-Policy.
"""


import hmac
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from patlink.review.decisions import DECISIONS
from patlink.review.export import export_decisions
from patlink.review.service import ReviewService, UnknownId

__all__ = ["ServeLimits", "create_app"]

_PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_ASSETS = {"/": ("index.html", "text/html; charset=utf-8"),
           "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/static/app.css": ("app.css", "text/css; charset=utf-8")}
_MEDIA = {"csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8",
          "jsonl": "application/x-ndjson; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


@dataclass(frozen=True)
class ServeLimits:
    """Request limits.

    Attributes:
        max_body_bytes: largest request body (bytes; 413 above).
        max_queries: texts per ``/api/link`` call.
        max_text_chars: characters per text (query or item text).
        max_top_k: candidates per query.
        max_page: rows per listing page.
    """

    max_body_bytes: int = 1_000_000
    max_queries: int = 64
    max_text_chars: int = 20_000
    max_top_k: int = 100
    max_page: int = 1000


class _BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes (by Content-Length, or counted as it streams), 415 for
    a POST to ``/api`` whose content type is not JSON."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope["method"] in ("POST", "PUT", "PATCH") and scope["path"].startswith("/api/"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return await _plain(send, 415, f"send the body as JSON (Content-Type: application/json), "
                                               f"not {ctype or 'no content type'!r}")
        length = headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > self.limit
            except ValueError:
                return await _plain(send, 400, "Content-Length is not a number")
            if too_big:
                return await _plain(send, 413, f"request body over {self.limit:,} bytes")
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # an HTTPException: FastAPI turns any other error raised while it reads the body into a 400
                    from starlette.exceptions import HTTPException

                    raise HTTPException(413, f"request body over {self.limit:,} bytes")
            return message

        await self.app(scope, counted, send)


async def _plain(send, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _asset(name: str) -> bytes:
    return resources.files("patlink.serve").joinpath("static", name).read_bytes()


def create_app(service: ReviewService, *, token: str | None = None, limits: ServeLimits | None = None):
    """The ASGI app serving ``service``.

    Args:
        service: the :class:`~patlink.review.service.ReviewService` (index, known links, decisions store).
        token: when set, every ``/api`` call but ``/api/health`` must carry it (``Authorization: Bearer`` or
            ``X-Patlink-Token``).
        limits: :class:`ServeLimits` (defaults: 1 MB bodies, 64 texts per call, 20,000 characters, top 100).

    Returns:
        A :class:`fastapi.FastAPI` app (run it with ``uvicorn.run(app, host=..., port=...)``).
    """
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from pydantic import BaseModel, ConfigDict, Field

    lim = limits or ServeLimits()
    assets = {route: (_asset(name), media) for route, (name, media) in _ASSETS.items()}

    class LinkBody(BaseModel):
        model_config = ConfigDict(extra="forbid")
        queries: dict[str, str] = Field(description="query id → text", min_length=1, max_length=lim.max_queries)
        top_k: int = Field(10, ge=1, le=lim.max_top_k)

    class CandidatesBody(BaseModel):
        model_config = ConfigDict(extra="forbid")
        item_id: str | None = Field(None, max_length=512, description="a known item (or one decided before)")
        text: str | None = Field(None, max_length=lim.max_text_chars, description="a description to rank for")
        top_k: int = Field(10, ge=1, le=lim.max_top_k)
        min_score: float | None = None
        assignee: str | None = Field(None, max_length=200)

    class DecisionBody(BaseModel):
        model_config = ConfigDict(extra="forbid")
        item_id: str = Field(min_length=1, max_length=512)
        patent_id: str = Field(min_length=1, max_length=512)
        decision: Literal["accept", "reject", "unsure"]
        note: str = Field("", max_length=4000)
        reviewer: str = Field("", max_length=512)
        score: float | None = None
        rank: int | None = Field(None, ge=1)
        item_text: str = Field("", max_length=lim.max_text_chars, description="the item's text when it is new")

    def authorised(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("x-patlink-token") or ""
        auth = request.headers.get("authorization") or ""
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong token: send Authorization: Bearer TOKEN "
                                     "(or X-Patlink-Token)")

    swagger = _swagger_assets()
    app = FastAPI(title="patlink review", version=_version(), docs_url=None if swagger else "/docs",
                  description="Rank patents for products, review the candidates, export the decisions as training "
                              "links (El Bouari & de Rassenfosse, Product-Patent linkage prediction).")
    if swagger:                      # interactive docs from the swagger-ui-py package: no CDN, works offline
        from fastapi.openapi.docs import get_swagger_ui_html

        @app.get("/docs", include_in_schema=False)
        def docs():
            return get_swagger_ui_html(openapi_url="/openapi.json", title="patlink review API",
                                       swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                       swagger_css_url="/docs/assets/swagger-ui.css",
                                       swagger_favicon_url="/docs/assets/favicon-32x32.png")

        for name, (data, media) in swagger.items():
            app.add_api_route(f"/docs/assets/{name}", (lambda d=data, m=media: Response(d, media_type=m)),
                              methods=["GET"], include_in_schema=False)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        first = errs[0] if errs else {}
        if first.get("type") == "json_invalid":
            loc = first.get("loc", ())
            at = f" at character {loc[1]}" if len(loc) > 1 and isinstance(loc[1], int) else ""
            why = (first.get("ctx") or {}).get("error", "")
            return JSONResponse({"detail": f"the body is not valid JSON{at}" + (f" ({why})" if why else "")},
                                status_code=422)
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}{more}"}, status_code=422)

    @app.exception_handler(UnknownId)
    async def _unknown(request: Request, exc: UnknownId):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(ValueError)
    async def _bad(request: Request, exc: ValueError):
        return JSONResponse({"detail": str(exc).splitlines()[0] if str(exc) else "bad request"}, status_code=400)

    api = [Depends(authorised)]

    @app.get("/api/health", tags=["service"])
    def health() -> dict:
        """Liveness: ``{"status": "ok", "documents": n}``."""
        return {"status": "ok", "documents": len(service.index)}

    @app.get("/api/info", dependencies=api, tags=["service"])
    def info() -> dict:
        """The method served, counts of documents, known items and links, and decisions by kind."""
        return {**service.info(), "limits": lim.__dict__, "decisions_kinds": list(DECISIONS)}

    @app.post("/api/link", dependencies=api, tags=["ranking"])
    def link(body: LinkBody) -> dict:
        """Rank the patents for each text, as ``patlink link`` does: ``{"method", "results": {id: [candidate]}}``."""
        bad = [q for q, t in body.queries.items() if len(t) > lim.max_text_chars]
        if bad:
            raise HTTPException(422, f"queries.{bad[0]}: over {lim.max_text_chars:,} characters")
        return {"method": service.method, "results": service.link_texts(body.queries, body.top_k)}

    @app.post("/api/candidates", dependencies=api, tags=["review"])
    def candidates(body: CandidatesBody) -> dict:
        """One item's candidates for review, with evidence, known links and current decisions."""
        return service.link(body.text, item_id=body.item_id, top_k=body.top_k, min_score=body.min_score,
                            assignee=body.assignee)

    @app.get("/api/items", dependencies=api, tags=["review"])
    def items(q: str = Query("", max_length=200), limit: int = Query(50, ge=1, le=lim.max_page),
              offset: int = Query(0, ge=0)) -> dict:
        """Known items (and items seen only in decisions) whose id or name contains ``q``."""
        return service.list_items(q, limit=limit, offset=offset)

    @app.get("/api/item", dependencies=api, tags=["review"])
    def item(id: str = Query(min_length=1, max_length=512)) -> dict:
        """One item: name, text, known patents, decisions."""
        return service.item(id)

    @app.get("/api/patent", dependencies=api, tags=["review"])
    def patent(id: str = Query(min_length=1, max_length=512)) -> dict:
        """One patent: title, text, metadata, known items, decisions."""
        return service.patent(id)

    @app.get("/api/patent/items", dependencies=api, tags=["review"])
    def patent_items(id: str = Query(min_length=1, max_length=512),
                     top_k: int = Query(10, ge=1, le=lim.max_top_k)) -> dict:
        """The reverse view: known items ranked for the patent's text, its known items and decisions."""
        return service.rank_items(id, top_k)

    @app.post("/api/decisions", dependencies=api, status_code=201, tags=["decisions"])
    def decide(body: DecisionBody, request: Request) -> dict:
        """Record a decision (the reviewer from the body, else the ``X-Patlink-Reviewer`` header)."""
        reviewer = body.reviewer or request.headers.get("x-patlink-reviewer", "")[:512]
        return service.decide(body.item_id, body.patent_id, body.decision, note=body.note, reviewer=reviewer,
                              score=body.score, rank=body.rank, item_text=body.item_text)

    @app.get("/api/decisions", dependencies=api, tags=["decisions"])
    def decisions(item_id: str | None = Query(None, max_length=512), patent_id: str | None = Query(None, max_length=512),
                  decision: Literal["accept", "reject", "unsure"] | None = None,
                  reviewer: str | None = Query(None, max_length=512), history: bool = False,
                  limit: int = Query(100, ge=1, le=lim.max_page), offset: int = Query(0, ge=0)) -> dict:
        """Current decisions (``history=true``: every recorded row), oldest first, with the total."""
        kw = {"item_id": item_id, "patent_id": patent_id, "decision": decision, "reviewer": reviewer,
              "latest": not history}
        rows = service.decisions(**kw)
        return {"total": len(rows), "decisions": rows[offset: offset + limit]}

    @app.get("/api/decisions/export", dependencies=api, tags=["decisions"])
    def export(format: Literal["csv", "tsv", "jsonl", "parquet"] = "csv", history: bool = False) -> Response:
        """Download the decisions as a table (CSV/TSV cells that a spreadsheet would run as formulas are
        neutralised); train on them with ``patlink review export --out FOLDER`` (a BEIR folder)."""
        with tempfile.TemporaryDirectory(prefix="patlink-export-") as tmp:
            path = Path(tmp) / f"decisions.{format}"
            export_decisions(service.store.decisions(latest=not history), path, format)
            data = path.read_bytes()
        return Response(data, media_type=_MEDIA[format],
                        headers={"Content-Disposition": f'attachment; filename="decisions.{format}"'})

    def page_route(route: str):
        data, media = assets[route]

        def serve_asset() -> Response:
            return Response(data, media_type=media, headers={
                "Content-Security-Policy": _PAGE_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})
        return serve_asset

    for route in assets:
        app.add_api_route(route, page_route(route), methods=["GET"], include_in_schema=False)

    app.add_middleware(_BodyLimit, limit=lim.max_body_bytes)
    app.state.service = service
    return app


def _swagger_assets() -> dict[str, tuple[bytes, str]]:
    """Swagger UI's script, stylesheet and icon from the ``swagger-ui-py`` package (``{}`` when it is not installed:
    FastAPI's default docs page then loads them from a CDN)."""
    try:
        root = resources.files("swagger_ui").joinpath("static")
    except ModuleNotFoundError:
        return {}
    files = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
             "favicon-32x32.png": "image/png"}
    if not all(root.joinpath(n).is_file() for n in files):
        return {}
    return {n: (root.joinpath(n).read_bytes(), m) for n, m in files.items()}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("patlink")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return os.environ.get("PATLINK_VERSION", "0")
