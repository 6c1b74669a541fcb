"""Patent hydration: fetch title, abstract, claims, description, CPC, dates and family id for publication numbers.

Sources (``patlink hydrate --source``): Google BigQuery public patent data (:mod:`.bigquery`), the PatentsView
PatentSearch API (:mod:`.patentsview_api`), Google Patents HTML pages (:mod:`.google_patents_html`), local
PatentsView TSVs / USPTO grant XML (:mod:`.bulk`). Results go to a resumable DuckDB store (:mod:`.store`);
:meth:`patlink.hydrate.store.HydrationStore.texts_for` gives a dataset its texts when the store is passed to it:
``load_dataset("honeywell-vpm", texts=open_texts(path))`` or ``--texts PATH`` on the CLI. See docs/hydrate.md.
"""

from patlink.hydrate.config import SOURCES, HydrateConfig
from patlink.hydrate.records import PatentRecord
from patlink.hydrate.runner import HydrateSummary, hydrate, read_numbers_file
from patlink.hydrate.store import HydrationStore, hydrated_texts, open_texts

__all__ = [
           "SOURCES",
           "HydrateConfig",
           "HydrateSummary",
           "HydrationStore",
           "PatentRecord",
           "hydrate",
           "hydrated_texts",
           "open_texts",
           "read_numbers_file",
]
