"""Patent summaries by map-reduce, so that nothing of a long patent is lost (El Bouari & de Rassenfosse,
*Product-Patent linkage prediction*, §2.1: each patent's title, abstract, claims and description are summarised
by an LLM into a text that fits the encoder).

A patent's full text (its fields in order, by default title, abstract, claims, description, each under its name
in capitals) is cut into chunks of ``SummaryConfig.chunk_tokens`` tokens sharing ``chunk_overlap`` tokens
(:func:`patlink.data.chunking.chunk_text`):

* one chunk: one call summarises it directly (prompt job ``patent``);
* several chunks: EVERY chunk is summarised into notes (map, job ``patent_map``: the facts of that chunk, claim
  elements included), then the notes are merged (reduce, job ``patent_reduce``) — in one call when they fit
  ``chunk_tokens``, otherwise in rounds: consecutive notes are grouped into calls that fit, each group is merged
  into an intermediate summary of ``note_max_words`` words, and so on until one call holds them all
  (:func:`reduce_in_rounds`). Every note is at most half a call, so every group holds two or more and each round
  shrinks the list: the rounds end.

The answer is cut to ``patent_max_words`` words (LLMs overrun budgets). Every map and reduce output is cached
(:class:`SummaryCache`, e.g. the hydration store's ``summary_cache`` table) under the SHA-1 of the job, the
patent, the model fingerprint, the prompt hash, the budgets and the input text, and written as soon as it is
computed: an interrupted run loses at most the call in flight, a rerun with the same settings makes no call, and
changing the model or a prompt recomputes what depends on it.

Backends are chosen explicitly, by the object given: a :class:`~patlink.pipeline.llm.ChatClient` (any
OpenAI-compatible server) or the offline :class:`~patlink.pipeline.llm.ExtractiveSummarizer` (LexRank), which is
applied in the same map-reduce shape (the most central sentences of each chunk, then of the notes), on chunks of
whole sentences (:func:`sentence_chunks`: no overlap needed, no sentence cut in two).

:func:`summarise_patents` runs a summariser over a dataset's patents and writes one row per patent into the
``summaries`` table of a :class:`~patlink.hydrate.store.HydrationStore`, whose ``texts_for`` then gives each
patent a ``summary`` field.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from patlink.data.chunking import chunk_text, token_spans
from patlink.http import redact
from patlink.pipeline.config import SummaryConfig
from patlink.pipeline.llm import ChatClient, ExtractiveSummarizer, LLMError, split_sentences, truncate_words
from patlink.pipeline.prompts import Prompts, prompt_hash

__all__ = [
    "PatentSummariser", "PatentSummary", "SummaryCache", "MemoryCache", "SummaryError", "SummariseReport",
    "summarise_patents", "patent_full_text", "reduce_in_rounds", "fields_for", "sentence_chunks",
]

_NONE_ANSWERS = {"NONE", "N/A", ""}


class SummaryError(ValueError):
    """One patent could not be summarised (no text, nothing found in any chunk, an empty answer)."""


@runtime_checkable
class SummaryCache(Protocol):
    """Where map/reduce outputs are kept: :class:`MemoryCache`, the hydration store's ``summary_cache`` table
    (``HydrationStore.summaries.cache``) or the pipeline database."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, output: str, *, kind: str, number: str) -> None: ...


class MemoryCache:
    """A :class:`SummaryCache` in a dict (lost when the process ends)."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def put(self, key: str, output: str, *, kind: str, number: str) -> None:
        self.data[key] = output

    def __len__(self) -> int:
        return len(self.data)


def _sha1(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def patent_full_text(fields: Mapping[str, Any], order: Sequence[str]) -> str:
    """The text to summarise: the non-empty ``fields`` in ``order``, each under its name in capitals (``TITLE``,
    ``CLAIMS`` ...), separated by blank lines; ``""`` when all are empty."""
    parts = []
    for name in order:
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            parts.append(f"{name.upper()}\n{value.strip()}")
    return "\n\n".join(parts)


def _words_of(fields: Mapping[str, Any], order: Sequence[str]) -> int:
    return sum(len(v.split()) for k in order if isinstance(v := fields.get(k), str))


def sentence_chunks(text: str, max_tokens: int, tokenizer: str = "whitespace") -> list[str]:
    """``text`` cut into chunks of whole sentences (:func:`~patlink.pipeline.llm.split_sentences`, one per line)
    of at most ``max_tokens`` tokens each, in order: the extractive method's chunks, so that no sentence is cut in
    two at a chunk boundary. A sentence longer than ``max_tokens`` is cut into token chunks of its own."""
    chunks: list[str] = []
    cur: list[str] = []
    used = 0
    for sent in split_sentences(text):
        n = len(token_spans(sent, tokenizer))
        if cur and (used + n > max_tokens or n > max_tokens):
            chunks.append("\n".join(cur))
            cur, used = [], 0
        if n > max_tokens:
            chunks.extend(chunk_text(sent, max_tokens, 0, tokenizer))
            continue
        cur.append(sent)
        used += n
    if cur:
        chunks.append("\n".join(cur))
    return chunks


def reduce_in_rounds(items: Sequence[str], budget: int, count: Callable[[str], int],
                     merge: Callable[[list[str]], str], final: Callable[[list[str]], Any]) -> tuple[Any, int]:
    """Merge ``items`` in rounds until one call holds them all; that call is ``final``.

    While the items' total size (``count`` of each, summed) exceeds ``budget``, consecutive items are grouped
    greedily into groups of at most ``budget``, and each group of two or more is replaced by ``merge(group)`` (a
    group of one is kept as it is). Callers keep every item, and every ``merge`` output, at most ``budget // 2``
    (then any two items fit one group, every group but the last holds two or more, and each round shrinks the
    list, so the rounds end).

    Returns:
        ``(final(items), rounds)``, with ``rounds`` the number of merge rounds before the final call (0 when the
        items fit at once).

    Raises:
        ValueError: on an empty ``items`` or an item larger than ``budget // 2``.
    """
    items = list(items)
    if not items:
        raise ValueError("nothing to merge")
    half = budget // 2
    sizes = [count(x) for x in items]
    if max(sizes) > half:
        raise ValueError(f"an item of {max(sizes)} tokens exceeds half the budget ({half})")
    rounds = 0
    while sum(sizes) > budget:
        groups: list[list[int]] = [[]]
        used = 0
        for i, n in enumerate(sizes):
            if groups[-1] and used + n > budget:
                groups.append([])
                used = 0
            groups[-1].append(i)
            used += n
        nxt = [merge([items[i] for i in g]) if len(g) > 1 else items[g[0]] for g in groups]
        items, sizes = nxt, [count(x) for x in nxt]
        if max(sizes) > half:
            raise ValueError(f"a merge output of {max(sizes)} tokens exceeds half the budget ({half})")
        rounds += 1
    return final(items), rounds


@dataclass
class PatentSummary:
    """One patent's summary and what it took.

    Attributes:
        number: the key it is stored under. summary: at most ``patent_max_words`` words.
        method: ``"llm"`` or ``"extractive"``. model: the LLM's name, or ``lexrank:<sentence model>``.
        prompt_hash: hash of the prompt templates used (LLM) or of the extractive settings.
        n_chunks: chunks of the full text. rounds: reduce rounds before the final merge (0: the notes fitted one
            call, or the text was one chunk). words_in / words_out: words of the fields / of the summary.
        computed / cached: map/reduce steps computed now / served by the cache. llm_calls: HTTP requests sent
            now (retries included; 0 for the extractive method and for a fully cached summary).
    """

    number: str
    summary: str
    method: str
    model: str
    prompt_hash: str
    n_chunks: int
    words_in: int
    words_out: int
    rounds: int = 0
    computed: int = 0
    cached: int = 0
    llm_calls: int = 0


@dataclass
class _Run:
    """One :meth:`PatentSummariser.summarise` call: its counters and the cache it uses."""

    stats: PatentSummary
    cache: SummaryCache


class PatentSummariser:
    """Map-reduce patent summaries with an LLM or the offline extractive method (module docstring).

    Args:
        backend: a :class:`~patlink.pipeline.llm.ChatClient` (LLM summaries) or an
            :class:`~patlink.pipeline.llm.ExtractiveSummarizer` (offline); nothing else, so the method is always
            chosen on purpose.
        config: budgets, chunking and the default fields (:class:`~patlink.pipeline.config.SummaryConfig`).
        prompts: prompt templates (jobs ``patent``, ``patent_map``, ``patent_reduce``).
        cache: where map/reduce outputs are kept; default a new :class:`MemoryCache` (and
            :func:`summarise_patents` then uses its store's ``summary_cache`` table instead).

    Raises:
        TypeError: a backend of another type (``None`` included).
        ValueError: ``chunk_tokens < 4``, an overlap outside ``[0, chunk_tokens)``, a budget < 1, or
            ``note_max_words`` above ``chunk_tokens // 2``.
    """

    def __init__(self, backend: ChatClient | ExtractiveSummarizer, config: SummaryConfig | None = None,
                 prompts: Prompts | None = None, cache: SummaryCache | None = None) -> None:
        if not isinstance(backend, (ChatClient, ExtractiveSummarizer)):
            raise TypeError("a patent summariser needs a ChatClient (an LLM endpoint) or an ExtractiveSummarizer "
                            f"(the offline method), got {type(backend).__name__}")
        self.backend = backend
        self.config = cfg = config or SummaryConfig()
        self.prompts = prompts or Prompts()
        self.cache_given = cache is not None
        self.cache = cache if cache is not None else MemoryCache()
        if cfg.chunk_tokens < 4:
            raise ValueError(f"chunk_tokens must be at least 4, got {cfg.chunk_tokens}")
        if not 0 <= cfg.chunk_overlap < cfg.chunk_tokens:
            raise ValueError(f"chunk_overlap must be in [0, chunk_tokens={cfg.chunk_tokens}), got {cfg.chunk_overlap}")
        if cfg.patent_max_words < 1 or cfg.note_max_words < 1:
            raise ValueError("patent_max_words and note_max_words must be at least 1")
        if cfg.note_max_words > cfg.chunk_tokens // 2:
            raise ValueError(f"note_max_words ({cfg.note_max_words}) must be at most half of chunk_tokens "
                             f"({cfg.chunk_tokens}) so that two notes fit one merge call")

    # ------------------------------------------------------------------------------------------ identity
    @property
    def llm(self) -> ChatClient | None:
        return self.backend if isinstance(self.backend, ChatClient) else None

    @property
    def method(self) -> str:
        return "llm" if self.llm else "extractive"

    @property
    def model(self) -> str:
        """The LLM's model name, or ``lexrank:<sentence model>``."""
        return str(self.llm.config.model) if self.llm else f"lexrank:{self.backend.model}"

    @property
    def fingerprint(self) -> str:
        """Model part of the cache keys: model name, temperature and completion limit (not the server's URL: the
        same model served elsewhere gives the same outputs), or the extractive method's settings."""
        if self.llm:
            c = self.llm.config
            return f"llm|{c.model}|t={c.temperature}|max_tokens={c.max_tokens}"
        return self.backend.fingerprint

    def _job_hash(self, job: str) -> str:
        if self.llm:
            return prompt_hash(self.prompts, job)
        return _sha1("lexrank", job, self.backend.max_sentences)[:16]

    @property
    def prompt_hash(self) -> str:
        """Hash of the three patent prompts (LLM) or of the extractive settings: the ``prompt_hash`` column."""
        if self.llm:
            return prompt_hash(self.prompts, "patent", "patent_map", "patent_reduce")
        return _sha1("lexrank", self.backend.max_sentences, self.backend.damping)[:16]

    # ------------------------------------------------------------------------------------------ pieces
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as ``chunk_tokens`` counts them."""
        return len(token_spans(text, self.config.tokenizer))

    def _cut(self, text: str, words: int) -> str:
        """``text`` in at most ``words`` words and ``chunk_tokens // 2`` tokens."""
        text = truncate_words(" ".join(text.split()), words)
        half = self.config.chunk_tokens // 2
        if self.count_tokens(text) > half:
            text = chunk_text(text, half, 0, self.config.tokenizer)[0]
        return text

    def _cut_lines(self, sentences: list[str], words: int) -> str:
        """Extractive notes: one sentence a line (so that a merge re-reads exactly these sentences), whole
        sentences while they fit ``chunk_tokens // 2`` tokens (a lone first one is cut to it)."""
        out: list[str] = []
        for sent in sentences:
            if out and self.count_tokens("\n".join(out + [sent])) > self.config.chunk_tokens // 2:
                break
            out.append(self._cut(sent, words))
        return "\n".join(out)

    def _ask(self, job: str, max_words: int, **fields) -> str:
        assert self.llm is not None
        answer = self.llm.chat(self.prompts.messages(job, max_words=max_words, **fields))
        return "" if answer.strip().upper().rstrip(".") in _NONE_ANSWERS else answer.strip()

    def _step(self, run: _Run, kind: str, key_parts: list, compute: Callable[[], str]) -> str:
        stats = run.stats
        key = _sha1(kind, stats.number, self.fingerprint, self._job_hash(
            {"direct": "patent", "map": "patent_map", "reduce": "patent_reduce"}[kind]), key_parts)
        hit = run.cache.get(key)
        if hit is not None:
            stats.cached += 1
            return hit
        out = compute()
        run.cache.put(key, out, kind=kind, number=stats.number)
        stats.computed += 1
        return out

    def _direct(self, run: _Run, text: str) -> str:
        n = self.config.patent_max_words

        def compute() -> str:
            if self.llm:
                return self._ask("patent", n, patent=run.stats.number, text=text)
            return self.backend.summarize(text, n)

        return self._step(run, "direct", [n, text], compute)

    def _map(self, run: _Run, part: int, parts: int, chunk: str) -> str:
        n = self.config.note_max_words

        def compute() -> str:
            if self.llm:
                out = self._ask("patent_map", n, patent=run.stats.number, part=part, parts=parts, text=chunk)
                return self._cut(out, n) if out.strip() else ""
            return self._cut_lines(self.backend.select(chunk, n), n)

        return self._step(run, "map", [n, part, parts, chunk], compute)

    def _reduce(self, run: _Run, notes: list[str], final: bool) -> str:
        n = self.config.patent_max_words if final else self.config.note_max_words

        def compute() -> str:
            joined = "\n".join(notes)
            if not self.llm:   # notes hold one sentence a line: the merge ranks exactly those sentences
                return self.backend.summarize(joined, n) if final else self._cut_lines(self.backend.select(joined, n), n)
            out = self._ask("patent_reduce", n, patent=run.stats.number, notes=joined)
            return out if final else self._cut(out, n)

        return self._step(run, "reduce", [n, final, notes], compute)

    # ------------------------------------------------------------------------------------------ the job
    def summarise(self, number: str, text: str | Mapping[str, Any], *, cache: SummaryCache | None = None,
                  ) -> PatentSummary:
        """Summarise one patent.

        Args:
            number: the patent's key (publication number or document id): part of the prompts and cache keys.
            text: the full text, or the patent's fields (``{"title": ..., "claims": ...}``) joined in
                ``config.patent_fields`` order by :func:`patent_full_text`.
            cache: where the steps are looked up and written for this call (default: ``self.cache``).

        Returns:
            a :class:`PatentSummary` (``summary`` at most ``patent_max_words`` words).

        Raises:
            SummaryError: no text; no chunk with any fact (every map answered NONE); an empty summary.
            LLMError: the endpoint failed (after its retries), see :meth:`ChatClient.chat`.
        """
        cfg = self.config
        if isinstance(text, Mapping):
            words_in = _words_of(text, cfg.patent_fields)
            text = patent_full_text(text, cfg.patent_fields)
        else:
            words_in = len(text.split())
        if not text.strip():
            raise SummaryError(f"patent {number} has no text")
        stats = PatentSummary(number=number, summary="", method=self.method, model=self.model,
                              prompt_hash=self.prompt_hash, n_chunks=0, words_in=words_in, words_out=0)
        run = _Run(stats, cache if cache is not None else self.cache)
        calls_before = self.llm.n_calls if self.llm else 0
        if self.llm:
            chunks = chunk_text(text, cfg.chunk_tokens, cfg.chunk_overlap, cfg.tokenizer)
        else:
            chunks = sentence_chunks(text, cfg.chunk_tokens, cfg.tokenizer)
            if not chunks:
                raise SummaryError(f"patent {number} has no sentence of three words or more")
        stats.n_chunks = len(chunks)
        try:
            if len(chunks) == 1:
                out = self._direct(run, text)
            else:
                notes = [self._map(run, i + 1, len(chunks), c) for i, c in enumerate(chunks)]
                notes = [x for x in notes if x.strip()]
                if not notes:
                    raise SummaryError(f"no facts found in any of the {len(chunks)} chunks of patent {number}")
                out, stats.rounds = reduce_in_rounds(
                    notes, cfg.chunk_tokens, self.count_tokens,
                    merge=lambda group: self._reduce(run, group, final=False),
                    final=lambda group: self._reduce(run, group, final=True))
        finally:
            stats.llm_calls = (self.llm.n_calls - calls_before) if self.llm else 0
        out = truncate_words(" ".join(out.split()), cfg.patent_max_words)
        if not out:
            raise SummaryError(f"empty summary produced for patent {number}")
        stats.summary = out
        stats.words_out = len(out.split())
        return stats


# ---------------------------------------------------------------------------------------------- many patents
@dataclass
class SummariseReport:
    """What :func:`summarise_patents` did.

    Attributes:
        method / model / prompt_hash: of the summariser. db_path: the store written.
        requested: patents considered (after ``limit``), ``skipped_no_text`` included.
        summarised: ids (as given) whose summary was written now. cached: ids whose stored summary was already
            current (made from cached steps only, identical to the stored row: nothing written).
        failed: id → reason (no secret in it). skipped_no_text: ids whose fields are all empty. (A summary is
        stored under the canonical publication number of its id, or the id itself when it is not one.)
        llm_calls: HTTP requests to the LLM (retries included). chunks: chunks of all summarised texts.
        steps_computed / steps_cached: map/reduce steps computed now / served by the cache.
        words_in / words_out: words of the texts / of the summaries (summarised and cached patents).
        seconds: wall time.
    """

    method: str
    model: str
    prompt_hash: str
    db_path: str
    requested: int = 0
    summarised: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped_no_text: list[str] = field(default_factory=list)
    llm_calls: int = 0
    chunks: int = 0
    steps_computed: int = 0
    steps_cached: int = 0
    words_in: int = 0
    words_out: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        d["counts"] = {"requested": self.requested, "summarised": len(self.summarised), "cached": len(self.cached),
                       "failed": len(self.failed), "skipped_no_text": len(self.skipped_no_text)}
        return d


def fields_for(available: Sequence[str], wanted: Sequence[str] | None, default: Sequence[str]) -> tuple[str, ...]:
    """The fields to summarise, in order.

    ``wanted`` (given by the user) must all be among ``available``. Without it, the ``default`` fields that are
    available; when that leaves at most a title and ``available`` has a ``text`` field (a BEIR corpus:
    ``title``/``text``), ``text`` is added.

    Raises:
        ValueError: an unknown field in ``wanted`` (the available ones listed), or no field at all.
    """
    if wanted:
        bad = [f for f in wanted if f not in available]
        if bad:
            raise ValueError(f"unknown patent field(s) {', '.join(bad)}; this dataset has {', '.join(available)}")
        return tuple(dict.fromkeys(wanted))
    out = [f for f in default if f in available]
    if set(out) <= {"title"} and "text" in available:
        out.append("text")
    if not out:
        raise ValueError(f"none of the fields {', '.join(default)} in this dataset (it has {', '.join(available)}); "
                         "choose some with --fields")
    return tuple(out)


def _store_key(pid: str) -> str:
    """The canonical publication number, or the id as given when it is not one (e.g. a BEIR corpus id)."""
    from patlink.data.numbers import normalize_publication_number

    try:
        return normalize_publication_number(pid)
    except ValueError:
        return pid


def summarise_patents(dataset_or_texts, summariser: PatentSummariser, store, *,
                      fields: Sequence[str] | None = None, limit: int | None = None,
                      progress: Callable[[int, int], None] | None = None) -> SummariseReport:
    """Summarise patents into the ``summaries`` table of a hydration store (one row per patent).

    A patent whose stored summary was made with the same method, model and prompts from the same cached steps
    is left as it is (``cached``); otherwise the new summary replaces the row as soon as it is done (one
    statement), so an interrupted run keeps every finished patent and every cached step.

    Args:
        dataset_or_texts: a :class:`patlink.data.Dataset` (its patents' fields; with ``--texts`` a hydration
            store's texts already filled in), or a mapping id → {field: text} or id → full text.
        summariser: a :class:`PatentSummariser`. Its steps are cached in ``store.summaries.cache`` (the
            store's ``summary_cache`` table) unless it was built with a cache of its own.
        store: a :class:`patlink.hydrate.store.HydrationStore` opened writable.
        fields: the fields to summarise, in order (default: :func:`fields_for` with the summariser's
            ``patent_fields``). Ignored for id → full text mappings.
        limit: at most this many patents with text (in input order).
        progress: called as ``progress(done, total)`` after each patent.

    Returns:
        a :class:`SummariseReport`.

    Raises:
        ValueError: a read-only store, unknown fields, or a store that cannot be read (its one-line message).
        LLMError: a fatal endpoint error (HTTP 401/403: a wrong key): the run stops; finished patents stay.
    """
    from patlink.data import Dataset

    if getattr(store, "read_only", False):
        raise ValueError(f"hydration store {store.path} is open read-only: summaries are written into it")
    cache = summariser.cache if summariser.cache_given else store.summaries.cache
    if isinstance(dataset_or_texts, Dataset):
        use = fields_for(dataset_or_texts.patent_fields, fields, summariser.config.patent_fields)
        docs: Mapping[str, Any] = dataset_or_texts.patents
    elif isinstance(dataset_or_texts, Mapping):
        docs = dataset_or_texts
        present = sorted({k for d in docs.values() if isinstance(d, Mapping) for k in d})
        use = fields_for(present, fields, summariser.config.patent_fields) if present else ()
    else:
        raise TypeError(f"expected a Dataset or a mapping of patent texts, got {type(dataset_or_texts).__name__}")

    secrets = tuple(k for k in ((summariser.llm.config.api_key(),) if summariser.llm else ()) if k)
    report = SummariseReport(method=summariser.method, model=summariser.model, prompt_hash=summariser.prompt_hash,
                             db_path=str(getattr(store, "path", "")))
    jobs: list[tuple[str, str, str, int]] = []
    for pid, doc in docs.items():
        if isinstance(doc, Mapping):
            text, words = patent_full_text(doc, use), _words_of(doc, use)
        else:
            text = str(doc or "")
            words = len(text.split())
        if not text.strip():
            report.skipped_no_text.append(str(pid))
            continue
        if limit is not None and len(jobs) >= limit:
            break
        jobs.append((str(pid), _store_key(str(pid)), text, words))
    report.requested = len(jobs) + len(report.skipped_no_text)

    from patlink.hydrate.summaries import SummaryRow

    start = time.perf_counter()
    try:
        for done, (pid, key, text, words) in enumerate(jobs, 1):
            try:
                res = summariser.summarise(key, text, cache=cache)
            except LLMError as e:
                if e.fatal:
                    raise
                report.failed[pid] = redact(str(e), secrets)[:500]
            except SummaryError as e:
                report.failed[pid] = str(e)[:500]
            else:
                res.words_in = words
                report.llm_calls += res.llm_calls
                report.chunks += res.n_chunks
                report.steps_computed += res.computed
                report.steps_cached += res.cached
                report.words_in += words
                report.words_out += res.words_out
                prev = store.summaries.get(key)
                if (prev is not None and res.computed == 0 and prev.summary == res.summary
                        and (prev.method, prev.model, prev.prompt_hash) == (res.method, res.model, res.prompt_hash)):
                    report.cached.append(pid)
                else:
                    store.summaries.put(SummaryRow(
                        number=key, summary=res.summary, method=res.method, model=res.model,
                        prompt_hash=res.prompt_hash, n_chunks=res.n_chunks, words_in=words,
                        words_out=res.words_out))
                    report.summarised.append(pid)
            if progress is not None:
                progress(done, len(jobs))
    finally:
        report.seconds = time.perf_counter() - start
    return report
