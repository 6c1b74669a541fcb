"""Text extraction and token-based chunking (§2.2.3).

HTML main text comes from ``trafilatura`` (boilerplate, menus and footers removed; tables kept), with a plain
``lxml`` text fallback when trafilatura finds no main content; PDF text from ``pypdf``, page by page. Long texts
are cut into chunks of ``max_tokens`` tokens with ``overlap`` tokens shared by neighbours, slicing the original
string at token boundaries so the chunk text keeps its spacing.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from typing import Callable

__all__ = ["extract_text", "extract_html", "extract_pdf", "chunk_text", "token_spans", "sniff_kind"]

Spans = list[tuple[int, int]]


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
    """Extracted text of a fetched body (PDF, HTML or plain text, see :func:`sniff_kind`)."""
    kind = sniff_kind(body, content_type, url)
    if kind == "pdf":
        return extract_pdf(body)
    if kind == "html":
        return extract_html(body, url or None)
    return _decode(body).strip()


# -- chunking --------------------------------------------------------------------------------------------------
_WS_TOKEN = re.compile(r"\S+")


def _whitespace_spans(text: str) -> Spans:
    return [m.span() for m in _WS_TOKEN.finditer(text)]


@lru_cache(maxsize=4)
def _hf_tokenizer(name: str):
    from transformers import AutoTokenizer

    from patlink.config import resolve_model_path

    return AutoTokenizer.from_pretrained(resolve_model_path(name))


def token_spans(text: str, tokenizer: str = "whitespace") -> Spans:
    """Character spans ``[(start, end)]`` of the tokens of ``text``.

    Args:
        tokenizer: ``"whitespace"`` (runs of non-space characters) or a Hugging Face tokenizer name/path loaded
            offline (``"minilm"`` = the bundled model's WordPiece tokenizer; special tokens excluded).
    """
    if tokenizer == "whitespace":
        return _whitespace_spans(text)
    tok = _hf_tokenizer(tokenizer)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False)
    return [(a, b) for a, b in enc["offset_mapping"] if b > a]


def chunk_text(text: str, max_tokens: int = 512, overlap: int = 64, tokenizer: str | Callable[[str], Spans] =
               "whitespace") -> list[str]:
    """Split ``text`` into chunks of at most ``max_tokens`` tokens; consecutive chunks share ``overlap`` tokens.

    Chunk ``i`` covers tokens ``[i*(max_tokens-overlap), i*(max_tokens-overlap)+max_tokens)``; the last chunk
    ends at the last token, and no chunk is entirely contained in the previous one. Each chunk is the slice of
    the original string from its first token's start to its last token's end.

    Args:
        text: any text; empty or whitespace-only gives ``[]``.
        max_tokens: chunk length in tokens (>= 1).
        overlap: tokens shared by neighbours (``0 <= overlap < max_tokens``).
        tokenizer: see :func:`token_spans`, or a callable ``text -> spans``.

    Raises:
        ValueError: on ``max_tokens < 1`` or an overlap outside ``[0, max_tokens)``.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if not 0 <= overlap < max_tokens:
        raise ValueError(f"overlap must be in [0, max_tokens), got {overlap} with max_tokens={max_tokens}")
    spans = tokenizer(text) if callable(tokenizer) else token_spans(text, tokenizer)
    if not spans:
        return []
    step = max_tokens - overlap
    chunks = []
    for start in range(0, len(spans), step):
        end = min(start + max_tokens, len(spans))
        chunks.append(text[spans[start][0]:spans[end - 1][1]])
        if end == len(spans):
            break
    return chunks
