"""Analyses: pure functions, tables in, tables out. Plotting lives in brainbench.report."""

from brainbench.analysis.accuracy import (
    PAPER_MODEL_SET,
    accuracy_table,
    mean_accuracy,
    models_vs_humans,
    subfield_table,
    top_expertise_by_subfield,
)
from brainbench.analysis.agreement import agreement_matrix, agreement_summary, difficulty_matrix
from brainbench.analysis.boost import finetuning_boost
from brainbench.analysis.calibration import (
    brier_score,
    calibration_bins,
    calibration_by_model,
    calibration_fit,
    calibration_summary,
    expected_calibration_error,
    human_choice_probability,
    logistic_fits,
    model_choice_probability,
    table_s3,
    table_s3_order,
)
from brainbench.analysis.compare import (
    comparison_tables,
    default_model_set,
    describe_agreement,
    describe_mean,
    describe_models_vs_humans,
)
from brainbench.analysis.context import condition_label, context_table
from brainbench.analysis.families import accuracy_by_size, chat_pairs, chat_vs_base, parameters_billions, size_families
from brainbench.analysis.humans import (
    accuracy_by,
    accuracy_by_experience,
    expertise_calibration,
    human_summary,
    item_accuracy,
    participant_table,
    top_expertise_trials,
    trials_of,
)
from brainbench.analysis.memorisation import (
    flag_memorised,
    memorisation_scores,
    memorisation_summary,
    publication_date_correlation,
)
from brainbench.analysis.paired import paired_comparison
from brainbench.analysis.tables import model_key, results_table
from brainbench.analysis.team import team_analysis, team_trials

__all__ = [
    "PAPER_MODEL_SET",
    "accuracy_by",
    "accuracy_by_experience",
    "accuracy_by_size",
    "accuracy_table",
    "agreement_matrix",
    "agreement_summary",
    "brier_score",
    "calibration_bins",
    "calibration_by_model",
    "calibration_fit",
    "calibration_summary",
    "chat_pairs",
    "chat_vs_base",
    "comparison_tables",
    "condition_label",
    "context_table",
    "default_model_set",
    "describe_agreement",
    "describe_mean",
    "describe_models_vs_humans",
    "difficulty_matrix",
    "expected_calibration_error",
    "expertise_calibration",
    "finetuning_boost",
    "flag_memorised",
    "human_choice_probability",
    "human_summary",
    "item_accuracy",
    "logistic_fits",
    "mean_accuracy",
    "memorisation_scores",
    "memorisation_summary",
    "model_choice_probability",
    "model_key",
    "models_vs_humans",
    "paired_comparison",
    "parameters_billions",
    "participant_table",
    "publication_date_correlation",
    "results_table",
    "size_families",
    "subfield_table",
    "table_s3",
    "table_s3_order",
    "team_analysis",
    "team_trials",
    "top_expertise_by_subfield",
    "top_expertise_trials",
    "trials_of",
]
