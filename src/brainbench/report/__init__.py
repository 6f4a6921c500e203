"""Figures and the HTML report, built from analysis tables."""

from __future__ import annotations

import pandas as pd

from brainbench.analysis import (
    accuracy_by,
    accuracy_by_experience,
    expertise_calibration,
    calibration_by_model,
    calibration_summary,
    comparison_tables,
)
from brainbench.report.figures import plot_accuracy, plot_agreement, plot_by_group, plot_calibration, plot_subfields
from brainbench.report.html import Section, render_html, save_figures, write_report

PERCENT_TABLES = {"Accuracy by subfield"}


def build_sections(results: pd.DataFrame, human_trials: pd.DataFrame | None = None) -> list[Section]:
    """The paper's main results for ``results`` (one or more runs) and, if given, the human experts' trials."""
    tables = comparison_tables(results, human_trials)
    accuracy_columns = ["n", "n_correct", "accuracy", "sem", "ci95_low", "ci95_high"]
    overview = Section(
        "Accuracy: models and human experts (Fig 3A)",
        text=f"Mean over {len(tables['accuracy'])} run(s): {100 * tables['mean_accuracy']:.1f}%."
        + (
            f" Models vs experts: t({tables['models_vs_humans']['df']}) = {tables['models_vs_humans']['t']:.2f}, "
            f"p = {tables['models_vs_humans']['p']:.3g}, Cohen's d = {tables['models_vs_humans']['cohens_d']:.2f}."
            if "models_vs_humans" in tables
            else ""
        ),
        figures={"fig3a_accuracy": plot_accuracy(tables["accuracy"], tables.get("humans"))},
        tables={"Models": tables["accuracy"][accuracy_columns]},
    )
    if "humans" in tables:
        overview.tables["Human experts"] = tables["humans"][accuracy_columns]
    sections = [
        overview,
        Section(
            "Accuracy by subfield (Fig 3B)",
            figures={"fig3b_subfields": plot_subfields(tables["subfields"])},
            tables={"Accuracy by subfield": tables["subfields"]},
        ),
    ]
    if human_trials is not None:
        by_position = accuracy_by(human_trials, "position")
        sections.append(
            Section(
                "Human experts by researcher type (Fig 3C)",
                figures={"fig3c_researcher_type": plot_by_group(by_position, "Human experts by researcher type", tables["mean_accuracy"])},
                tables={
                    "By researcher type": by_position[accuracy_columns],
                    "By years of experience": accuracy_by_experience(human_trials)[accuracy_columns],
                    "By self-rated expertise (equal-count bins)": expertise_calibration(human_trials).set_index("bin")[["n", "mean_expertise", "accuracy"]],
                },
            )
        )
    calibration = calibration_summary(results, human_trials)
    sections.append(
        Section(
            "Calibration (Fig 4, Table S3)",
            text="Confidence is |PPL_A - PPL_B| for models and the rating for humans; 20 equal-count bins of ranked "
            "confidence. ECE and Brier use the chosen option's probability (models: two-way softmax of per-token "
            "log-likelihoods; humans: rating mapped to 0.5-1); the paper did not report them.",
            figures={"fig4_calibration": plot_calibration(calibration_by_model(results, human_trials), calibration)},
            tables={"Calibration": calibration},
        )
    )
    agreement = tables["agreement"]
    sections.append(
        Section(
            "Item-level agreement (Fig S6)",
            text=", ".join(f"{key} {value:.3g}" for key, value in agreement.items()),
            figures={"figS6_agreement": plot_agreement(tables["agreement_matrix"])},
            tables={"Spearman correlations of item difficulty": tables["agreement_matrix"]},
        )
    )
    return sections


__all__ = ["PERCENT_TABLES", "Section", "build_sections", "render_html", "save_figures", "write_report"]
