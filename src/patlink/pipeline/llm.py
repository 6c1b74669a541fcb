"""Language models of the pipeline: an OpenAI-compatible chat client and the offline extractive summariser.

:class:`ChatClient` talks to any server implementing ``POST {base_url}/chat/completions`` (vLLM, Ollama,
llama.cpp server, LM Studio, hosted OpenAI-compatible APIs) through the official ``openai`` Python client. The API
key is read from the environment variable named in :class:`~patlink.pipeline.config.LLMConfig` at request time;
it is never stored, printed, put in ``repr`` or in error messages: a server's error body (which may echo the
request's ``Authorization`` header) goes through :func:`patlink.http.redact` with the key before it is cut to
length and put in the message.

:class:`ExtractiveSummarizer` is the offline method: sentences are ranked by their centrality in the
cosine-similarity graph of their embeddings (continuous LexRank, Erkan & Radev 2004, power iteration with damping
0.85) computed with the bundled ``minilm`` model via :func:`patlink.retrieval.embed.encode_texts`, and the best
are kept in their original order within a word budget.
"""

from __future__ import annotations

import re
import time
from typing import Sequence

import numpy as np

from patlink.http import redact
from patlink.pipeline.config import LLMConfig

__all__ = ["ChatClient", "LLMError", "ExtractiveSummarizer", "split_sentences", "truncate_words"]

#: Sent as the bearer token when the key variable is unset: local servers (vLLM, Ollama, llama.cpp) need no key,
#: and the ``openai`` client would otherwise fall back to ``$OPENAI_API_KEY``, sending a key meant for another
#: service to this endpoint.
NO_KEY = "no-key"


class LLMError(Exception):
    """The chat endpoint failed or answered something unusable (no secret in the message).

    Attributes:
        fatal: ``True`` when every further request would fail the same way (HTTP 401/403: a wrong or missing
            key), so a batch job stops instead of recording one failure per item.
    """

    def __init__(self, message: str, *, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


class ChatClient:
    """OpenAI-compatible chat-completions client over the official ``openai`` Python client.

    The ``openai`` client is built with ``base_url``, the key (a callable reading ``config.api_key_env`` at each
    request; :data:`NO_KEY` when the variable is unset), ``timeout=config.timeout_s`` and ``max_retries=0``:
    retries are done here, not by the ``openai`` client, so that the back-off is exactly ``config.backoff_s``
    doubling through the ``sleep`` function given (tests pass a recorder), every attempt is counted in
    :attr:`n_calls`, and the final message says how many attempts were made.

    Args:
        config: base URL, model, key variable, sampling and retry settings.
        sleep: delay function for back-off (tests pass a no-op).

    Attributes:
        n_calls: HTTP requests sent so far (retries included).

    Raises:
        ValueError: if ``config.base_url`` or ``config.model`` is missing or the URL is not http(s).
    """

    def __init__(self, config: LLMConfig, sleep=time.sleep):
        import openai

        if not config.base_url or not config.model:
            raise ValueError("an LLM endpoint needs both --llm-base-url and --llm-model")
        if not config.base_url.startswith(("http://", "https://")):
            raise ValueError(f"--llm-base-url must be an http(s) URL, got {config.base_url!r}")
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self._sleep = sleep
        self._client = openai.OpenAI(base_url=self.base_url, api_key=lambda: config.api_key() or NO_KEY,
                                     timeout=config.timeout_s, max_retries=0)
        self.n_calls = 0

    def __repr__(self) -> str:
        return f"ChatClient(url={self.url!r}, model={self.config.model!r})"

    @property
    def fingerprint(self) -> str:
        """What the cache keys on: endpoint + model + temperature (changing any recomputes LLM outputs)."""
        return f"{self.url}|{self.config.model}|t={self.config.temperature}"

    def close(self) -> None:
        self._client.close()

    def chat(self, messages: Sequence[dict], *, max_tokens: int | None = None) -> str:
        """Send ``messages`` (``[{"role": "system"|"user"|"assistant", "content": str}]``) and return the
        assistant's text (stripped).

        Transient failures (timeouts, connection errors, HTTP 429/5xx) are retried ``config.retries`` times with
        exponential back-off (``backoff_s``, doubling).

        Raises:
            LLMError: other HTTP errors (401/403: ``fatal``, naming the key variable), malformed answers, or
                retries exhausted; the message never contains the key.
        """
        import openai

        c = self.config
        key = c.api_key()
        secrets = (key,) if key else ()
        last = ""
        for attempt in range(c.retries + 1):
            try:
                self.n_calls += 1
                resp = self._client.chat.completions.create(
                    model=c.model, messages=list(messages), temperature=c.temperature,
                    max_tokens=max_tokens or c.max_tokens)
            except openai.APITimeoutError:
                last = f"LLM endpoint timed out after {c.timeout_s:g} s"
            except openai.APIConnectionError as e:
                cause = type(e.__cause__).__name__ if e.__cause__ is not None else type(e).__name__
                last = redact(f"LLM endpoint unreachable ({cause}) at {self.url}", secrets)
            except openai.APIStatusError as e:
                last = f"LLM endpoint answered HTTP {e.status_code}"
                if e.status_code in (401, 403):
                    raise LLMError(f"{last}: check the API key in ${c.api_key_env}", fatal=True) from None
                if e.status_code != 429 and e.status_code < 500:
                    try:
                        text = e.response.text
                    except Exception:  # noqa: BLE001 - a body that cannot be decoded is no reason to hide the code
                        text = ""
                    body = " ".join(redact(text, secrets).split())[:200]  # redacted BEFORE it is cut
                    raise LLMError(f"{last}: {body}") from None
            except (openai.APIResponseValidationError, ValueError):   # not JSON, or not a completion
                raise LLMError(redact(f"malformed chat-completions answer from {self.url}", secrets)) from None
            else:
                try:
                    text = resp.choices[0].message.content
                except (AttributeError, IndexError, KeyError, TypeError):
                    text = None
                if not isinstance(text, str):
                    raise LLMError(redact(f"malformed chat-completions answer from {self.url}", secrets))
                return text.strip()
            if attempt < c.retries:
                self._sleep(c.backoff_s * (2 ** attempt))
        raise LLMError(f"{last} (after {c.retries + 1} attempts)")


# -- offline extractive summariser -----------------------------------------------------------------------------
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u25cf]|\d+[.)])\s+")


def split_sentences(text: str, min_words: int = 3) -> list[str]:
    """Split text into sentences: line breaks (bullets, table rows) and sentence-final punctuation followed by
    an upper-case letter or digit. Bullet markers are stripped; fragments under ``min_words`` words dropped."""
    out = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        for s in _SENT_END.split(line):
            s = " ".join(s.split())
            if len(s.split()) >= min_words:
                out.append(s)
    return out


def truncate_words(text: str, max_words: int) -> str:
    """``text`` cut to its first ``max_words`` whitespace-separated words (unchanged if shorter)."""
    words = text.split()
    return text.strip() if len(words) <= max_words else " ".join(words[:max_words])


class ExtractiveSummarizer:
    """Centrality-ranked sentence extraction with a sentence-transformers model, or TF-IDF vectors (offline).

    Args:
        model: model name for :func:`patlink.retrieval.embed.encode_texts` (bundled ``minilm`` by default), or
            ``"tfidf"``: sentences compared by the cosine of their TF-IDF vectors (IDF over the sentences ranked
            together), the similarity of the original LexRank (Erkan & Radev 2004) — no neural model, about two
            orders of magnitude faster on a CPU, blind to paraphrase.
        damping: LexRank damping factor.
        max_sentences: only the first this many sentences of a text are ranked (bounds the n x n matrix).
        device: where the sentence model runs (``cpu``, ``cuda``, ``auto`` ..., see
            :func:`patlink.retrieval.embed.encode_texts`); the vectors agree across devices to float rounding, so
            it is not part of :attr:`fingerprint`.
    """

    method = "extractive"

    def __init__(self, model: str = "minilm", damping: float = 0.85, max_sentences: int = 400, device: str = "cpu"):
        self.model = model
        self.damping = damping
        self.max_sentences = max_sentences
        self.device = device

    @property
    def fingerprint(self) -> str:
        return f"extractive|{self.model}|d={self.damping}"

    def embed(self, sentences: Sequence[str]) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised embeddings (``model="tfidf"``: TF-IDF vectors, ``d`` = vocabulary)."""
        if self.model == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            try:
                x = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(list(sentences))
            except ValueError:   # only stop words / no word at all: no similarity
                return np.zeros((len(sentences), 1), dtype=np.float32)
            return np.asarray(x.toarray(), dtype=np.float32)   # rows already L2-normalised (norm="l2")
        from patlink.retrieval.embed import encode_texts

        return encode_texts(list(sentences), self.model, show_progress=False, device=self.device)

    def centrality(self, sentences: Sequence[str]) -> np.ndarray:
        """LexRank scores ``(n,)`` float64 summing to 1 (uniform for n <= 2)."""
        n = len(sentences)
        if n == 0:
            return np.zeros(0)
        if n <= 2:
            return np.full(n, 1.0 / n)
        e = self.embed(sentences).astype(np.float64)
        sim = np.clip(e @ e.T, 0.0, None)
        np.fill_diagonal(sim, 0.0)
        rows = sim.sum(1, keepdims=True)
        trans = np.where(rows > 0, sim / np.where(rows > 0, rows, 1.0), 1.0 / n)
        p = np.full(n, 1.0 / n)
        for _ in range(100):
            nxt = (1 - self.damping) / n + self.damping * (trans.T @ p)
            if np.abs(nxt - p).sum() < 1e-9:
                p = nxt
                break
            p = nxt
        return p / p.sum()

    def top_sentences(self, text_or_sentences: str | Sequence[str], k: int) -> list[str]:
        """The ``k`` most central sentences, in their original order."""
        sents = split_sentences(text_or_sentences) if isinstance(text_or_sentences, str) else list(text_or_sentences)
        sents = list(dict.fromkeys(sents))[: self.max_sentences]
        if len(sents) <= k:
            return sents
        score = self.centrality(sents)
        keep = sorted(np.argsort(-score, kind="stable")[:k])
        return [sents[i] for i in keep]

    def select(self, text_or_sentences: str | Sequence[str], max_words: int) -> list[str]:
        """The most central sentences, in their original order, at most ``max_words`` words in all: sentences are
        taken by decreasing centrality while they fit; the first one is cut to ``max_words`` if it alone is
        longer. ``[]`` for a text without sentences."""
        sents = split_sentences(text_or_sentences) if isinstance(text_or_sentences, str) else list(text_or_sentences)
        sents = list(dict.fromkeys(sents))[: self.max_sentences]
        if not sents:
            return []
        score = self.centrality(sents)
        chosen, used = [], 0
        for i in np.argsort(-score, kind="stable"):
            w = len(sents[i].split())
            if used + w > max_words and chosen:
                continue
            chosen.append(i)
            used += w
            if used >= max_words:
                break
        out = [sents[i] for i in sorted(chosen)]
        if len(out) == 1:
            out = [truncate_words(out[0], max_words)]
        return out

    def summarize(self, text_or_sentences: str | Sequence[str], max_words: int) -> str:
        """:meth:`select`'s sentences joined by spaces, each ending in punctuation (``.`` added where a sentence
        ends without ``.!?;:``), at most ``max_words`` words."""
        sents = self.select(text_or_sentences, max_words)
        text = " ".join(s if s.endswith((".", "!", "?", ";", ":")) else s + "." for s in sents)
        return truncate_words(text, max_words)

    def dedupe(self, sentences: Sequence[str], threshold: float = 0.92) -> list[str]:
        """Drop exact (case/space-insensitive) and near duplicates (cosine > ``threshold``), keeping the first."""
        uniq, keys = [], set()
        for s in sentences:
            k = " ".join(s.lower().split()).rstrip(".")
            if k and k not in keys:
                keys.add(k)
                uniq.append(s)
        if len(uniq) < 2:
            return uniq
        e = self.embed(uniq)
        keep: list[int] = []
        for i in range(len(uniq)):
            if all(float(e[i] @ e[j]) <= threshold for j in keep):
                keep.append(i)
        return [uniq[i] for i in keep]
