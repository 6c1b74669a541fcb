"""The evaluation pool of a set of links: the item and patent texts its queries are ranked against.

Shared by evaluation (:mod:`patlink.evaluation.linkage`) and training (the validation pool on which a linker's
BM25 fusion weight is tuned), so it lives in the data layer below both.
"""

from __future__ import annotations

from collections.abc import Sequence

from patlink.data.dataset import Dataset

__all__ = ["MISSING_TEXT", "pools_for"]


#: Values of ``missing_text``: what to do when only SOME patents of a pool have text in the view.
MISSING_TEXT = ("error", "keep")


def pools_for(ds: Dataset, links: Sequence[tuple[str, str]], pool: str = "split",
              distractor_patents: dict[str, str] | None = None,
              missing_text: str = "error") -> tuple[dict[str, str], dict[str, str]]:
    """Item texts and patent texts of the evaluation pool: ``(items, patents)`` id → text.

    Args:
        missing_text: when some (not all) of the dataset's patents in the pool have no text in the patent view
            (a partly hydrated or summarised store): ``"error"`` refuses to mix them with patents that have text;
            ``"keep"`` ranks them as empty documents (they rank last for text methods and their links count as
            misses). To evaluate only patents with text, drop the others first
            (:meth:`patlink.data.Dataset.without_textless_patents`, ``--missing-text drop``).
            Distractor patents are not checked.

    Raises:
        ValueError: on an unknown pool or ``missing_text``, an empty split, a side with no text at all (e.g.
            ``honeywell-vpm``'s patents before hydration), or, with ``missing_text="error"``, a patent pool that
            mixes patents with and without text.
    """
    if missing_text not in MISSING_TEXT:
        raise ValueError(f"unknown missing_text {missing_text!r}; use one of {', '.join(MISSING_TEXT)} (or drop "
                         "the patents without text first: Dataset.without_textless_patents)")
    if not links:
        raise ValueError("the evaluated split has no links")
    if pool == "split":
        item_ids = sorted({i for i, _ in links})
        patent_ids = sorted({p for _, p in links})
    elif pool == "all":
        item_ids, patent_ids = list(ds.items), list(ds.patents)
    else:
        raise ValueError(f"unknown pool {pool!r}; use 'split' or 'all'")
    items = ds.item_texts(item_ids)
    patents = ds.patent_texts(patent_ids)
    name = getattr(ds, "name", "the dataset")
    empty = sorted(p for p, t in patents.items() if not t.strip())
    if missing_text == "error" and 0 < len(empty) < len(patents):
        hint = "summarise them (`patlink summarise`)" if "summary" in ds.patent_view else \
            f"hydrate them (`patlink hydrate {name} --source ...`)"
        raise ValueError(
            f"{len(empty)} of the {len(patents)} candidate patents have no text in view {','.join(ds.patent_view)} "
            f"(e.g. {', '.join(empty[:3])}), the others have: a ranking would mix them silently. {hint[0].upper()}"
            f"{hint[1:]}, evaluate only the patents with text (--missing-text drop), or rank them as empty "
            "documents (--missing-text keep)")
    for pid, text in (distractor_patents or {}).items():
        patents.setdefault(pid, text)
    if patents and not any(t.strip() for t in patents.values()):
        raise ValueError(
            f"none of the {len(patents)} candidate patents has text in view {','.join(ds.patent_view)}: {name} "
            f"ships its patents without text. Hydrate them (`patlink hydrate {name} --source ...`), or evaluate "
            "new products against patents known by their products (`--protocol new-product`)")
    if items and not any(t.strip() for t in items.values()):
        raise ValueError(f"none of the {len(items)} items has text in view {','.join(ds.item_view)}")
    return items, patents
