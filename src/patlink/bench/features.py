"""Document features for the classification and clustering tasks: dense embeddings, or TF-IDF for ``bm25``."""

from __future__ import annotations

import numpy as np

from patlink.bench.models import ModelSpec

__all__ = ["featurize"]


def featurize(model: ModelSpec, fit_texts: list[str], other_texts: list[str] | None = None,
              max_length: int = 256):
    """Vectors for ``fit_texts`` (and ``other_texts``) under ``model``.

    Dense models: ``(n, d)`` float32 L2-normalised sentence embeddings. ``bm25``: the lexical baseline's
    counterpart for vector tasks, a TF-IDF matrix (scikit-learn ``TfidfVectorizer``: sublinear tf, English stop
    words, unigrams, min_df=2 when possible), fitted on ``fit_texts`` only, rows L2-normalised, scipy CSR.

    Returns:
        ``(X_fit, X_other)``; ``X_other`` is ``None`` when ``other_texts`` is ``None``.
    """
    if model.kind == "dense":
        xa = model.embed(fit_texts, max_length=max_length)
        xb = model.embed(other_texts, max_length=max_length) if other_texts is not None else None
        return xa, xb
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2 if len(fit_texts) >= 20 else 1,
                          dtype=np.float32)
    xa = vec.fit_transform(fit_texts)
    xb = vec.transform(other_texts) if other_texts is not None else None
    return xa, xb
