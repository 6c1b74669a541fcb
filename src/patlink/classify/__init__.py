"""patlink.classify — multi-label CPC subclass classification (Mueller & Stone, *Sparse Multi-label Patent
Classification with Deep Learning*).

Modules (import them directly; this package imports nothing heavy):

* :mod:`~patlink.classify.data` — cpc-claims / USPTO-2M / PatentsView / JSONL loaders, multi-hot labels,
  label-frequency report and plot.
* :mod:`~patlink.classify.models` — the paper's CNN (GloVe 6B 50-d or transformer token inputs), linear head,
  k-NN voting.
* :mod:`~patlink.classify.losses` — BCE, weighted BCE (α on positives), focal loss.
* :mod:`~patlink.classify.metrics` — micro/macro/example-based P/R/F1, p@1 / r@5, per-section, co-occurrence,
  bootstrap CIs.
* :mod:`~patlink.classify.thresholds` — decision thresholds tuned on validation (from TRAIN).
* :mod:`~patlink.classify.train` / :mod:`~patlink.classify.predict` — train, save (safetensors + JSON), load,
  predict, evaluate.
* :mod:`~patlink.classify.cpc_titles` — CPC section and subclass titles.

CLI: ``patlink classify train|eval|predict|labels``; see ``docs/classify.md``.
"""
