"""Build a saved index folder for a method over a corpus, resumably; grow it with new documents.

Layout of an index folder ``IDX`` (generation ``g`` = 0 at build, +1 at each :func:`add_documents`)::

    IDX/manifest.json                 written last: its presence makes the folder an index
    IDX/documents.g{g}.parquet        id, title, text of every document, in row order (zstd)
    IDX/parts/g{g}/{i}-bm25/          bm25s' files (vocabulary, CSC score matrix), memory-mapped when read
    IDX/parts/g{g}/{i}-dense/         vectors.npy (n_docs, d) float32 L2-normalised, memory-mapped; ann.faiss
                                      (-linker/, -biencoder/: the same, from the trained model's document side)
    IDX/build/                        work in progress (partial vectors, Ray shards); removed when done

A fusion (``hybrid``, ``linker+bm25`` …) stores each of its parts; its weights are recorded in the manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from patlink.index.embedding import embed_to_file, texts_digest
from patlink.index.manifest import IndexManifest, InvalidIndexError
from patlink.index.spec import leaves, method_to_spec
from patlink.io import atomic_path, atomic_write_json
from patlink.methods import BM25, BiEncoderMethod, Dense, LinkerMethod, Method
from patlink.methods.biencoder import ROUTES

__all__ = ["ENGINES", "add_documents", "build_index"]

ENGINES = ("local", "ray")


def _as_corpus(corpus):
    """A :class:`patlink.data.corpus.Corpus` from a Corpus or a plain ``{id: text}`` mapping."""
    from patlink.data.corpus import Corpus

    if isinstance(corpus, Corpus):
        return corpus
    if isinstance(corpus, Mapping):
        ids = [str(k) for k in corpus]
        texts = [str(corpus[k] or "") for k in corpus]
        keep = [i for i, t in enumerate(texts) if t.strip()]
        return Corpus(name="documents", ids=[ids[i] for i in keep], texts=[texts[i] for i in keep],
                      titles=[""] * len(keep), source="<mapping>", id_field="id", text_fields=("text",),
                      empty=[(ids[i], i + 1) for i in range(len(ids)) if not texts[i].strip()])
    raise TypeError(f"expected a Corpus or a mapping of id -> text, got {type(corpus).__name__}")


def _write_documents(path: Path, ids, titles, texts) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array(ids, pa.string()), "title": pa.array(titles, pa.string()),
                      "text": pa.array(texts, pa.string())})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_documents(path: Path, columns=("id", "title", "text")) -> dict[str, list[str]]:
    """The documents table of an index as ``{column: list}``."""
    import pyarrow.parquet as pq

    t = pq.read_table(path, columns=list(columns))
    return {c: t.column(c).to_pylist() for c in columns}


def _slug(m: Method) -> str:
    if isinstance(m, BM25):
        return "bm25"
    return "linker" if isinstance(m, LinkerMethod) else "biencoder" if isinstance(m, BiEncoderMethod) else "dense"


def _vector_key(leaf: Method) -> str:
    spec = dict(method_to_spec(leaf))
    return json.dumps(spec, sort_keys=True)


def _embed(leaf: Method, texts: list[str], out: Path, work: Path, *, engine: str, workers: int,
           ray_address: str | None, show_progress: bool) -> np.ndarray:
    """Document vectors of ``texts`` for a vector part written to ``out`` (``.npy``) and memory-mapped; an
    interrupted call resumes (partial file next to ``out``, Ray shards in ``work``)."""
    key = _vector_key(leaf)
    if engine == "ray":
        if not isinstance(leaf, Dense) or leaf.windows != 1:
            raise ValueError(f"--engine ray embeds with a sentence-transformers model (dense, hybrid; one window); "
                             f"{leaf.name} embeds in this process: use --engine local")
        from patlink.index.ray_embed import ray_encode

        if not out.is_file():
            c = leaf.config
            vecs = ray_encode(texts, c.model, max_length=c.max_length, batch_size=c.batch_size, workers=workers,
                              address=ray_address, device=getattr(c, "device", "cpu"), shard_dir=work / "shards",
                              show_progress=show_progress)
            with atomic_path(out) as tmp:
                np.save(tmp, np.ascontiguousarray(vecs, dtype=np.float32))
            shutil.rmtree(work / "shards", ignore_errors=True)
        return np.load(out, mmap_mode="r")
    return embed_to_file(texts, leaf.encode_documents, out, key=key, show_progress=show_progress,
                         desc=f"embedding ({leaf.name})")


def _concat(old: np.ndarray, new: np.ndarray, path: Path) -> np.ndarray:
    with atomic_path(path) as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(old) + len(new), old.shape[1]))
        step = 1 << 16
        for s in range(0, len(old), step):
            e = min(s + step, len(old))
            mm[s:e] = old[s:e]
        mm[len(old):] = new
        mm.flush()
        del mm
    return np.load(path, mmap_mode="r")


def _store_part(leaf: Method, i: int, texts: list[str], ids: list[str], folder: Path, work: Path, *, ann: str,
                engine: str, workers: int, ray_address: str | None, show_progress: bool,
                old: tuple[dict, Path] | None = None, new_rows: slice | None = None) -> dict:
    """Store one part; with ``old`` (its previous record and index folder) only rows ``new_rows`` are embedded."""
    folder.mkdir(parents=True, exist_ok=True)
    rec: dict = {"name": leaf.name, "kind": _slug(leaf), "folder": folder.as_posix()}
    if isinstance(leaf, BM25):
        leaf.index(dict(zip(ids, texts)))
        leaf.save_index(folder)
        return rec
    from patlink.retrieval.ann import AnnConfig, AnnIndex, build_ann, choose_ann

    part_work = work / f"part-{i}"
    part_work.mkdir(parents=True, exist_ok=True)
    if old is None:
        vecs = _embed(leaf, texts, folder / "vectors.npy", part_work, engine=engine, workers=workers,
                      ray_address=ray_address, show_progress=show_progress)
        cfg = choose_ann(len(vecs), vecs.shape[1], ann)
        index = build_ann(vecs, cfg, show_progress=show_progress)
    else:
        old_rec, old_root = old
        old_vecs = np.load(old_root / old_rec["folder"] / "vectors.npy", mmap_mode="r")
        new = _embed(leaf, texts[new_rows], part_work / "vectors.npy", part_work, engine=engine, workers=workers, ray_address=ray_address,
                     show_progress=show_progress)
        vecs = _concat(old_vecs, np.asarray(new), folder / "vectors.npy")
        cfg = AnnConfig.from_dict(old_rec["ann"])
        index = None
        if cfg.kind != "exact":
            index = AnnIndex.load(old_root / old_rec["folder"] / "ann.faiss", cfg)
            index.add(np.asarray(new))
    if index is not None:
        index.save(folder / "ann.faiss")
    leaf.attach(ids, vecs, index)
    rec.update({"dim": int(vecs.shape[1]), "ann": (index.config if index is not None else cfg).to_dict(), "model": getattr(leaf, "model", None)
                if isinstance(leaf, Dense) else str(leaf.path)})
    if isinstance(leaf, Dense):
        rec.update({"max_length": leaf.config.max_length, "windows": leaf.windows})
    if isinstance(leaf, BiEncoderMethod):
        # which route embedded the stored vectors: the document side of the direction (items: query route)
        side = "patent" if leaf.direction == "item2patent" else "item"
        rec.update({"max_length": leaf.max_length, "windows": leaf.windows,
                    "route": (ROUTES[side] if leaf.asymmetric else "shared")})
    return rec


def _files(root: Path, gen: int) -> dict[str, dict]:
    rels = [f"documents.g{gen}.parquet"] + sorted(
        p.relative_to(root).as_posix() for p in (root / "parts" / f"g{gen}").rglob("*") if p.is_file())
    return {r: {} for r in rels}


def _cleanup(root: Path, keep_gen: int) -> None:
    """Remove files of other generations (an earlier generation after an add, or an interrupted add's)."""
    for p in (root / "parts").glob("g*"):
        if p.name != f"g{keep_gen}":
            shutil.rmtree(p, ignore_errors=True)
    for p in root.glob("documents.g*.parquet"):
        if p.name != f"documents.g{keep_gen}.parquet":
            p.unlink(missing_ok=True)
    shutil.rmtree(root / "build", ignore_errors=True)


def build_index(corpus, method: Method, out: str | os.PathLike, *, direction: str = "item2patent",
                ann: str = "auto", engine: str = "local", workers: int = 1, ray_address: str | None = None,
                cache: bool = True, overwrite: bool = False, show_progress: bool = True,
                command: list[str] | None = None):
    """Build a saved index of ``corpus`` for ``method`` in the folder ``out``; resumes an interrupted build.

    Args:
        corpus: a :class:`patlink.data.corpus.Corpus` (from :func:`patlink.data.corpus.read_corpus`) or a mapping
            id → text; empty texts are left out (a Corpus counts them).
        method: BM25, Dense, a trained LinkerMethod or BiEncoderMethod, or a Fusion of these, already fitted if it
            tunes anything (its weights are frozen into the index; an unfitted ``hybrid`` keeps its untuned equal
            weights; ``runs/NAME+bm25`` the weight its run stored). A trained model stores the embeddings of its
            document side (patents for ``item2patent``; a bi-encoder's ``document`` route, its ``query`` route
            for items) and embeds the queries with the other side when the index is searched.
        out: the index folder (created).
        direction: ``item2patent`` when the documents are patents (queries will be items), ``patent2item`` when
            they are items.
        ann: vector search of dense/linker parts: ``auto`` (exact below
            :data:`patlink.retrieval.ann.EXACT_MAX` vectors, approximate above), ``exact``, ``hnsw``, ``ivf-flat``,
            ``ivf-pq`` (:func:`patlink.retrieval.ann.choose_ann`).
        engine: ``local`` (this process) or ``ray`` (Ray Data actors, :func:`patlink.index.ray_embed.ray_encode`).
        workers / ray_address: Ray actors and the cluster address (``None``: a local Ray).
        cache: use patlink's embedding cache for dense vectors (reused across indexes and commands; switch off
            for corpora of millions, whose vectors the index itself keeps).
        overwrite: replace an existing index in ``out``.
        command: the command line to record (default ``sys.argv``).

    Returns:
        The opened :class:`patlink.index.CorpusIndex`.

    Raises:
        ValueError: an empty corpus, a method that cannot be saved (profile/kNN), an unknown direction/engine/ANN
            kind, or ``out`` already holding an index (without ``overwrite``).
    """
    from patlink.index.store import CorpusIndex

    corpus = _as_corpus(corpus)
    if not len(corpus):
        raise ValueError(f"{corpus.source}: no document with text to index")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use local or ray")
    m = method.for_direction(direction)
    spec = method_to_spec(m)
    out = Path(out)
    if (out / "manifest.json").is_file():
        if not overwrite:
            raise ValueError(f"{out} already holds an index: add documents with `patlink index --add` "
                             "(CorpusIndex.add), or rebuild with --overwrite")
        (out / "manifest.json").unlink()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "build"
    state = {"spec": spec, "direction": direction, "ann": ann, "engine": engine,
             "corpus": texts_digest(corpus.ids) + texts_digest(corpus.texts), "cache": cache}
    resumable = (work / "build.json").is_file() and json.loads((work / "build.json").read_text()) == json.loads(
        json.dumps(state))
    if not resumable:            # nothing, or another build interrupted here: start afresh
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(out / "parts", ignore_errors=True)
        for p in out.glob("documents.g*.parquet"):
            p.unlink()
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(work / "build.json", state)
    gen = 0
    _write_documents(out / f"documents.g{gen}.parquet", corpus.ids, corpus.titles, corpus.texts)
    parts = []
    for i, leaf in enumerate(leaves(m)):
        if isinstance(leaf, Dense):
            leaf.memo = None      # vectors go to disk chunk by chunk: no in-memory memo of the whole corpus
            if not cache:
                leaf.config = replace(leaf.config, cache=False)
        if isinstance(leaf, BiEncoderMethod):
            leaf.memo = None
            leaf.cache = cache
        folder = Path("parts") / f"g{gen}" / f"{i}-{_slug(leaf)}"
        rec = _store_part(leaf, i, corpus.texts, corpus.ids, out / folder, work, ann=ann, engine=engine,
                          workers=workers, ray_address=ray_address, show_progress=show_progress)
        rec["folder"] = folder.as_posix()
        parts.append(rec)
    manifest = IndexManifest(
        direction=direction, method=spec, label=m.label(), parts=parts, files=_files(out, gen), generation=gen,
        corpus={"source": corpus.source, "name": corpus.name, "id_field": corpus.id_field,
                "text_fields": list(corpus.text_fields), "n_docs": len(corpus), "n_empty": len(corpus.empty)},
        command=list(command if command is not None else sys.argv))
    manifest.write(out)
    _cleanup(out, gen)
    return CorpusIndex.open(out)


def add_documents(index, corpus, *, engine: str = "local", workers: int = 1, ray_address: str | None = None,
                  show_progress: bool = True, command: list[str] | None = None):
    """Add the documents of ``corpus`` that ``index`` does not hold; only they are embedded.

    BM25 parts are rebuilt over all documents (bm25s indexes are not incremental; it is seconds per 10^5
    documents); vector parts append the new rows and add them to their ANN index without retraining it. The new
    generation is written next to the old one and becomes current when its manifest replaces the old manifest,
    so an interrupted add leaves the index as it was.

    Returns:
        ``(index, n_added)``: the reopened :class:`patlink.index.CorpusIndex` and how many documents were added.

    Raises:
        ValueError: a document id already in the index with a different text (rebuild to change texts).
    """
    from patlink.index.spec import method_from_spec
    from patlink.index.store import CorpusIndex

    corpus = _as_corpus(corpus)
    root = index.path
    man = index.manifest
    docs = read_documents(root / f"documents.g{man.generation}.parquet")
    have = dict(zip(docs["id"], docs["text"]))
    new_ids, new_titles, new_texts = [], [], []
    for i, t, ti in zip(corpus.ids, corpus.texts, corpus.titles):
        if i in have:
            if have[i] != t:
                raise ValueError(f"{corpus.source}: document {i!r} is already in {root} with another text; "
                                 "rebuild the index to change texts")
            continue
        new_ids.append(i)
        new_texts.append(t)
        new_titles.append(ti)
    if not new_ids:
        return index, 0
    gen = man.generation + 1
    shutil.rmtree(root / "parts" / f"g{gen}", ignore_errors=True)
    ids, titles, texts = docs["id"] + new_ids, docs["title"] + new_titles, docs["text"] + new_texts
    work = root / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _write_documents(root / f"documents.g{gen}.parquet", ids, titles, texts)
    m = method_from_spec(man.method, device=index.device).for_direction(man.direction)
    parts = []
    for i, (leaf, old_rec) in enumerate(zip(leaves(m), man.parts)):
        folder = Path("parts") / f"g{gen}" / f"{i}-{_slug(leaf)}"
        rec = _store_part(leaf, i, texts, ids, root / folder, work, ann="exact", engine=engine, workers=workers,
                          ray_address=ray_address, show_progress=show_progress,
                          old=None if isinstance(leaf, BM25) else (old_rec, root),
                          new_rows=slice(len(docs["id"]), None))
        rec["folder"] = folder.as_posix()
        parts.append(rec)
    corpus_rec = dict(man.corpus, n_docs=len(ids))
    new_man = IndexManifest(direction=man.direction, method=man.method, label=man.label, parts=parts,
                            files=_files(root, gen), generation=gen, corpus=corpus_rec,
                            command=list(command if command is not None else sys.argv), created="")
    new_man.write(root)
    _cleanup(root, gen)
    return CorpusIndex.open(root, device=index.device), len(new_ids)


__all__ += ["InvalidIndexError", "read_documents"]
