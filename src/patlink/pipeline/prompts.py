"""Every prompt the pipeline sends to an LLM, in one place (El Bouari & de Rassenfosse, *Product-Patent linkage
prediction*, §2.1 and §2.2.3–2.2.4).

:class:`Prompts` holds the templates; ``{...}`` fields are filled with :meth:`str.format`. Each job's cache key
includes the hash of the templates it uses (:func:`prompt_hash`), so editing one prompt recomputes exactly the
outputs that used it.

Jobs and their templates (``*_system`` / ``*_user`` pairs):

* ``bullets`` — product side, map: the facts about one product in one web-page chunk, as bullet points.
* ``paragraph_merge`` — product side, intermediate reduce: a group of bullets merged into fewer bullets, used
  in rounds when a product's bullets do not fit one call.
* ``paragraph`` — product side, final reduce: one paragraph per product from its bullets.
* ``patent`` — a patent whose whole text fits one call: one dense summary directly.
* ``patent_map`` — patent side, map: the facts of one chunk of a long patent (claim elements included).
* ``patent_reduce`` — patent side, reduce: notes of consecutive chunks merged into one dense summary (the final
  one of ``patent_max_words`` words, or an intermediate one of ``note_max_words`` words in a round).
* ``judge`` — whether a URL looks like a page about a product.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

__all__ = ["Prompts", "prompt_hash"]


@dataclass
class Prompts:
    """Prompt templates (changing one invalidates the cached outputs that used it).

    Placeholders: ``{product}``, ``{chunk}``, ``{bullets}``, ``{url}`` (product side); ``{patent}`` (the
    publication number), ``{text}`` (a whole text or one chunk), ``{part}``/``{parts}`` (chunk position, from 1),
    ``{notes}`` (notes joined by newlines), ``{max_words}`` (the answer's word budget).
    """

    bullets_system: str = (
        "You extract factual information about one commercial product from a web page excerpt. Answer ONLY with "
        "bullet points, one per line, each starting with '- '. Keep technical facts: function, technology, "
        "components, materials, measured quantities, operating principles. Skip prices, shipping, packaging, "
        "marketing and website navigation. If the excerpt says nothing about the product, answer NONE.")
    bullets_user: str = "Product: {product}\n\nExcerpt:\n{chunk}"
    paragraph_merge_system: str = (
        "You merge notes about one commercial product. Drop duplicate, irrelevant or contradictory points and "
        "keep every distinct technical fact. Answer ONLY with the merged points, one per line, each starting with "
        "'- ', at most {max_words} words in all.")
    paragraph_merge_user: str = "Product: {product}\n\nPoints:\n{bullets}"
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
    patent_map_system: str = (
        "You take notes on one part of a long patent; the notes of all parts are merged into a summary later. "
        "List the facts stated in this part, one fact per line, each line starting with '- ': the problem "
        "addressed, the technical features of the invention, every element of each claim in this part (give the "
        "claim number and say whether the claim is independent), materials, parameters and the field of use. "
        "At most {max_words} words. Use only this part. If it holds nothing but boilerplate, answer NONE.")
    patent_map_user: str = "Patent {patent}, part {part} of {parts}:\n\n{text}"
    patent_reduce_system: str = (
        "You summarise patents. You are given notes taken from consecutive parts of one patent, in order. Merge "
        "them into ONE dense summary of at most {max_words} words that keeps the problem solved, the technical "
        "features of the independent claims and the field of use; drop repetitions, boilerplate and legal "
        "wording. Answer with the summary only.")
    patent_reduce_user: str = "Patent {patent}\n\nNotes:\n{notes}"
    judge_system: str = (
        "Decide whether a web page is likely to describe a given commercial product, judging from its URL only. "
        "Answer YES or NO.")
    judge_user: str = "Product: {product}\nURL: {url}"

    def templates(self, job: str) -> dict[str, str]:
        """The ``{field name: template}`` pair of one job (``"patent_map"`` → its system and user templates).

        Raises:
            KeyError: for an unknown job (the jobs are listed).
        """
        out = {k: v for k, v in asdict(self).items() if k in (f"{job}_system", f"{job}_user")}
        if not out:
            jobs = sorted({k.rsplit("_", 1)[0] for k in asdict(self)})
            raise KeyError(f"no prompt job {job!r}; the jobs are {', '.join(jobs)}")
        return out

    def messages(self, job: str, **fields) -> list[dict[str, str]]:
        """The chat messages of ``job``: ``[{"role": "system", ...}, {"role": "user", ...}]``, templates
        filled with ``fields`` (every placeholder of the pair must be given)."""
        t = self.templates(job)
        return [{"role": "system", "content": t[f"{job}_system"].format(**fields)},
                {"role": "user", "content": t[f"{job}_user"].format(**fields)}]


def prompt_hash(prompts: Prompts, *jobs: str) -> str:
    """SHA-1 (first 16 hex characters) of the templates of ``jobs``: the prompt part of a cache key."""
    blob = json.dumps({j: prompts.templates(j) for j in jobs}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]
