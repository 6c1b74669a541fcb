"""Text extraction and token-based chunking (§2.2.3).

HTML main text comes from ``trafilatura`` (boilerplate, menus and footers removed; tables kept), with a plain
``lxml`` text fallback when trafilatura finds no main content; PDF text from ``pypdf``, page by page. Long texts
are cut into chunks of ``max_tokens`` tokens with ``overlap`` tokens shared by neighbours, slicing the original
string at token boundaries so the chunk text keeps its spacing.

Only HTML, XHTML, plain text and PDF are extracted; the content type is checked before any extraction
(:func:`content_kind`), so an image, an archive or an ``application/octet-stream`` body is a clear failure, not
binary noise "extracted" as text. A body whose bytes start with ``%PDF`` is a PDF whatever its declared type
(datasheets are often served as ``application/octet-stream``).
"""

from __future__ import annotations

import io

from patlink.data.chunking import chunk_text, token_spans

__all__ = ["extract_text", "extract_html", "extract_pdf", "chunk_text", "token_spans", "sniff_kind", "content_kind",
           "accepts_content_type", "UnsupportedContentType", "EXTRACTABLE_TYPES"]

#: Declared content types (lower case, no parameters) whose bodies are extracted, and the extractor of each.
EXTRACTABLE_TYPES: dict[str, str] = {"text/html": "html", "application/xhtml+xml": "html", "text/plain": "text",
                                     "application/pdf": "pdf"}
# types that say nothing about the body: decided by its bytes (a PDF's magic; for no type at all, text-like bytes)
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/x-download",
                  "application/force-download"}
_SUPPORTED = "only HTML, XHTML, plain text and PDF are extracted"


class UnsupportedContentType(ValueError):
    """A body of a type that is not extracted (message: ``unsupported content type '…' (…)``)."""


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def accepts_content_type(content_type: str) -> bool:
    """Whether a body declared as ``content_type`` may be extractable, decided before it is downloaded: one of
    :data:`EXTRACTABLE_TYPES`, or a type that says nothing (none, ``application/octet-stream``), which
    :func:`content_kind` decides from the bytes."""
    ct = _media_type(content_type)
    return ct in EXTRACTABLE_TYPES or ct in _GENERIC_TYPES


def content_kind(body: bytes, content_type: str = "", url: str = "") -> str:
    """The extractor for a fetched body, ``"pdf"``, ``"html"`` or ``"text"``, checked BEFORE extraction.

    Accepted: ``text/html``, ``application/xhtml+xml``, ``text/plain``, ``application/pdf``; a body starting with
    ``%PDF`` whatever its type; with no type at all, a body without NUL bytes (then :func:`sniff_kind`).

    Raises:
        UnsupportedContentType: any other type (``application/octet-stream`` that is not a PDF, images,
            archives, ``application/json`` …), or an untyped binary body.
    """
    ct = _media_type(content_type)
    head = body[:1024].lstrip()
    if head.startswith(b"%PDF"):
        return "pdf"
    if ct in EXTRACTABLE_TYPES:
        return sniff_kind(body, ct, url)
    if ct == "" and b"\0" not in body[:4096]:
        return sniff_kind(body, ct, url)
    shown = repr(ct) if ct else "(none declared, binary body)"
    raise UnsupportedContentType(f"unsupported content type {shown} ({_SUPPORTED})")


def sniff_kind(body: bytes, content_type: str = "", url: str = "") -> str:
    """``"pdf"``, ``"html"`` or ``"text"`` from the magic bytes, then the content type, then the URL suffix."""
    head = body[:1024].lstrip()
    if head.startswith(b"%PDF"):
        return "pdf"
    ct = content_type.lower()
    if "pdf" in ct:
        return "pdf"
    if "html" in ct or "xml" in ct or head[:1] == b"<":
        return "html"
    if url.lower().split("?")[0].endswith(".pdf"):
        return "pdf"
    return "text"


def _decode(body: bytes) -> str:
    for enc in ("utf-8", "cp1252"):
        try:
            return body.decode(enc)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


def extract_html(html: str | bytes, url: str | None = None) -> str:
    """Main text of an HTML page (paragraphs separated by newlines); ``""`` if it has no text at all."""
    import trafilatura

    if isinstance(html, bytes):
        html = _decode(html)
    text = trafilatura.extract(html, url=url, include_tables=True, include_comments=False, favor_recall=True,
                               deduplicate=False)
    if text and text.strip():
        return text.strip()
    import lxml.html

    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return ""
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    return "\n".join(line.strip() for line in root.text_content().splitlines() if line.strip())


def extract_pdf(body: bytes) -> str:
    """Text of a PDF, pages joined by blank lines.

    Raises:
        ValueError: if the bytes are not a readable PDF (or it is encrypted with a password).
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(body))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as e:  # noqa: BLE001 - pypdf raises several types
                raise ValueError(f"encrypted PDF: {e}") from e
        pages = [(p.extract_text() or "").strip() for p in reader.pages]
    except PdfReadError as e:
        raise ValueError(f"unreadable PDF: {e}") from e
    return "\n\n".join(p for p in pages if p)


def extract_text(body: bytes, content_type: str = "", url: str = "") -> str:
    """Extracted text of a fetched body (PDF, HTML or plain text).

    Raises:
        UnsupportedContentType: (a ``ValueError``) for a type that is not extracted, see :func:`content_kind`;
            checked before any extraction.
        ValueError: an unreadable PDF.
    """
    kind = content_kind(body, content_type, url)
    if kind == "pdf":
        return extract_pdf(body)
    if kind == "html":
        return extract_html(body, url or None)
    return _decode(body).strip()


# -- chunking: shared with the backbone token cache, see patlink.data.chunking
