"""Profile scorers: rank patents known by their products (and, when hydrated, by their own text), one scorer per
file, all reading one :class:`~patlink.retrieval.profiles.store.PatentProfiles`.

================== =======================================================================================
``profile-mean``   cosine to the mean embedding of the patent's known products (:mod:`.profile_mean`)
``profile-bm25``   BM25 against the concatenated texts of the known products (:mod:`.profile_bm25`)
``knn``            the patents of the nearest known products (:mod:`.knn`)
``knn-linker``     ``knn`` over a trained linker's embeddings (:mod:`.knn_linker`)
``profile-linker`` a trained linker pooling the set of known products (:mod:`.profile_linker`)
``popularity``     the number of known products (:mod:`.popularity`)
``text-dense``     cosine to the patent's own text (:mod:`.text_dense`)
``text-bm25``      BM25 against the patent's own text (:mod:`.text_bm25`)
``text-linker``    a trained linker on the patent's own text (:mod:`.text_linker`)
================== =======================================================================================

The methods that use them are in :mod:`patlink.methods.profile`.
"""

from patlink.retrieval.profiles.knn import KNN
from patlink.retrieval.profiles.knn_linker import KNNLinker
from patlink.retrieval.profiles.popularity import Popularity
from patlink.retrieval.profiles.profile_bm25 import ProfileBM25
from patlink.retrieval.profiles.profile_linker import ProfileLinker
from patlink.retrieval.profiles.profile_mean import ProfileMean
from patlink.retrieval.profiles.scorer import ProfileScorer
from patlink.retrieval.profiles.store import PatentProfiles, ProfileConfig, knn_link_scores
from patlink.retrieval.profiles.text_bm25 import TextBM25
from patlink.retrieval.profiles.text_dense import TextDense
from patlink.retrieval.profiles.text_linker import TextLinker

#: leaf name → scorer.
SCORERS: dict[str, ProfileScorer] = {s.leaf: s for s in (
    ProfileMean(), ProfileBM25(), KNN(), KNNLinker(), ProfileLinker(), Popularity(), TextDense(), TextBM25(),
    TextLinker())}


def get_scorer(leaf: str) -> ProfileScorer:
    """The scorer named ``leaf``. Raises ``ValueError`` listing the known ones."""
    try:
        return SCORERS[leaf]
    except KeyError:
        raise ValueError(f"unknown profile leaf {leaf!r}; use one of {', '.join(SCORERS)}") from None


__all__ = ["SCORERS", "PatentProfiles", "ProfileConfig", "ProfileScorer", "get_scorer", "knn_link_scores"]
