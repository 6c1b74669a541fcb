"""Stages ``bullets``, ``condense``, ``patent_summary`` and the optional URL ``judge`` (§2.2.2–2.2.4, §2.1).

With an LLM endpoint (:class:`~patlink.pipeline.llm.ChatClient`) the paper's recipe is followed: bullet points
are extracted from every chunk given the product name, bullets are de-duplicated, then the LLM removes
duplicate, irrelevant or contradictory bullets and writes one paragraph per product; when a product's bullets do
not fit one call (``SummaryConfig.chunk_tokens``) they are first merged in rounds
(:func:`patlink.pipeline.summarise.reduce_in_rounds`), so no bullet is left out. A patent's full text is
summarised by map-reduce (:class:`patlink.pipeline.summarise.PatentSummariser`) within the encoder's length.
Without an endpoint, the offline :class:`~patlink.pipeline.llm.ExtractiveSummarizer` does the same jobs
extractively so the pipeline still runs end to end. Outputs record which ``method`` produced them. The prompts
are in :mod:`patlink.pipeline.prompts`.
"""

from __future__ import annotations

import re
from dataclasses import asdict

from patlink.data.chunking import chunk_text, token_spans
from patlink.http import redact
from patlink.pipeline.config import SummaryConfig
from patlink.pipeline.llm import ChatClient, ExtractiveSummarizer, split_sentences, truncate_words
from patlink.pipeline.prompts import Prompts
from patlink.pipeline.summarise import PatentSummariser, SummaryCache, reduce_in_rounds

__all__ = ["Prompts", "Condenser", "parse_bullets"]


_BULLET_LINE = re.compile(r"^\s*(?:[-*\u2022\u25cf]|\d+[.)])\s+(.*\S)\s*$")


def parse_bullets(answer: str) -> list[str]:
    """Bullet lines of an LLM answer (``-``, ``*``, ``•``, ``1.`` markers); ``NONE`` or no bullets → ``[]``."""
    if answer.strip().upper().rstrip(".") in {"NONE", "N/A", ""}:
        return []
    out = []
    for line in answer.splitlines():
        m = _BULLET_LINE.match(line)
        if m:
            out.append(" ".join(m.group(1).split()))
    return out


class Condenser:
    """Bullet extraction, paragraph writing, patent summaries and URL judging.

    Args:
        llm: a chat client, or ``None`` for the offline extractive method.
        summary: budgets and the offline model.
        prompts: prompt templates (LLM mode).
        cache: where the patent summaries' map/reduce steps are kept (default: in memory), see
            :class:`~patlink.pipeline.summarise.PatentSummariser`.
    """

    def __init__(self, llm: ChatClient | None, summary: SummaryConfig | None = None, prompts: Prompts | None = None,
                 cache: SummaryCache | None = None):
        self.llm = llm
        self.cfg = summary or SummaryConfig()
        self.prompts = prompts or Prompts()
        self.extractive = ExtractiveSummarizer(self.cfg.embed_model)
        self.patents = PatentSummariser(llm if llm else self.extractive, self.cfg, self.prompts, cache=cache)

    @property
    def method(self) -> str:
        return "llm" if self.llm else "extractive"

    def fingerprint(self, part: str) -> list:
        """Cache-key material of one job: method, model/endpoint, the prompts it uses and the budgets."""
        p = asdict(self.prompts)
        used = {k: v for k, v in p.items() if k.startswith(part)}
        src = self.llm.fingerprint if self.llm else self.extractive.fingerprint
        return [src, used if self.llm else None, asdict(self.cfg)]

    def _ask(self, system: str, user: str) -> str:
        assert self.llm is not None
        return self.llm.chat([{"role": "system", "content": system}, {"role": "user", "content": user}])

    def bullets(self, product: str, chunk: str) -> list[str]:
        """Bullet points about ``product`` found in one chunk (``[]`` when it says nothing about it)."""
        if self.llm:
            p = self.prompts
            return parse_bullets(self._ask(p.bullets_system, p.bullets_user.format(product=product, chunk=chunk)))
        return self.extractive.top_sentences(chunk, self.cfg.bullets_per_chunk)

    def dedupe(self, bullets: list[str]) -> list[str]:
        """Exact and near-duplicate bullets removed (embedding cosine > ``dedup_threshold``), order kept."""
        return self.extractive.dedupe(bullets, self.cfg.dedup_threshold)

    def paragraph(self, product: str, bullets: list[str]) -> str:
        """One paragraph of at most ``product_max_words`` words from de-duplicated bullets (see
        :meth:`paragraph_rounds`).

        Raises:
            ValueError: if there are no bullets (nothing was found about the product).
        """
        return self.paragraph_rounds(product, bullets)[0]

    def _tokens(self, text: str) -> int:
        return len(token_spans(text, self.cfg.tokenizer))

    def _fit(self, text: str, words: int) -> str:
        """``text`` in at most ``words`` words and half a call (``chunk_tokens // 2`` tokens)."""
        text = truncate_words(text, words)
        half = self.cfg.chunk_tokens // 2
        return chunk_text(text, half, 0, self.cfg.tokenizer)[0] if self._tokens(text) > half else text

    def paragraph_rounds(self, product: str, bullets: list[str]) -> tuple[str, int]:
        """One paragraph from all of a product's bullets, merging them in rounds when they do not fit one call.

        While the bullets exceed ``chunk_tokens`` tokens, consecutive ones are grouped into calls that fit and
        each group is merged into fewer points of at most ``note_max_words`` words (LLM job
        ``paragraph_merge``; offline: the group's most central sentences), see
        :func:`~patlink.pipeline.summarise.reduce_in_rounds`; then one call writes the paragraph. A single
        bullet longer than half a call is cut to it.

        Returns:
            ``(paragraph of at most product_max_words words, merge rounds before the paragraph call)``.

        Raises:
            ValueError: if there are no bullets (nothing was found about the product), or the answer is empty.
        """
        if not bullets:
            raise ValueError(f"no information found for product {product!r}: complement it by hand (review)")
        cfg, p = self.cfg, self.prompts
        items = [self._fit(" ".join(b.split()), 10 ** 9) for b in bullets]

        def lines(group: list[str]) -> list[str]:
            return [ln for item in group for ln in item.splitlines() if ln.strip()]

        def merge(group: list[str]) -> str:
            if self.llm:
                answer = self._ask(p.paragraph_merge_system.format(max_words=cfg.note_max_words),
                                   p.paragraph_merge_user.format(
                                       product=product, bullets="\n".join(f"- {b}" for b in lines(group))))
                points = parse_bullets(answer) or [" ".join(answer.split())]
            else:
                points = split_sentences(self.extractive.summarize(lines(group), cfg.note_max_words))
            out: list[str] = []
            for pt in points:   # whole points within the budget (a lone first one is cut to it)
                if out and self._tokens("\n".join(out + [pt])) > cfg.chunk_tokens // 2:
                    break
                out.append(self._fit(pt, cfg.note_max_words))
            return "\n".join(out)

        def final(group: list[str]) -> str:
            n = cfg.product_max_words
            if self.llm:
                return self._ask(p.paragraph_system.format(max_words=n),
                                 p.paragraph_user.format(product=product,
                                                         bullets="\n".join(f"- {b}" for b in lines(group))))
            return self.extractive.summarize(lines(group), n)

        text, rounds = reduce_in_rounds(items, cfg.chunk_tokens, self._tokens, merge, final)
        text = truncate_words(" ".join(text.split()), cfg.product_max_words)
        if not text:
            raise ValueError(f"empty description produced for product {product!r}")
        return text, rounds

    def patent_summary(self, patent: str, full_text: str) -> str:
        """Dense summary of a patent's full text, at most ``patent_max_words`` words (§2.1), by map-reduce over
        all of it (:meth:`patlink.pipeline.summarise.PatentSummariser.summarise`).

        Raises:
            ValueError: on an empty text or an empty summary (:class:`~patlink.pipeline.summarise.SummaryError`).
            LLMError: the endpoint failed.
        """
        return self.patents.summarise(patent, full_text).summary

    def judge_url(self, product: str, url: str) -> bool:
        """LLM relevance judge of §2.2.2: does ``url`` look like a page about ``product``? (LLM mode only)

        Raises:
            ValueError: without an LLM endpoint, or on an answer that is neither yes nor no.
        """
        if not self.llm:
            raise ValueError("the LLM URL judge needs an LLM endpoint (--llm-base-url, --llm-model)")
        p = self.prompts
        ans = self._ask(p.judge_system, p.judge_user.format(product=product, url=url)).strip().lower()
        if ans.startswith("yes"):
            return True
        if ans.startswith("no"):
            return False
        raise ValueError(f"LLM judge answered neither YES nor NO: {redact(ans, (self.llm.config.api_key(),))[:60]!r}")
