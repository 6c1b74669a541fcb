"""Stages ``bullets``, ``condense``, ``patent_summary`` and the optional URL ``judge`` (§2.2.2–2.2.4, §2.1).

With an LLM endpoint (:class:`~patlink.pipeline.llm.ChatClient`) the paper's recipe is followed: bullet points
are extracted from every chunk given the product name, bullets are de-duplicated, then the LLM removes
duplicate, irrelevant or contradictory bullets and writes one paragraph per product; a patent's full text is
compressed into a dense summary within the encoder's length. Without an endpoint, the offline
:class:`~patlink.pipeline.llm.ExtractiveSummarizer` does the same jobs extractively so the pipeline still runs end
to end. Outputs record which ``method`` produced them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from patlink.http import redact
from patlink.pipeline.config import SummaryConfig
from patlink.pipeline.llm import ChatClient, ExtractiveSummarizer, truncate_words

__all__ = ["Prompts", "Condenser", "parse_bullets"]


@dataclass
class Prompts:
    """Prompt templates (changing one invalidates the cached outputs that used it)."""

    bullets_system: str = (
        "You extract factual information about one commercial product from a web page excerpt. Answer ONLY with "
        "bullet points, one per line, each starting with '- '. Keep technical facts: function, technology, "
        "components, materials, measured quantities, operating principles. Skip prices, shipping, packaging, "
        "marketing and website navigation. If the excerpt says nothing about the product, answer NONE.")
    bullets_user: str = "Product: {product}\n\nExcerpt:\n{chunk}"
    paragraph_system: str = (
        "You write product descriptions for patent analysis. Given bullet points about one product, drop "
        "duplicate, irrelevant or contradictory points and write ONE paragraph of at most {max_words} words "
        "describing what the product is, what it does and the technology it uses. Answer with the paragraph only.")
    paragraph_user: str = "Product: {product}\n\nBullet points:\n{bullets}"
    patent_system: str = (
        "You summarise patents. Write a dense summary of at most {max_words} words that keeps the problem "
        "solved, the key technical features of the independent claims and the field of use. Answer with the "
        "summary only.")
    patent_user: str = "Patent {patent}\n\n{text}"
    judge_system: str = (
        "Decide whether a web page is likely to describe a given commercial product, judging from its URL only. "
        "Answer YES or NO.")
    judge_user: str = "Product: {product}\nURL: {url}"


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
    """

    def __init__(self, llm: ChatClient | None, summary: SummaryConfig | None = None, prompts: Prompts | None = None):
        self.llm = llm
        self.cfg = summary or SummaryConfig()
        self.prompts = prompts or Prompts()
        self.extractive = ExtractiveSummarizer(self.cfg.embed_model)

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
        """One paragraph of at most ``product_max_words`` words from de-duplicated bullets.

        Raises:
            ValueError: if there are no bullets (nothing was found about the product).
        """
        if not bullets:
            raise ValueError(f"no information found for product {product!r}: complement it by hand (review)")
        n = self.cfg.product_max_words
        if self.llm:
            p = self.prompts
            text = self._ask(p.paragraph_system.format(max_words=n),
                             p.paragraph_user.format(product=product, bullets="\n".join(f"- {b}" for b in bullets)))
        else:
            text = self.extractive.summarize(bullets, n)
        text = truncate_words(" ".join(text.split()), n)
        if not text:
            raise ValueError(f"empty description produced for product {product!r}")
        return text

    def patent_summary(self, patent: str, full_text: str) -> str:
        """Dense summary of a patent's full text, at most ``patent_max_words`` words (§2.1).

        Raises:
            ValueError: on an empty text.
        """
        if not full_text.strip():
            raise ValueError(f"patent {patent} has no text")
        n = self.cfg.patent_max_words
        text = truncate_words(full_text, self.cfg.patent_max_input_words)
        if self.llm:
            p = self.prompts
            out = self._ask(p.patent_system.format(max_words=n), p.patent_user.format(patent=patent, text=text))
        else:
            out = self.extractive.summarize(text, n)
        out = truncate_words(" ".join(out.split()), n)
        if not out:
            raise ValueError(f"empty summary produced for patent {patent}")
        return out

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
