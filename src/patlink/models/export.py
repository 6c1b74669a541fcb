"""Export a trained linker as a sentence-transformers model folder.

:func:`export_sentence_transformers` writes a folder that ``SentenceTransformer(DIR, trust_remote_code=True)``
loads (sentence-transformers >= 6 asks for ``trust_remote_code`` for any module class outside its own package; the
classes are :mod:`patlink.models.st_modules` of the installed patlink, no code is read from the folder). Its
``encode_query`` embeds items (products, papers) with the linker's item encoder and ``encode_document`` embeds
patents with its patent encoder, reproducing :meth:`patlink.models.linker.Linker.encode_items` /
:meth:`~patlink.models.linker.Linker.encode_patents` (same backbone tokens, windows, float16 token rounding), so
cosine scores equal patlink's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from patlink.io import atomic_directory, atomic_write_json, atomic_write_text

__all__ = ["EXPORT_FORMAT", "EXPORT_FORMATS", "export_sentence_transformers"]

#: Formats :func:`export_sentence_transformers` can write (``patlink export --format``).
EXPORT_FORMATS = ("sentence-transformers",)
#: Format tag of the ``patlink_linker.json`` written in an exported folder.
EXPORT_FORMAT = "patlink-sentence-transformers/1"
_MARKER = "patlink_linker.json"


def _load_tokens(backbone: str, max_length: int, max_chunks: int):
    """The backbone's Transformer module as a :class:`~patlink.models.st_modules.LinkerTokens`, loaded from the
    same files (and the same module of its ``modules.json``) that patlink's token cache runs."""
    from patlink.config import resolve_model_path
    from patlink.models.st_modules import LinkerTokens

    path = resolve_model_path(backbone)
    local = os.path.isdir(path)
    modules = Path(path) / "modules.json"
    subfolder = ""     # a plain transformers folder or a hub name: the model is at the root
    if local and modules.is_file():
        entries = json.loads(modules.read_text())
        first = entries[0] if entries else {}
        if not str(first.get("type", "")).endswith("Transformer"):
            raise ValueError(f"backbone {backbone!r}: its first module is {first.get('type')!r}, not a Transformer; "
                             "only transformer backbones can be exported")
        subfolder = str(first.get("path", ""))
    try:
        tokens = LinkerTokens.load(path, subfolder=subfolder,
                                   local_files_only=local or os.environ.get("HF_HUB_OFFLINE") == "1")
    except Exception as e:
        raise ValueError(f"cannot load the linker's backbone {backbone!r} ({type(e).__name__}: {str(e)[:200]})") from e
    tokens.max_seq_length = int(max_length)
    tokens.max_chunks = int(max_chunks)
    return tokens


def _head(linker, side: str, token_dtype: str):
    from patlink.models.st_modules import LinkerHead

    c = linker.config
    head = LinkerHead(side, linker.d_in, c.hidden, c.out_dim, c.n_heads, c.n_queries, c.n_blocks, c.dropout, c.init,
                      token_dtype=token_dtype)
    enc = linker.item_encoder if side == "item" else linker.patent_encoder
    head.encoder.load_state_dict(enc.state_dict())
    return head.eval()


def _readme(settings, source: str) -> str:
    views = lambda v: ",".join(v) if v else "(dataset default)"
    return f"""---
library_name: sentence-transformers
tags: [sentence-transformers, patlink, patents, asymmetric]
---

# patlink linker (sentence-transformers export)

A dual-encoder product–patent linker trained with patlink (El Bouari & de Rassenfosse, "Product-Patent linkage
prediction"), exported from `{source}`. Two routes share the frozen backbone `{settings.backbone}`:

- `encode_query`: items (products, papers), item view `{views(settings.item_view)}`;
- `encode_document`: patents, patent view `{views(settings.patent_view)}`.

Texts are read as up to {settings.max_chunks} window(s) of {settings.max_length} tokens. Embeddings are
L2-normalised; similarity is cosine. Needs `pip install patlink`:

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("PATH/TO/THIS/FOLDER", trust_remote_code=True)
q = model.encode_query(["a cordless drill with a brushless motor"])
d = model.encode_document(["Power tool\\nA hand-held power tool comprising a brushless DC motor ..."])
print(model.similarity(q, d))
```

`patlink_linker.json` holds the linker's settings (views, windows, temperature, BM25 fusion weights).
"""


def export_sentence_transformers(run_or_model_dir: str | Path, out_dir: str | Path, *,
                                 token_dtype: str = "float16") -> Path:
    """Write a trained linker as a sentence-transformers folder whose query / document routes are its item /
    patent encoders.

    Args:
        run_or_model_dir: a ``patlink train`` run folder (its ``best/`` model) or a model folder.
        out_dir: the folder to write; replaced when it holds an earlier export, refused when it holds anything
            else. Written into a temporary sibling folder and moved into place (atomic).
        token_dtype: ``float16`` (default) rounds the backbone's token embeddings as patlink's token cache stores
            them, so the embeddings reproduce :meth:`~patlink.models.linker.Linker.encode_items` /
            :meth:`~patlink.models.linker.Linker.encode_patents`; ``float32`` skips the rounding.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`. It holds ``modules.json`` (one ``Router``), ``router_config.json``
        (routes ``query`` → item encoder, ``document`` → patent encoder, task aliases ``item`` / ``patent``), the
        backbone (weights + tokenizer, ``*_LinkerTokens/``), the two heads (``*_LinkerHead/``, safetensors),
        ``config_sentence_transformers.json`` (cosine similarity), ``patlink_linker.json`` (settings) and a
        ``README.md``.

    Raises:
        ValueError: ``run_or_model_dir`` is not a trained linker; the backbone cannot be loaded or its token size
            differs from the linker's; ``out_dir`` exists and is not an earlier export; bad ``token_dtype``.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router

    from patlink.models.linker import Linker, resolve_model_dir

    if token_dtype not in ("float16", "float32"):
        raise ValueError(f"token_dtype must be float16 or float32, got {token_dtype!r}")
    model_dir = resolve_model_dir(run_or_model_dir)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / _MARKER).is_file())):
        raise ValueError(f"{out} exists and is not an earlier patlink export: choose a new or empty folder")
    linker = Linker.load(model_dir, store=object())   # the store is never used: the folder runs the backbone
    settings = linker.settings
    tokens = _load_tokens(settings.backbone, settings.max_length, settings.max_chunks)
    if tokens.get_embedding_dimension() != linker.d_in:
        raise ValueError(f"backbone {settings.backbone!r} has {tokens.get_embedding_dimension()}-d tokens but the "
                         f"linker in {model_dir} was trained on {linker.d_in}-d tokens")
    router = Router(sub_modules={"query": [tokens, _head(linker, "item", token_dtype)],
                                 "document": [tokens, _head(linker, "patent", token_dtype)]},
                    default_route="document",
                    route_mappings={("item", None): "query", ("patent", None): "document"})
    st = SentenceTransformer(modules=[router], similarity_fn_name="cosine", device="cpu")
    source = str(model_dir.parent if model_dir.name in ("best", "model") else model_dir)   # the run, as given
    with atomic_directory(out) as tmp:   # an earlier export is replaced as a whole, or left untouched on error
        st.save(str(tmp), create_model_card=False)
        atomic_write_json(tmp / _MARKER, {
            "format": EXPORT_FORMAT, "source": source,
            "routes": {"query": "item", "document": "patent"}, "token_dtype": token_dtype,
            "linker": settings.to_dict()})
        atomic_write_text(tmp / "README.md", _readme(settings, source))
    return out
