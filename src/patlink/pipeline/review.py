"""Manual complementation (§2.2.5): export descriptions for review, import the reviewed file with tracked edits.

``export_review`` writes one row per product (CSV or JSONL, chosen by the file suffix) with the current
description — the reviewed value if a person already edited it, else the pipeline's — and context to judge it
(status, method, source URLs, linked patents). A reviewer edits the :data:`EDITABLE` columns and
``import_review`` records every changed field as an edit: ``(product, field, old value, new value, reviewer,
time, file)`` in the ``edits`` table, the new value in ``overrides``. Nothing else in the file is read, so
context columns may be left as they are. Evaluation can then exclude or flag edited products
(:func:`final_descriptions` returns ``edited`` and ``edited_fields``).

The import is all-or-nothing: a malformed file (unknown product, bad ``exclude`` value, missing column, bytes
that are not UTF-8) raises ``ValueError`` naming every bad line, and nothing is recorded.

CSV and TSV files are opened by spreadsheets, which run a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (CSV injection): every such cell is written with a leading ``'``
(:func:`patlink.io.spreadsheet_safe`), and a cell that already is ``'`` before one of those characters gets one
more ``'``. The import removes exactly one ``'`` from such cells, so a file exported and imported unchanged
records no edit, and a reviewer may type ``=x`` or ``'=x`` alike for the value ``=x``. JSONL files are written
and read as they are.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from patlink.data.vpm import normalize_product_name
from patlink.io import atomic_write_text as _atomic_write
from patlink.io import spreadsheet_safe
from patlink.pipeline.store import PipelineStore

__all__ = ["EDITABLE", "COLUMNS", "export_review", "import_review", "final_descriptions", "export_dataset"]

#: Columns a reviewer may change.
EDITABLE = ("description", "notes", "exclude")
#: Columns of the review file, in order.
COLUMNS = ("product", "status", "method", "description", "notes", "exclude", "urls", "patents", "reviewed_by",
           "reviewed_at")
_BOOL = {"": False, "0": False, "no": False, "false": False, "n": False, "1": True, "yes": True, "true": True,
         "y": True, "x": True}


def _auto_values(store: PipelineStore) -> dict[str, dict[str, Any]]:
    """Pipeline-produced values per product (before any manual edit)."""
    condensed = store.stage_outputs("condense")
    failed = {f["key"]: f["error"] for f in store.failures("condense", limit=10**9)}
    pats: dict[str, list[str]] = {}
    for p, n in store.links():
        pats.setdefault(p, []).append(n)
    out = {}
    for prod in store.products():
        c = condensed.get(prod) or {}
        status = "ok" if c else ("failed" if prod in failed else "pending")
        out[prod] = {"description": c.get("description", ""), "notes": "", "exclude": "no", "status": status,
                     "method": c.get("method", ""), "urls": c.get("urls", []), "patents": pats.get(prod, []),
                     "error": failed.get(prod, "")}
    return out


def final_descriptions(store: PipelineStore) -> dict[str, dict[str, Any]]:
    """Current value of every product: ``{product: {"description", "notes", "exclude" (bool), "method",
    "status", "urls", "patents", "edited" (bool), "edited_fields" (list), "reviewers" (list)}}``.

    ``method`` is ``"manual"`` when the description was set by a reviewer.
    """
    auto = _auto_values(store)
    over = store.overrides()
    res = {}
    for prod, v in auto.items():
        o = over.get(prod, {})
        d = dict(v)
        for f, rec in o.items():
            d[f] = rec["value"] if rec["value"] is not None else ""
        if "description" in o:
            d["method"] = "manual"
        d["exclude"] = _BOOL.get(str(d["exclude"]).strip().lower(), False)
        d["edited"] = bool(o)
        d["edited_fields"] = sorted(o)
        d["reviewers"] = sorted({rec["reviewer"] for rec in o.values()})
        res[prod] = d
    return res


def _escaped(value: str) -> bool:
    """``value`` is a cell :func:`_to_cell` escaped: one or more ``'`` before a character that starts a formula."""
    rest = value.lstrip("'")
    return rest != value and spreadsheet_safe(rest) != rest


def _to_cell(value: Any) -> Any:
    """A CSV/TSV cell a spreadsheet shows as text (:func:`patlink.io.spreadsheet_safe`: ``'`` before a leading
    ``=``, ``+``, ``-``, ``@``, tab or carriage return). A value that already looks escaped (``'=x``) gets one
    more ``'``, so that :func:`_from_cell` gives back every value exactly."""
    if isinstance(value, str) and _escaped(value):
        return "'" + value
    return spreadsheet_safe(value)


def _from_cell(value: Any) -> Any:
    """Inverse of :func:`_to_cell`: one ``'`` off a cell that is ``'`` before a formula character (``'=x`` →
    ``=x``, ``''=x`` → ``'=x``); any other cell as it is."""
    if isinstance(value, str) and _escaped(value):
        return value[1:]
    return value


def _fmt(path: Path) -> str:
    s = path.suffix.lower()
    if s in (".csv", ".tsv"):
        return s[1:]
    if s in (".jsonl", ".json"):
        return "jsonl"
    raise ValueError(f"review file must end in .csv, .tsv or .jsonl, got {path.name}")


def export_review(store: PipelineStore, path: str | Path, *, only: str = "all") -> int:
    """Write the review file (atomically). ``only``: ``"all"``, ``"needs_review"`` (failed, pending or empty
    descriptions) or ``"unreviewed"`` (never edited). Returns the number of rows written."""
    path = Path(path)
    fmt = _fmt(path)
    rows = []
    for prod, d in final_descriptions(store).items():
        needs = d["status"] != "ok" and not d["description"]
        if only == "needs_review" and not needs:
            continue
        if only == "unreviewed" and d["edited"]:
            continue
        over = store.overrides().get(prod, {})
        rows.append({
            "product": prod, "status": "edited" if d["edited"] else d["status"], "method": d["method"],
            "description": d["description"], "notes": d["notes"], "exclude": "yes" if d["exclude"] else "no",
            "urls": d["urls"], "patents": d["patents"],
            "reviewed_by": ",".join(d["reviewers"]),
            "reviewed_at": max((r["edited_at"] for r in over.values()), default=""),
        })
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, delimiter="\t" if fmt == "tsv" else ",")
        w.writeheader()
        for r in rows:
            row = {**r, "urls": " ".join(r["urls"]), "patents": ";".join(r["patents"])}
            w.writerow({k: _to_cell(v) for k, v in row.items()})
        text = buf.getvalue()
    _atomic_write(path, text)
    return len(rows)


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line, row)`` of a review file; CSV/TSV cells with their spreadsheet escaping undone."""
    fmt = _fmt(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")   # newlines inside quoted cells kept as written (csv wants newline="")
    except UnicodeDecodeError as e:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        line = data.count(b"\n", 0, e.start + bom) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text; save the review file as UTF-8 (e.g. from a "
                         "spreadsheet: 'CSV UTF-8')") from None
    rows: list[tuple[int, dict[str, Any]]] = []
    if fmt == "jsonl":
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{path}:{i}: not JSON: {e}") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{i}: expected a JSON object")
            rows.append((i, obj))
        return rows
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
    if not reader.fieldnames or "product" not in reader.fieldnames:
        raise ValueError(f"{path}: the header must contain a 'product' column")
    for row in reader:
        if None in row:
            raise ValueError(f"{path}:{reader.line_num}: more fields than the header has")
        rows.append((reader.line_num, {k: _from_cell(v) for k, v in row.items()}))
    return rows


def import_review(store: PipelineStore, path: str | Path, reviewer: str, *, when: datetime | None = None,
                  ) -> dict[str, int]:
    """Apply a reviewed file: every editable field whose value differs from the current one becomes an edit.

    Args:
        store: the pipeline database.
        path: ``.csv``, ``.tsv`` or ``.jsonl`` review file (see :func:`export_review`).
        reviewer: who made the edits (required, recorded with each edit).
        when: edit time (UTC now by default).

    Returns:
        ``{"rows": n, "products_changed": n, "fields_changed": n}``.

    Raises:
        FileNotFoundError: missing file. ValueError: empty reviewer, or malformed rows (all listed with their
            line numbers; nothing is applied).
    """
    reviewer = reviewer.strip()
    if not reviewer:
        raise ValueError("--reviewer NAME is required: edits are tracked by who made them")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"review file not found: {path}")
    current = final_descriptions(store)
    by_key = {normalize_product_name(p): p for p in current}
    problems: list[str] = []
    changes: list[tuple[str, str, Any, str]] = []
    for line, row in _read_rows(path):
        given = str(row.get("product") or "")
        prod = given if given in current else by_key.get(normalize_product_name(given), normalize_product_name(given))
        if not prod:
            problems.append(f"line {line}: empty product")
            continue
        if prod not in current:
            problems.append(f"line {line}: unknown product {prod!r}")
            continue
        cur = current[prod]
        for f in EDITABLE:
            if f not in row or row[f] is None:
                continue
            new = str(row[f]).strip()
            if f == "exclude":
                if new.lower() not in _BOOL:
                    problems.append(f"line {line}: exclude must be yes/no, got {new!r}")
                    continue
                old_b, new_b = bool(cur["exclude"]), _BOOL[new.lower()]
                if old_b != new_b:
                    changes.append((prod, f, "yes" if old_b else "no", "yes" if new_b else "no"))
                continue
            old = str(cur.get(f) or "").strip()
            if " ".join(new.split()) != " ".join(old.split()):
                changes.append((prod, f, old, new))
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ValueError(f"{path}: {len(problems)} bad row(s), nothing imported: {shown}")
    when = when or datetime.now(timezone.utc).replace(tzinfo=None)
    for prod, f, old, new in changes:
        store.record_edit(prod, f, old, new, reviewer, str(path), when)
    return {"rows": len(_read_rows(path)), "products_changed": len({c[0] for c in changes}),
            "fields_changed": len(changes)}


def export_dataset(store: PipelineStore, folder: str | Path) -> dict[str, int]:
    """Write the pipeline's final data into ``folder`` (each file atomically):

    * ``products.jsonl``: ``{"id", "name", "description", "method", "exclude", "edited", "edited_fields",
      "urls"}`` — ``edited`` lets an evaluation exclude or flag manually complemented products;
    * ``links.tsv``: ``product<TAB>patent`` with a header;
    * ``patent_summaries.jsonl``: ``{"id", "summary", "method"}``;
    * ``edits.jsonl``: the full edit history.

    Returns:
        Row counts per file.
    """
    folder = Path(folder)
    prods = final_descriptions(store)
    p_lines = [json.dumps({"id": p, "name": p, "description": d["description"], "method": d["method"],
                           "exclude": d["exclude"], "edited": d["edited"], "edited_fields": d["edited_fields"],
                           "urls": d["urls"]}, ensure_ascii=False) + "\n" for p, d in prods.items()]
    links = store.links()
    summ = store.stage_outputs("patent_summary")
    edits = store.edits()
    _atomic_write(folder / "products.jsonl", "".join(p_lines))
    _atomic_write(folder / "links.tsv", "product\tpatent\n" + "".join(f"{a}\t{b}\n" for a, b in links))
    _atomic_write(folder / "patent_summaries.jsonl", "".join(
        json.dumps({"id": k, **v}, ensure_ascii=False) + "\n" for k, v in sorted(summ.items())))
    _atomic_write(folder / "edits.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in edits))
    return {"products": len(p_lines), "links": len(links), "patent_summaries": len(summ), "edits": len(edits)}
