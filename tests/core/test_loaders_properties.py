"""Loaders of user files, fed generated input: a well-formed file loads with every record kept (records in ==
records out), and anything else — arbitrary bytes, broken structure, wrong JSON types — is ONE exception of the
documented type whose message is one line naming the file (and the line, for a line problem). Never another
exception type (UnicodeDecodeError, KeyError, TypeError, csv.Error, json errors ...), never a silent drop.

Loaders: :func:`patlink.data.beir.load_beir` (corpus/queries JSONL, qrels TSV), :func:`patlink.data.vpm.
parse_vpm_table` (raw VPM table text), :func:`patlink.graph.read_split` (split TSVs and ``split.json``),
:meth:`patlink.training.config.TrainConfig.from_json` (+ ``validate``), :func:`patlink.data.corpus.read_corpus`
and :func:`patlink.data.links.read_links`.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from patlink.data.beir import load_beir
from patlink.data.corpus import CorpusError, read_corpus
from patlink.data.links import read_links
from patlink.data.vpm import normalize_product_name, parse_vpm_table
from patlink.graph import read_split
from patlink.graph.split import Split
from patlink.graph.split_io import write_split
from patlink.training.config import TrainConfig

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def one_line_error(exc: BaseException, types: tuple[type, ...], file: str | None = None,
                   line: int | None = None) -> str:
    """Assert ``exc`` is one of ``types`` (exactly, or a subclass the loader documents), its message is one line,
    and names ``file`` (``file:line`` when ``line`` is given). Returns the message."""
    assert isinstance(exc, types) and not isinstance(exc, (UnicodeError, KeyError)), repr(exc)
    assert type(exc).__module__ not in ("json", "json.decoder", "_csv", "csv"), repr(exc)
    msg = str(exc)
    assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
    if file is not None:
        assert file in msg, f"{file!r} not in {msg!r}"
    if line is not None:
        assert re.search(rf"{re.escape(file)}:{line}\b", msg), f"{file}:{line} not in {msg!r}"
    return msg


# ------------------------------------------------------------------------------------------- strategies
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
_id = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_.:/ "),
              min_size=1, max_size=10).filter(lambda s: s.strip() == s and s)
_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), _text)
_json = st.recursive(_json_scalar, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                          st.dictionaries(_text, kids, max_size=4)), max_leaves=8)
#: lines that are never a valid BEIR record (each a problem of its line).
_bad_beir_lines = st.one_of(
    st.sampled_from([b"{oops", b"5", b"[1, 2]", b"null", b'"d1"', b"true", b'{"text": "no id"}', b'{"_id": null}',
                     b'{"_id": ""}', b'{"_id": "  "}', b'{"_id": [1]}', b'{"_id": {"a": 1}}', b'{"_id": 1.5}',
                     b'{"_id": true}', b'{"_id": "x\xff"}', b"\xff\xfe{", b'{"_id": "ok", "text": "caf\xe9"}',
                     b"[" * 3000 + b"]" * 3000, b'{"_id": "n", "v": ' + b"9" * 5000 + b"}"]),
    _json.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    st.dictionaries(_text.filter(lambda k: k != "_id"), _json, max_size=3).map(lambda v: json.dumps(v).encode()),
)


def _write_beir(d: Path, corpus: list[bytes], queries: list[bytes], qrels: bytes) -> Path:
    (d / "qrels").mkdir(parents=True, exist_ok=True)
    (d / "corpus.jsonl").write_bytes(b"".join(x + b"\n" for x in corpus))
    (d / "queries.jsonl").write_bytes(b"".join(x + b"\n" for x in queries))
    (d / "qrels" / "test.tsv").write_bytes(qrels)
    return d


@st.composite
def beir_folders(draw):
    """A well-formed BEIR folder as lines: ``(corpus lines, query lines, qrels bytes, doc ids, query ids, links)``."""
    docs = draw(st.lists(_id, min_size=1, max_size=8, unique=True))
    queries = draw(st.lists(_id, min_size=1, max_size=6, unique=True))
    as_int = draw(st.booleans())
    corpus = [json.dumps({"_id": int(d) if as_int and d.isascii() and d.isdigit() and d == str(int(d)) else d,
                          "title": draw(_text), "text": draw(_text)}).encode() for d in docs]
    qlines = [json.dumps({"_id": q, "text": draw(_text)}).encode() for q in queries]
    links = draw(st.lists(st.tuples(st.sampled_from(queries), st.sampled_from(docs)), min_size=1, max_size=10,
                          unique=True))
    qrels = ("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in links)).encode()
    return corpus, qlines, qrels, docs, queries, links


# ----------------------------------------------------------------------------------------------- BEIR
@SETTINGS
@given(beir_folders())
def test_beir_well_formed_folders_keep_every_record(folder):
    corpus, queries, qrels, docs, qids, links = folder
    with tempfile.TemporaryDirectory() as tmp:
        ds = load_beir(_write_beir(Path(tmp), corpus, queries, qrels))
    assert sorted(ds.patents) == sorted(docs) and sorted(ds.items) == sorted(qids)
    assert sorted(ds.links) == sorted(set(links)) and ds.link_splits["test"] == sorted(set(links))


@SETTINGS
@given(beir_folders(), st.sampled_from(["corpus.jsonl", "queries.jsonl"]), _bad_beir_lines, st.data())
def test_beir_one_bad_jsonl_line_is_one_error_naming_its_file_and_line(folder, which, bad, data):
    corpus, queries, qrels, *_ = folder
    lines = corpus if which == "corpus.jsonl" else queries
    at = data.draw(st.integers(0, len(lines)), label="position")
    lines.insert(at, bad)
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(Exception) as e:
        load_beir(_write_beir(Path(tmp), corpus, queries, qrels))
    one_line_error(e.value, (ValueError,), which, at + 1)


@SETTINGS
@given(beir_folders(), st.sampled_from(["corpus.jsonl", "queries.jsonl"]), st.data())
def test_beir_a_repeated_id_names_both_lines(folder, which, data):
    corpus, queries, qrels, *_ = folder
    lines = corpus if which == "corpus.jsonl" else queries
    src = data.draw(st.integers(0, len(lines) - 1), label="repeated")
    at = data.draw(st.integers(src + 1, len(lines)), label="at")
    lines.insert(at, lines[src])
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(ValueError) as e:
        load_beir(_write_beir(Path(tmp), corpus, queries, qrels))
    msg = one_line_error(e.value, (ValueError,), which, at + 1)
    assert f"first at line {src + 1}" in msg


@SETTINGS
@given(beir_folders(), st.sampled_from(["corpus.jsonl", "queries.jsonl", "qrels"]), st.binary(max_size=200))
def test_beir_arbitrary_bytes_load_or_fail_in_one_line(folder, which, junk):
    corpus, queries, qrels, docs, qids, links = folder
    if which == "qrels":
        qrels = qrels + junk
    else:
        (corpus if which == "corpus.jsonl" else queries).append(junk)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            ds = load_beir(_write_beir(Path(tmp), corpus, queries, qrels))
        except Exception as e:  # noqa: BLE001 - the property is about which exceptions come out
            one_line_error(e, (ValueError,), "test.tsv" if which == "qrels" else which)
            return
    assert set(docs) <= set(ds.patents) and set(qids) <= set(ds.items)   # nothing well-formed was dropped
    assert set(links) <= set(ds.links)


@SETTINGS
@given(beir_folders(), st.lists(st.lists(st.one_of(_text, st.sampled_from(["q", "1", "0", "nan", '"', "-1"])),
                                         max_size=4), min_size=1, max_size=4), st.data())
def test_beir_qrels_rows_of_any_shape(folder, rows, data):
    corpus, queries, qrels, _docs, _qids, links = folder
    text = qrels.decode() + "".join("\t".join(r) + "\n" for r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            ds = load_beir(_write_beir(Path(tmp), corpus, queries, text.encode()))
        except Exception as e:  # noqa: BLE001
            one_line_error(e, (ValueError,), "test.tsv")
            assert re.search(r"test\.tsv:\d+: ", str(e)), str(e)
            return
    assert set(links) <= set(ds.links)


# ------------------------------------------------------------------------------------------------- VPM
_vpm_token = st.one_of(st.sampled_from(["7327247", "11232703", "US 9,341,718 B2", "D812345", "RE45678", "123",
                                        "abc", "12x", "US", "", " "]), st.from_regex(r"\A[0-9]{1,9}\Z"))
_vpm_sep = st.sampled_from([";", "; ", ":", " ", "\xa0", ",", ";;", " : "])
_vpm_name = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
                                           blacklist_characters='"\t\x85'), max_size=12)


@st.composite
def vpm_rows(draw):
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        tokens = draw(st.lists(_vpm_token, max_size=4))
        cell = ""
        for t in tokens:
            cell += t + draw(_vpm_sep)
        rows.append((draw(st.one_of(_vpm_name, st.sampled_from(["Pump A", " Pump A", "Pump\xa0A", ""]))), cell,
                     draw(st.sampled_from(["", "T1", "T2"]))))
    return rows


@SETTINGS
@given(vpm_rows())
@example([("0", ";", "")])             # a cell of separators only was dropped without an anomaly
def test_vpm_every_row_gives_a_link_or_an_anomaly(rows):
    """Nothing dropped silently: a data row (line n) without any anomaly on line n has links for its product."""
    text = "Product Name\tAssociated Patent(s)\tTable Number\n" + "".join(f"{n}\t{c}\t{t}\n" for n, c, t in rows)
    table = parse_vpm_table(text)
    flagged = {a.line for a in table.anomalies}
    linked = {p for p, _ in table.links}
    n_rows = 0
    for line, (name, cell, tab) in enumerate(rows, start=2):
        if not (name.strip() or cell.strip() or tab.strip()):
            continue
        n_rows += 1
        if line not in flagged:
            assert normalize_product_name(name) in linked, (line, name, cell, table.anomalies)
    assert table.n_rows == n_rows
    assert all(a.kind and a.line >= 2 for a in table.anomalies)


@SETTINGS
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                 st.lists(st.lists(_text, max_size=4), max_size=6).map(
                     lambda rows: "\n".join("\t".join(r) for r in rows))),
       st.sampled_from(["", "Product Name\tAssociated Patent(s)\n", "Patented Product\tPatents\n",
                        "product\tpatent\ttable\n"]))
def test_vpm_any_text_parses_or_fails_in_one_line(body, header):
    try:
        table = parse_vpm_table(header + body)
    except Exception as e:  # noqa: BLE001
        one_line_error(e, (ValueError,))
        return
    assert table.n_rows >= len(table.products)


def test_vpm_a_product_column_whose_name_says_patent_is_not_the_patent_column():
    table = parse_vpm_table("Patented Product\tPatents\nPump A\t7327247\n")
    assert table.links == [("Pump A", "US7327247")] and not table.anomalies


def test_vpm_a_cell_of_separators_only_is_reported():
    table = parse_vpm_table("Product Name\tAssociated Patent(s)\nPump A\t;;\n")
    assert [(a.line, a.kind) for a in table.anomalies] == [(2, "empty_patent_cell")]


def test_vpm_an_unclosed_quote_is_one_error_naming_the_line():
    with pytest.raises(ValueError) as e:
        parse_vpm_table('Product Name\tAssociated Patent(s)\nPump A\t7327247\n"Pump B\t' + "7327247;" * 20000)
    assert re.fullmatch(r"line 3: .+", str(e.value)), str(e.value)


# ------------------------------------------------------------------------------------------ split TSVs
_link = st.tuples(_id, _id)


@st.composite
def splits(draw):
    parts = [draw(st.lists(_link, max_size=6, unique=True)) for _ in range(4)]
    return Split(*[sorted(p) for p in parts], protocol="graph", seed=draw(st.integers(0, 99)), config=None)


@SETTINGS
@given(splits())
def test_split_written_then_read_keeps_every_link(split):
    with tempfile.TemporaryDirectory() as tmp:
        write_split(split, tmp)
        back = read_split(tmp)
    assert (back.train, back.val, back.test, back.dropped) == (split.train, split.val, split.test, split.dropped)
    assert (back.protocol, back.seed) == (split.protocol, split.seed)


@SETTINGS
@given(splits(), st.sampled_from(["train.tsv", "val.tsv", "test.tsv", "dropped.tsv"]), st.binary(max_size=120),
       st.booleans())
def test_split_arbitrary_bytes_in_a_tsv(split, which, junk, replace):
    with tempfile.TemporaryDirectory() as tmp:
        write_split(split, tmp)
        path = Path(tmp) / which
        path.write_bytes(junk if replace else path.read_bytes() + junk)
        try:
            back = read_split(tmp)
        except Exception as e:  # noqa: BLE001
            one_line_error(e, (ValueError, FileNotFoundError), which)
            assert re.search(rf"{re.escape(which)}:\d+: ", str(e)), str(e)
            return
    name = which[:-4]
    if not replace:   # the links already there are all read back
        assert set(split.links(name)) <= set(back.links(name))


@SETTINGS
@given(splits(), st.one_of(_json, st.dictionaries(st.sampled_from(["protocol", "seed", "config", "method", "fold"]),
                                                  _json, max_size=4),
                           st.fixed_dictionaries({"config": st.dictionaries(
                               st.sampled_from(["val_frac", "test_frac", "weights", "passes", "seed", "nope"]),
                               _json, max_size=3)})).map(lambda v: json.dumps(v).encode()) | st.binary(max_size=80))
def test_split_json_of_any_content(split, meta):
    with tempfile.TemporaryDirectory() as tmp:
        write_split(split, tmp)
        (Path(tmp) / "split.json").write_bytes(meta)
        try:
            back = read_split(tmp)
        except Exception as e:  # noqa: BLE001
            one_line_error(e, (ValueError,), "split.json")
            return
    assert (back.train, back.val, back.test) == (split.train, split.val, split.test)
    assert back.seed is None or (isinstance(back.seed, int) and not isinstance(back.seed, bool))
    assert isinstance(back.protocol, str)


def test_split_a_tsv_that_is_not_utf8_names_its_line(tmp_path):
    write_split(Split([("a", "b")], [("c", "d")], [], protocol="graph", config=None), tmp_path)
    (tmp_path / "val.tsv").write_bytes(b"item_id\tpatent_id\nc\td\nx\xe9\ty\n")
    with pytest.raises(ValueError) as e:
        read_split(tmp_path)
    one_line_error(e.value, (ValueError,), "val.tsv", 3)


# -------------------------------------------------------------------------------------- training config
def _config_like():
    """Objects shaped like a config: real sections and keys (nested and flat) with values of any JSON type."""
    d = TrainConfig().to_dict()
    sections = {k: sorted(v) for k, v in d.items() if isinstance(v, dict)}
    top = sorted(k for k, v in d.items() if not isinstance(v, dict))
    section = st.sampled_from(sorted(sections)).flatmap(
        lambda s: st.tuples(st.just(s), st.dictionaries(st.sampled_from(sections[s] + ["nope"]), _json, max_size=3)))
    return st.tuples(st.lists(section, max_size=3), st.dictionaries(st.sampled_from(top + ["nope"]), _json,
                                                                     max_size=3)).map(
        lambda t: {**dict(t[0]), **t[1]})


@SETTINGS
@given(st.one_of(_json, _config_like()).map(lambda v: json.dumps(v).encode()))
def test_train_config_from_any_json_is_a_config_or_one_value_error(raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cfg.json"
        path.write_bytes(raw)
        try:
            TrainConfig.from_json(path).validate()
        except Exception as e:  # noqa: BLE001
            one_line_error(e, (ValueError,))


# -------------------------------------------------------------------------------- corpus and links files
_corpus_names = st.sampled_from(["c.jsonl", "c.csv", "c.tsv", "c.json"])


def _write_records(path: Path, records: list[dict]) -> None:
    import csv
    import io

    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(records), encoding="utf-8")
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["id", "text"], delimiter="," if path.suffix == ".csv" else "\t")
        w.writeheader()
        w.writerows(records)
        path.write_text(buf.getvalue(), encoding="utf-8")


_records = st.lists(st.fixed_dictionaries({"id": _id, "text": _text}), min_size=1, max_size=8,
                    unique_by=lambda r: r["id"])


@SETTINGS
@given(_corpus_names, _records)
def test_corpus_keeps_every_record(name, records):
    assume(any(r["text"].strip() for r in records))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write_records(path, records)
        c = read_corpus(path)
    assert len(c) + len(c.empty) == len(records)
    assert sorted(c.ids + [i for i, _ in c.empty]) == sorted(r["id"] for r in records)


@SETTINGS
@given(_corpus_names, _records, st.binary(max_size=200), st.booleans())
def test_corpus_arbitrary_bytes_read_or_fail_in_one_line(name, records, junk, replace):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write_records(path, records)
        path.write_bytes(junk if replace else path.read_bytes() + junk)
        try:
            c = read_corpus(path)
        except Exception as e:  # noqa: BLE001
            one_line_error(e, (CorpusError,), name)
            return
    if not replace and name != "c.json":
        assert {r["id"] for r in records} <= set(c.ids) | {i for i, _ in c.empty}


_links_names = st.sampled_from(["l.csv", "l.tsv", "l.jsonl"])


def _write_links(path: Path, links: list[tuple[str, str]], score: bool) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({"item_id": i, "patent_id": p, **({"score": 1} if score else {})}) + "\n"
                                for i, p in links), encoding="utf-8")
        return
    sep = "," if path.suffix == ".csv" else "\t"
    head = sep.join(["item_id", "patent_id", *(["score"] if score else [])])
    path.write_text(head + "\n" + "".join(sep.join([i, p, *(["1"] if score else [])]) + "\n" for i, p in links),
                    encoding="utf-8")


_link_ids = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_."),
                    min_size=1, max_size=8)


@SETTINGS
@given(_links_names, st.lists(st.tuples(_link_ids, _link_ids), min_size=1, max_size=8, unique=True), st.booleans())
def test_links_keep_every_pair(name, links, score):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write_links(path, links, score)
        assert read_links(path) == links


@SETTINGS
@given(_links_names, st.lists(st.tuples(_link_ids, _link_ids), min_size=1, max_size=5, unique=True),
       st.binary(max_size=200), st.booleans())
def test_links_arbitrary_bytes_read_or_fail_in_one_line(name, links, junk, replace):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write_links(path, links, False)
        path.write_bytes(junk if replace else path.read_bytes() + junk)
        try:
            got = read_links(path)
        except Exception as e:  # noqa: BLE001
            one_line_error(e, (ValueError, FileNotFoundError), name)
            return
    if not replace:
        assert set(links) <= set(got)


@pytest.mark.parametrize("name, content, where", [
    ("l.csv", b"item_id,patent_id\na,b\nc\xe9,d\n", "l.csv:3"),
    ("l.jsonl", b'{"item_id": "a", "patent_id": "b"}\n{"item_id": "\xff"}\n', "l.jsonl:2"),
    ("l.tsv", b"item_id\tpatent_id\tscore\na\tb\tnan\n", "l.tsv:2"),
    ("l.csv", b"item_id,patent_id\na,b\n\"c,d\n" + b"x,y\n" * 30000, "l.csv:3"),
    ("l.csv", b"product,sku\n", "l.csv"),
    ("l.jsonl", b'{"item_id": "a", "patent_id": ' + b"1" * 5000 + b"}\n", "l.jsonl:1"),
    ("l.jsonl", b'{"item_id": {"a": 1}, "patent_id": "b"}\n', "l.jsonl:1"),
    ("l.csv", b"item_id,patent_id\na,b,c\n", "l.csv:2"),
    ("l.csv", b"item_id,patent_id\n\na,\n", "l.csv:3"),          # the line, not the row count
    ("l.parquet", b"PAR1 not parquet", "l.parquet"),
])
def test_links_bad_files_name_the_file_and_line(tmp_path, name, content, where):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError) as e:
        read_links(tmp_path / name)
    msg = one_line_error(e.value, (ValueError,), name)
    assert where in msg, msg


def test_links_a_jsonl_record_with_its_own_score_is_judged_by_it(tmp_path):
    (tmp_path / "l.jsonl").write_text('{"item_id": "a", "patent_id": "b"}\n'
                                      '{"item_id": "c", "patent_id": "d", "score": 0}\n'
                                      '{"item_id": "e", "patent_id": "f", "decision": "reject"}\n')
    assert read_links(tmp_path / "l.jsonl") == [("a", "b")]
    (tmp_path / "t.csv").write_text("item_id,patent_id\na,b,\n")       # a trailing empty field is harmless
    assert read_links(tmp_path / "t.csv") == [("a", "b")]


@pytest.mark.parametrize("name, content, where", [
    ("c.jsonl", '{"id": "a", "text": "x"}\n{"id": "b", "n": ' + "1" * 5000 + "}\n", "c.jsonl:2: unreadable JSON"),
    ("c.jsonl", '{"id": "a", "text": "x"}\n' + "[" * 100000 + "]" * 100000 + "\n", "c.jsonl:2: unreadable JSON"),
    ("c.json", '[{"id": "a", "text": "x"},\n {"id": "b", "n": ' + "1" * 5000 + "}]", "c.json:2: unreadable JSON"),
    ("c.json", '[{"id": "a", "text": "x"},\n' + "[" * 100000 + "]" * 100000 + "]", "c.json:2: unreadable JSON"),
])
def test_corpus_json_the_json_module_cannot_convert_names_the_line(tmp_path, name, content, where):
    (tmp_path / name).write_text(content)
    with pytest.raises(CorpusError) as e:
        read_corpus(tmp_path / name)
    assert where in one_line_error(e.value, (CorpusError,), name)
