"""Evaluation: ranking metrics (ranx), capped recall, pair AUCs, bootstrap CIs, paired tests, reports and plots."""

from patlink.evaluation.metrics import (
    HEADLINE_METRICS, bootstrap_ci, compare_runs, evaluate_run, mean_metric, pair_auc, per_query_metrics,
)

__all__ = ["HEADLINE_METRICS", "bootstrap_ci", "compare_runs", "evaluate_run", "mean_metric", "pair_auc",
           "per_query_metrics"]
