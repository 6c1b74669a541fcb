"""``patlink serve``: the review workbench (JSON API + analysts' page) over a saved index or a dataset."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated, Optional

import typer

from patlink.cli.common import BeirOpt, DatasetOpt, DeviceOpt, PatlinkError, TextsOpt, err_console, load_input
from patlink.cli.methods import METHOD_HELP

DbOpt = Annotated[Path, typer.Option(
    "--db", help="The decisions database (SQLite; created when missing). Decisions survive restarts there.")]
ItemsOpt = Annotated[Optional[str], typer.Option(
    "--items", help="Known items (products) to pick from: a JSONL/CSV/TSV/Parquet file (id + name/description "
                    "columns) or dataset:NAME. Default: the items of --dataset, or of the dataset the index was "
                    "built from.")]
LinksOpt = Annotated[Optional[Path], typer.Option(
    "--links", help="Known links (item_id, patent_id columns; CSV/TSV/JSONL/Parquet or BEIR qrels): shown as "
                    "'known' and as the products that support a patent. Default: those of the dataset.")]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None))
        except OSError:
            return False


def known_data(index, dataset, beir, items, links, texts):
    """The dataset whose items and links are the known ones (``None`` when there is none) and the items/links
    overrides from files."""
    from patlink.cli.index_cmd import read_input

    ds = None
    if dataset is not None or beir is not None:
        ds = load_input(dataset, beir, texts=texts)
    elif index is not None:
        source = str(index.manifest.corpus.get("source") or "")
        if source.startswith("dataset:"):
            from patlink.data import load_dataset

            ds = load_dataset(source.split(":")[1])
    extra_items = None
    if items is not None:
        corpus = read_input(items, side="items", id_field=None, text_fields=None, title_field=None, fmt=None)
        titles = corpus.title_of()
        extra_items = {i: {"name": titles.get(i) or i, "text": t} for i, t in corpus.as_dict().items()}
    extra_links = None
    if links is not None:
        from patlink.data.links import read_links

        extra_links = read_links(links)
    return ds, extra_items, extra_links


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        index: Annotated[Optional[Path], typer.Option(
            "--index", "-i", help="A saved index (`patlink index`) whose patents are ranked.")] = None,
        dataset: DatasetOpt = None,
        beir: BeirOpt = None,
        method: Annotated[Optional[str], typer.Option(
            "--method", "-m", help="Without --index: the method ranking the dataset's patents (default bm25; "
                                   "patents without text are represented by their linked products). "
                                   + METHOD_HELP)] = None,
        db: DbOpt = Path("decisions.sqlite"),
        items: ItemsOpt = None,
        links: LinksOpt = None,
        host: Annotated[str, typer.Option(
            "--host", help="Address to listen on. Anything but loopback needs a token.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", "-p", help="TCP port.", min=1, max=65535)] = 8000,
        token: Annotated[Optional[str], typer.Option(
            "--token", envvar="PATLINK_TOKEN", show_envvar=True,
            help="Shared secret every API call must carry (Authorization: Bearer TOKEN). Required with a "
                 "non-loopback --host; prefer the environment variable (a command line is visible to others).")
        ] = None,
        max_body: Annotated[int, typer.Option("--max-body", help="Largest request body in bytes.", min=1024)
                            ] = 1_000_000,
        max_queries: Annotated[int, typer.Option("--max-queries", help="Texts per /api/link call.", min=1)] = 64,
        seed: Annotated[int, typer.Option(help="Without --index: seed of the split that tunes the method.")] = 0,
        texts: TextsOpt = None,
        device: DeviceOpt = "auto",
        log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    ) -> None:
        """Serve the review page and JSON API: pick a product (or paste a description), see the ranked patents
        with their evidence, accept / reject / mark unsure; decisions go to --db.

        Open http://127.0.0.1:8000/ (API docs at /docs, schema at /openapi.json). Export the decisions with
        `patlink review export --db DB --out reviewed/` (a BEIR folder `patlink train --beir` takes) or
        `--out decisions.csv`.

        Examples:
          patlink index dataset:pap2pat --method hybrid --out idx/pap2pat && patlink serve --index idx/pap2pat
          patlink serve --dataset honeywell-vpm --db honeywell-decisions.sqlite
          PATLINK_TOKEN=$(openssl rand -hex 16) patlink serve --index idx/ --host 0.0.0.0
        """
        from patlink.cli.methods import parse_method
        from patlink.review import DecisionStore, ReviewService
        from patlink.serve import ServeLimits, create_app

        if index is None and dataset is None and beir is None:
            raise PatlinkError("give --index IDX (a saved index) or --dataset NAME / --beir FOLDER")
        if not is_loopback(host) and not token:
            raise PatlinkError(f"--host {host} accepts connections from other machines: set a token "
                               "(PATLINK_TOKEN=... or --token), or keep the default --host 127.0.0.1")
        if token is not None and len(token) < 8:
            raise PatlinkError("--token must be at least 8 characters")
        store = DecisionStore(db)
        idx = None
        if index is not None:
            from patlink.cli.index_cmd import open_index

            idx = open_index(index, method=parse_method(method, device=device) if method else None, device=device)
            if idx.direction != "item2patent":
                raise PatlinkError(f"{index} indexes items (built with --reverse): serve an index of patents")
        ds, extra_items, extra_links = known_data(idx, dataset, beir, items, links, texts)
        given = {k: v for k, v in (("items", extra_items), ("links", extra_links)) if v is not None}
        if idx is not None:
            service = ReviewService.for_index(idx, store, dataset=ds, **given)
        else:
            err_console.print(f"indexing {ds.name} in memory…", highlight=False)
            service = ReviewService.for_dataset(ds, parse_method(method or "bm25", device=device), store, seed=seed,
                                                **given)
        warm = next((str(it.get("text") or "") for it in service.items.values() if it.get("text")), "") or "patent"
        err_console.print("warming up the ranker…", highlight=False)
        service.link_texts({"warm-up": warm[:2000]}, 1)      # builds lazy state (profiles, models) before requests
        app_ = create_app(service, token=token, limits=ServeLimits(max_body_bytes=max_body, max_queries=max_queries))
        import uvicorn

        shown = f"[{host}]" if ":" in host else host
        err_console.print(f"patlink serve: {service.method} over {len(service.index):,} patents, "
                          f"{len(service.items):,} known items, decisions in {db} — open http://{shown}:{port}/"
                          + (" (token required)" if token else ""), highlight=False)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        uvicorn.run(app_, host=host, port=port, log_level=log_level)
