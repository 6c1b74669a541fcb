"""Datasets (bundled real data, BEIR folders), publication numbers and the raw VPM table parser."""

from patlink.data.dataset import Dataset, parse_view
from patlink.data.numbers import find_publication_numbers, normalize_publication_number, parse_publication_number
from patlink.data.registry import DATASETS, load_dataset

__all__ = [
    "Dataset",
    "parse_view",
    "DATASETS",
    "load_dataset",
    "normalize_publication_number",
    "parse_publication_number",
    "find_publication_numbers",
]
