"""Retrieval: BM25 (bm25s), dense zero-shot (sentence-transformers + faiss), fusion (ranx), trained linkers."""
