"""Token-based chunking of long texts, shared by the pipeline (LLM condensation) and the frozen-backbone caches.

A transformer backbone sees at most ``max_length`` tokens (MiniLM: 256); pap2pat claims have a median of ~1,130
WordPiece tokens and 99% are longer than 256, so a truncated claim set keeps ~20% of its text. Cutting a text into
consecutive windows that each fit the backbone, embedding every window and pooling over all of them (mean of the
window embeddings for dense retrieval, attention pooling over all windows' tokens for the trained linker) lets the
model see the whole text, at a cost linear in its length.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["Spans", "backbone_chunks", "chunk_text", "token_spans"]

Spans = list[tuple[int, int]]

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


def backbone_chunks(text: str, model: str, max_length: int, max_chunks: int) -> list[str]:
    """Windows of ``text`` that each fit a backbone of ``max_length`` tokens (2 are left for [CLS]/[SEP]).

    Non-overlapping consecutive windows of ``max_length - 2`` tokens of ``model``'s own tokenizer, the first
    ``max_chunks`` kept (``max_chunks=1`` is plain truncation, as the backbone does by itself). An empty text gives
    ``[text]`` so that every text has at least one window.

    Raises:
        ValueError: if ``max_chunks < 1`` or ``max_length < 3``.
    """
    if max_chunks < 1:
        raise ValueError(f"max_chunks must be >= 1, got {max_chunks}")
    if max_length < 3:
        raise ValueError(f"max_length must be >= 3 tokens to hold a window, got {max_length}")
    if max_chunks == 1:
        return [text]
    chunks = chunk_text(text, max_length - 2, 0, model)[:max_chunks]
    return chunks or [text]
