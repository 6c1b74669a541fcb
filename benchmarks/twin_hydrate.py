"""Offline twin of the data chain: every bundled pap2pat patent written into the real bulk formats, then hydrated.

Usage: python benchmarks/twin_hydrate.py BULK_DIR --db STORE [--zip] [--applications-in-tables [--gzip]
       [--quoting nonnumeric|all|minimal]]

Writes the 1,513 pap2pat patents (Knappich et al.'s Pap2Pat paper-patent pairs, all published US applications)
with ``tests/twin/bulk_formats.py`` as USPTO application full-text XML, ``ipaYYMMDD.xml`` (or ``.zip``), the format
they were published in; grants would go to ``ipg*.xml`` and PatentsView ``g_*`` tables, pap2pat has none. With
``--applications-in-tables`` the applications also go into ``g_*`` tables under their 11-digit number (a deviation:
real PatentsView keeps applications in ``pg_*`` tables, which patlink does not read), whose values then win. Then
runs ``patlink hydrate --numbers BULK_DIR/pap2pat_numbers.txt --source bulk --bulk-dir BULK_DIR --db STORE``,
compares every stored text with the bundled one (``bulk_formats.expected_texts``: the XML normalisation, or the
TSV one with the tables), and prints counts, seconds and the store size as JSON. STORE must not exist yet (each
run measures a fresh store).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from twin.bulk_formats import compare_stored, pap2pat_patents, split_pool, write_twin


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bulk_dir", type=Path, help="folder to write the bulk files into (created; must be empty)")
    ap.add_argument("--db", type=Path, required=True, help="hydration store to create (must not exist)")
    ap.add_argument("--zip", action="store_true", help="write the USPTO XML inside .zip archives")
    ap.add_argument("--applications-in-tables", action="store_true",
                    help="also write the applications into PatentsView g_* tables (a deviation from the real files)")
    ap.add_argument("--gzip", action="store_true", help="write the PatentsView tables as .tsv.gz")
    ap.add_argument("--quoting", default="nonnumeric", choices=["nonnumeric", "all", "minimal"])
    args = ap.parse_args()
    if (args.gzip or args.quoting != "nonnumeric") and not args.applications_in_tables:
        ap.error("--gzip and --quoting apply to the PatentsView tables: add --applications-in-tables")
    if args.db.exists():
        ap.error(f"--db {args.db} exists: give a new path")
    if args.bulk_dir.exists() and any(args.bulk_dir.iterdir()):
        ap.error(f"{args.bulk_dir} is not empty")

    from patlink.cli.main import main as patlink
    from patlink.hydrate.store import HydrationStore

    t0 = time.perf_counter()
    patents = pap2pat_patents()
    grants, apps = split_pool(patents)
    t_load = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = write_twin(patents, args.bulk_dir, compress=args.gzip, as_zip=args.zip, quoting=args.quoting,
                        applications_in_tables=args.applications_in_tables)
    t_write = time.perf_counter() - t0
    numbers = args.bulk_dir / "pap2pat_numbers.txt"
    numbers.write_text("".join(f"{n}\n" for n in sorted(patents)))

    args.db.parent.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        rc = patlink(["hydrate", "--numbers", str(numbers), "--source", "bulk", "--bulk-dir", str(args.bulk_dir),
                      "--db", str(args.db), "--json"])
    t_hydrate = time.perf_counter() - t0
    if rc != 0:
        print(out.getvalue(), file=sys.stderr)
        return rc
    summary = json.loads(out.getvalue())

    t0 = time.perf_counter()
    with HydrationStore(args.db, read_only=True) as store:
        recs = {n: r.to_dict() for n, r in store.get(sorted(patents)).items()}
    via = "tsv" if args.applications_in_tables else "xml"
    mismatches = compare_stored(recs, patents, via)
    t_compare = time.perf_counter() - t0

    def size(paths) -> int:
        return sum(p.stat().st_size for p in paths)

    tsv_files = [f for fs in report["tsv"].values() for f in fs]
    result = {
        "pap2pat_patents": len(patents), "grants": len(grants), "applications": len(apps),
        "written": {
            "ipg_grant_xml": {"patents": len(grants), "files": len(report["ipg_files"]),
                              "bytes": size(report["ipg_files"])},
            "ipa_application_xml": {"patents": len(apps), "files": len(report["ipa_files"]),
                                    "bytes": size(report["ipa_files"])},
            "patentsview_g_tables": {"patents": len(grants) + (len(apps) if args.applications_in_tables else 0),
                                     "files": len(tsv_files), "bytes": size(tsv_files),
                                     "tables": {k: len(v) for k, v in report["tsv"].items()}},
        },
        "hydrate": {k: summary[k] for k in ("requested", "fetched", "cached", "failed", "invalid", "incomplete",
                                            "malformed")},
        "failures": summary.get("failures", {}),
        "stored": len(recs),
        "with_claims": sum(1 for r in recs.values() if r["claims"]),
        "with_description": sum(1 for r in recs.values() if r["description"]),
        "sources": dict(Counter(r["source"] for r in recs.values())),
        "kinds": dict(Counter(r["kind"] for r in recs.values())),
        "with_grant_date": sum(1 for r in recs.values() if r["grant_date"]),
        "dates_as_written": sum(1 for n, r in recs.items() if (r["publication_date"], r["filing_date"]) == (
            patents[n]["publication_date"], patents[n]["filing_date"])),
        "compared_as": via,
        "mismatches": len(mismatches),
        "mismatched_fields": dict(Counter(f for _, f in mismatches)),
        "mismatch_examples": mismatches[:10],
        "seconds": {"load": round(t_load, 2), "write": round(t_write, 2), "hydrate": round(t_hydrate, 2),
                    "compare": round(t_compare, 2)},
        "store_bytes": args.db.stat().st_size,
        "bulk_dir": str(args.bulk_dir), "db": str(args.db),
    }
    print(json.dumps(result, indent=2))
    return 0 if not mismatches and summary["failed"] == 0 and summary["incomplete"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
