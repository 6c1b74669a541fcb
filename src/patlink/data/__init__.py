"""Datasets (bundled real data, BEIR folders), corpora from plain files, publication numbers, the raw VPM parser.

The lowest layer of patlink after :mod:`patlink.config`: it imports no other subpackage. Patent texts fetched by
:mod:`patlink.hydrate` come in through ``load_dataset(name, texts=...)`` (a :class:`PatentTextSource`).
"""

from patlink.data.corpus import Corpus, CorpusError, read_corpus
from patlink.data.dataset import PATENT_TEXT_FIELDS, Dataset, PatentTextSource, parse_view
from patlink.data.numbers import find_publication_numbers, normalize_publication_number, parse_publication_number
from patlink.data.registry import DATASETS, load_dataset

__all__ = [
    "Dataset",
    "PATENT_TEXT_FIELDS",
    "PatentTextSource",
    "parse_view",
    "DATASETS",
    "load_dataset",
    "normalize_publication_number",
    "parse_publication_number",
    "find_publication_numbers",
    "Corpus",
    "CorpusError",
    "read_corpus",
]
