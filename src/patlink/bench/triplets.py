"""PatentCL triplets (contrastive fine-tuning of PatentSBERTa on CPC groups) built with DuckDB SQL: from
PatentsView tables, or offline from cpc-claims.

A triplet is (anchor, positive, negative) patent texts, each ``title [SEP] abstract``:
  * positive: another patent sharing a CPC group with the anchor — and, where a citation table exists, one the
    anchor cites (``g_us_patent_citation``); with citations available an anchor without a cited same-group
    patent yields no triplet;
  * negative: a patent drawn **at random** among those sharing no CPC group with the anchor. (PatentCL's
    original Cypher query took the first non-matching patent, which makes negatives depend on storage order;
    patlink samples them uniformly with a seeded hash.)

Both sources are loaded into the same three DuckDB tables — ``docs(patent_id, text)``, ``cpc(patent_id, grp)``,
``cites(patent_id, cited_id)`` — and one SQL query (:data:`TRIPLET_SQL`) makes the triplets, so the offline path
tests the query users run on PatentsView.

PatentsView (bulk TSVs, https://patentsview.org/download/data-download-tables): ``g_patent.tsv`` (``patent_id``,
``patent_title``, ``patent_abstract`` — or ``g_patent_abstract.tsv``), ``g_cpc_current.tsv`` (``patent_id``,
``cpc_group`` such as ``H01L21/02``; the main group ``H01L21`` is the CPC group used), optionally
``g_us_patent_citation.tsv`` (``patent_id``, ``citation_patent_id``). ``.tsv.zip`` files must be unzipped.

Offline (``cpc-claims``): the bundled PatentSBERTa data has neither titles, abstracts, CPC groups nor citations;
its ``train`` split gives the claims text (first ``max_chars`` characters) and the CPC *subclass* stands in for
the group. The ``test`` split and ``groups1400`` stay unseen (they are the classification and clustering test
sets of ``patlink bench``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TripletConfig", "TRIPLET_SQL", "triplets_from_tables", "patentsview_triplets", "cpc_claims_triplets"]

SEP = " [SEP] "

#: The triplet query over ``docs``, ``cpc``, ``cites``. Parameters: $seed (int), $n_candidates (int),
#: $max_anchors (int), $use_citations (bool).
TRIPLET_SQL = """
WITH
numbered AS (SELECT patent_id, row_number() OVER (ORDER BY patent_id) - 1 AS rid FROM docs),
n AS (SELECT count(*) AS n FROM numbered),
anchors AS (
    SELECT patent_id FROM docs WHERE patent_id IN (SELECT patent_id FROM cpc)
    ORDER BY hash(patent_id, $seed) LIMIT $max_anchors
),
pos_cand AS (
    SELECT DISTINCT a.patent_id AS anchor, b.patent_id AS positive
    FROM anchors x
    JOIN cpc a ON a.patent_id = x.patent_id
    JOIN cpc b ON a.grp = b.grp AND a.patent_id <> b.patent_id
    WHERE NOT $use_citations
       OR EXISTS (SELECT 1 FROM cites c WHERE c.patent_id = a.patent_id AND c.cited_id = b.patent_id)
),
pos AS (
    SELECT anchor, positive FROM (
        SELECT anchor, positive,
               row_number() OVER (PARTITION BY anchor ORDER BY hash(anchor, positive, $seed)) AS r
        FROM pos_cand) WHERE r = 1
),
neg_cand AS (
    SELECT p.anchor, k.j, m.patent_id AS negative
    FROM pos p
    CROSS JOIN range($n_candidates) AS k(j)
    JOIN numbered m ON m.rid = hash(p.anchor, k.j, $seed + 1) % (SELECT n FROM n)
    WHERE m.patent_id <> p.anchor
      AND NOT EXISTS (SELECT 1 FROM cpc ca JOIN cpc cn ON ca.grp = cn.grp
                      WHERE ca.patent_id = p.anchor AND cn.patent_id = m.patent_id)
),
neg AS (
    SELECT anchor, negative FROM (
        SELECT anchor, negative, row_number() OVER (PARTITION BY anchor ORDER BY j) AS r FROM neg_cand
    ) WHERE r = 1
)
SELECT p.anchor, p.positive, g.negative, da.text AS anchor_text, dp.text AS positive_text, dn.text AS negative_text
FROM pos p
JOIN neg g USING (anchor)
JOIN docs da ON da.patent_id = p.anchor
JOIN docs dp ON dp.patent_id = p.positive
JOIN docs dn ON dn.patent_id = g.negative
ORDER BY hash(p.anchor, $seed)
"""


@dataclass
class TripletConfig:
    """``max_anchors``: triplets wanted (one per anchor); ``n_candidates``: random negative draws per anchor
    (the first one sharing no group is kept); ``seed``; ``max_chars``: text cut (characters)."""

    max_anchors: int = 10_000
    n_candidates: int = 16
    seed: int = 0
    max_chars: int = 2000


def triplets_from_tables(con, config: TripletConfig | None = None, use_citations: bool = False) -> list[dict]:
    """Run :data:`TRIPLET_SQL` on a DuckDB connection holding ``docs``, ``cpc`` and ``cites``.

    Returns:
        list of ``{"anchor", "positive", "negative", "anchor_text", "positive_text", "negative_text"}``.
    """
    cfg = config or TripletConfig()
    con.execute("SET enable_progress_bar = false")
    rows = con.execute(TRIPLET_SQL, {"seed": cfg.seed, "n_candidates": cfg.n_candidates,
                                     "max_anchors": cfg.max_anchors, "use_citations": use_citations}).fetchall()
    keys = ["anchor", "positive", "negative", "anchor_text", "positive_text", "negative_text"]
    return [dict(zip(keys, r)) for r in rows]


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.tsv", f"{stem}.csv", f"{stem}.parquet"):
        if (folder / name).exists():
            return folder / name
    return None


def _reader(path: Path) -> str:
    p = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        return f"read_parquet('{p}')"
    return f"read_csv('{p}', delim='{chr(9) if path.suffix == '.tsv' else ','}', header=true, quote='\"', all_varchar=true)"


def patentsview_triplets(folder: str | Path, config: TripletConfig | None = None) -> list[dict]:
    """PatentCL triplets from PatentsView bulk tables in ``folder`` (TSV, CSV or Parquet).

    Raises:
        FileNotFoundError: if ``g_patent`` or ``g_cpc_current`` is missing (message lists what is needed).
    """
    import duckdb

    cfg = config or TripletConfig()
    folder = Path(folder)
    g_patent, g_cpc = _find(folder, "g_patent"), _find(folder, "g_cpc_current")
    if g_patent is None or g_cpc is None:
        raise FileNotFoundError(f"{folder}: need g_patent.tsv and g_cpc_current.tsv (PatentsView bulk tables, "
                                "unzipped); g_patent_abstract.tsv and g_us_patent_citation.tsv are optional")
    g_abs, g_cit = _find(folder, "g_patent_abstract"), _find(folder, "g_us_patent_citation")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW g_patent AS SELECT * FROM {_reader(g_patent)}")
    cols = {r[0] for r in con.execute("DESCRIBE g_patent").fetchall()}
    if "patent_abstract" in cols:
        abstract = "p.patent_abstract"
        join = ""
    elif g_abs is not None:
        con.execute(f"CREATE VIEW g_abs AS SELECT * FROM {_reader(g_abs)}")
        abstract, join = "a.patent_abstract", "LEFT JOIN g_abs a USING (patent_id)"
    else:
        abstract, join = "''", ""
    con.execute(f"""CREATE TABLE docs AS
        SELECT p.patent_id, left(coalesce(p.patent_title, '') || '{SEP}' || coalesce({abstract}, ''), {cfg.max_chars})
               AS text
        FROM g_patent p {join}""")
    con.execute(f"""CREATE TABLE cpc AS SELECT DISTINCT patent_id, split_part(cpc_group, '/', 1) AS grp
        FROM {_reader(g_cpc)} WHERE cpc_group IS NOT NULL""")
    if g_cit is not None:
        con.execute(f"""CREATE TABLE cites AS SELECT DISTINCT patent_id, citation_patent_id AS cited_id
            FROM {_reader(g_cit)}""")
    else:
        con.execute("CREATE TABLE cites (patent_id VARCHAR, cited_id VARCHAR)")
    return triplets_from_tables(con, cfg, use_citations=g_cit is not None)


def cpc_claims_triplets(config: TripletConfig | None = None, split: str = "train") -> list[dict]:
    """Offline PatentCL triplets from the bundled cpc-claims ``train`` split (claims text; CPC subclass as group).

    Returns:
        list of triplet dicts (see :func:`triplets_from_tables`); about one per training patent.
    """
    import duckdb

    from patlink.data import load_dataset

    cfg = config or TripletConfig()
    ds = load_dataset("cpc-claims")
    ids = ds.doc_splits[split]
    texts = ds.patent_texts(ids, view=["claims"])
    labels = ds.labels["cpc_subclass"]
    con = duckdb.connect()
    con.execute("CREATE TABLE docs (patent_id VARCHAR, text VARCHAR)")
    con.executemany("INSERT INTO docs VALUES (?, ?)", [(p, texts[p][:cfg.max_chars]) for p in ids if texts[p]])
    con.execute("CREATE TABLE cpc (patent_id VARCHAR, grp VARCHAR)")
    con.executemany("INSERT INTO cpc VALUES (?, ?)", [(p, g) for p in ids for g in labels.get(p, [])])
    con.execute("CREATE TABLE cites (patent_id VARCHAR, cited_id VARCHAR)")
    return triplets_from_tables(con, cfg, use_citations=False)
