"""Checks of a train/val split that every trained architecture makes before it reads a text or builds a model."""

from __future__ import annotations

__all__ = ["check_split_links"]


def check_split_links(ds, train: list, val: list, *, selected: str) -> None:
    """Raise ``ValueError`` in one line unless ``train`` and ``val`` can train and validate a model on ``ds``.

    Args:
        ds: the :class:`patlink.data.dataset.Dataset` the links come from.
        train, val: ``(item id, patent id)`` links of the split.
        selected: what validation selects, for the message (e.g. ``"the best epoch"``).

    Raises:
        ValueError: no training links; no validation links; fewer than 2 distinct training links (in-batch
            negatives need two); link ids that are not items or patents of ``ds``.
    """
    if not train:
        raise ValueError("no training links: the split's 'train' list is empty")
    if not val:
        raise ValueError(f"no validation links: {selected} is selected on validation MRR, so the split needs a "
                         "non-empty 'val' list (use patlink split, or give a dataset with validation qrels)")
    if len({tuple(x) for x in train}) < 2:
        raise ValueError("need at least 2 distinct training links for in-batch negatives")
    links = list(train) + list(val)
    unknown = sorted({i for i, _ in links if i not in ds.items} | {p for _, p in links if p not in ds.patents})
    if unknown:
        raise ValueError(f"{len(unknown)} split id(s) not in the dataset, e.g. {unknown[:3]}")
