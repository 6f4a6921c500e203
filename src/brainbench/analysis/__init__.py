"""Analyses: pure functions, tables in, tables out. Plotting lives in brainbench.report."""

from brainbench.analysis.accuracy import PAPER_MODEL_SET, accuracy_table, mean_accuracy, models_vs_humans, subfield_table
from brainbench.analysis.agreement import agreement_matrix, agreement_summary, difficulty_matrix
from brainbench.analysis.boost import finetuning_boost
from brainbench.analysis.calibration import (
    brier_score,
    calibration_bins,
    calibration_by_model,
    calibration_summary,
    calibration_fit,
    expected_calibration_error,
    human_choice_probability,
    logistic_table,
    model_choice_probability,
)
from brainbench.analysis.compare import comparison_tables, paired_comparison
from brainbench.analysis.context import condition_label, context_table
from brainbench.analysis.humans import (
    accuracy_by,
    accuracy_by_experience,
    expertise_calibration,
    human_summary,
    item_accuracy,
    top_expertise_trials,
    trials_of,
)
from brainbench.analysis.memorisation import flag_memorised, memorisation_summary, publication_date_correlation
from brainbench.analysis.tables import results_table
from brainbench.analysis.team import team_analysis, team_trials

__all__ = [
    "PAPER_MODEL_SET",
    "accuracy_by",
    "accuracy_by_experience",
    "accuracy_table",
    "agreement_matrix",
    "agreement_summary",
    "brier_score",
    "calibration_bins",
    "calibration_by_model",
    "calibration_summary",
    "comparison_tables",
    "condition_label",
    "context_table",
    "finetuning_boost",
    "flag_memorised",
    "memorisation_summary",
    "publication_date_correlation",
    "calibration_fit",
    "difficulty_matrix",
    "expected_calibration_error",
    "expertise_calibration",
    "human_choice_probability",
    "human_summary",
    "item_accuracy",
    "logistic_table",
    "mean_accuracy",
    "model_choice_probability",
    "models_vs_humans",
    "paired_comparison",
    "results_table",
    "subfield_table",
    "team_analysis",
    "team_trials",
    "top_expertise_trials",
    "trials_of",
]
