"""Saved indexes: build once, link many queries from disk, grow with new documents.

>>> from patlink.index import build_index, CorpusIndex          # doctest: +SKIP
>>> idx = build_index({"p1": "a barcode scanner", "p2": "a gas turbine"}, BM25(), "idx/")   # doctest: +SKIP
>>> CorpusIndex.open("idx/").link({"q": "barcode reader"}, top_k=1)                          # doctest: +SKIP

An index folder holds what its method needs to rank without re-reading or re-embedding the corpus (the BM25
index, memory-mapped document vectors, an ANN index above a measured size, a trained linker's or bi-encoder's
document-side embeddings) and a manifest with checksums (:mod:`patlink.index.manifest`). See docs/index.md.
"""

from patlink.index.build import ENGINES, add_documents, build_index, read_documents
from patlink.index.manifest import FORMAT, IndexManifest, InvalidIndexError
from patlink.index.spec import method_from_spec, method_to_spec
from patlink.index.store import CorpusIndex

__all__ = ["ENGINES", "FORMAT", "CorpusIndex", "IndexManifest", "InvalidIndexError", "add_documents", "build_index",
           "method_from_spec", "method_to_spec", "read_documents"]
