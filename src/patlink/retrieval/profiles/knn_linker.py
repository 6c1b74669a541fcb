"""``knn-linker``: ``knn`` over a trained linker's embeddings."""

from __future__ import annotations

from patlink.retrieval.profiles.knn import KNN

__all__ = ["KNNLinker"]


class KNNLinker(KNN):
    """The ``knn`` score with the query embedded by a trained linker's item encoder and each known product ALONE
    by its patent encoder (a linker trained with ``set_scoring="members"``). ``param`` is ``(model folder, k)``."""

    leaf = "knn-linker"

    def _members(self, pr, param):
        return pr.linker_member_emb(param[0])

    def _k(self, pr, param) -> int:
        return param[1]
