"""The evaluation pool of a set of links: the item and patent texts its queries are ranked against.

Shared by evaluation (:mod:`patlink.evaluation.linkage`) and training (the validation pool on which a linker's
BM25 fusion weight is tuned), so it lives in the data layer below both.
"""

from __future__ import annotations

from collections.abc import Sequence

from patlink.data.dataset import Dataset

__all__ = ["pools_for"]


def pools_for(ds: Dataset, links: Sequence[tuple[str, str]], pool: str = "split",
              distractor_patents: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Item texts and patent texts of the evaluation pool: ``(items, patents)`` id → text.

    Raises:
        ValueError: on an unknown pool, an empty split, or a side with no text at all (e.g. ``honeywell-vpm``'s
            patents before hydration).
    """
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
    for pid, text in (distractor_patents or {}).items():
        patents.setdefault(pid, text)
    name = getattr(ds, "name", "the dataset")
    if patents and not any(t.strip() for t in patents.values()):
        raise ValueError(
            f"none of the {len(patents)} candidate patents has text in view {','.join(ds.patent_view)}: {name} "
            f"ships its patents without text. Hydrate them (`patlink hydrate {name} --source ...`), or evaluate "
            "new products against patents known by their products (`--protocol new-product`)")
    if items and not any(t.strip() for t in items.values()):
        raise ValueError(f"none of the {len(items)} items has text in view {','.join(ds.item_view)}")
    return items, patents
