"""Review of candidate links: decisions as data (:class:`DecisionStore`), the workbench that ranks and records
(:class:`ReviewService`), and exports for people and for training (:func:`export_decisions`,
:func:`export_training`)."""

from patlink.review.decisions import DECISIONS, Decision, DecisionStore
from patlink.review.export import export_decisions, export_training
from patlink.review.service import ReviewService, UnknownId

__all__ = ["DECISIONS", "Decision", "DecisionStore", "ReviewService", "UnknownId", "export_decisions",
           "export_training"]
