"""The report's sections: each the analysis tables of one part of the paper, with its figures and a line of text."""

from __future__ import annotations

import pandas as pd

from brainbench.analysis import (
    PAPER_MODEL_SET,
    accuracy_by,
    accuracy_by_experience,
    calibration_by_model,
    calibration_summary,
    comparison_tables,
    context_table,
    describe_agreement,
    describe_mean,
    describe_models_vs_humans,
    expertise_calibration,
    finetuning_boost,
    flag_memorised,
    memorisation_summary,
    participant_table,
    publication_date_correlation,
    team_analysis,
)
from brainbench.analysis.graded import describe_rps_difference
from brainbench.analysis.memorisation import SCORE_NAMES
from brainbench.errors import AnalysisError
from brainbench.report.figures import (
    plot_accuracy,
    plot_agreement,
    plot_boost,
    plot_by_group,
    plot_calibration,
    plot_chat_and_size,
    plot_context,
    plot_graded,
    plot_memorisation,
    plot_publication_dates,
    plot_subfields,
    plot_teams,
)
from brainbench.report.html import Section

PERCENT_TABLES = {"Accuracy by subfield", "Accuracy by condition"}


def build_sections(
    results: pd.DataFrame,
    human_trials: pd.DataFrame | None = None,
    *,
    conditions: pd.DataFrame | None = None,
    memorisation: pd.DataFrame | None = None,
    publication_dates: pd.Series | None = None,
    unseen: str | None = None,
    finetuned: list[tuple[str, str]] | None = None,
    model_set: list[str] | None = None,
    graded: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> list[Section]:
    """The paper's results for ``results`` (full-abstract runs) and, where given, the human experts'
    trials, runs under other conditions (results rows with a ``condition`` column, full ones
    included), memorisation tables (``read_memorisation`` rows with a ``model`` column) and the
    items' publication dates. ``unseen`` names the reference corpus that the memorisation verdicts
    measure against (default: the altered versions). ``finetuned`` pairs (base, tuned) run names for Fig 5.
    ``model_set``: what the headline mean and the tests are over (``comparison_tables``' default: the
    paper's 15 models whenever all have runs, else every run); other runs are shown beside it, labelled.
    ``graded``: (``graded_table``, ``graded_cases``) of the runs with graded cases."""
    tables = comparison_tables(results, human_trials, model_set)
    accuracy_columns = ["n", "n_correct", "accuracy", "sem", "ci95_low", "ci95_high"]
    paper_set = tables["model_set"] == list(PAPER_MODEL_SET)
    overview = Section(
        "Accuracy: models and human experts (Fig 3A)",
        text=describe_mean(tables)
        + (" " + describe_models_vs_humans(tables["models_vs_humans"]) if "models_vs_humans" in tables else ""),
        figures={
            "fig3a_accuracy": plot_accuracy(
                tables["accuracy"],
                tables.get("humans"),
                tables["other_runs"],
                tables["mean_accuracy"],
                "mean of the paper's 15 models" if paper_set else "mean of the models",
            )
        },
        tables={"Models": tables["accuracy"][[*accuracy_columns, "chance"]]},
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
        sections.append(experts_section(human_trials, tables["mean_accuracy"], accuracy_columns))
    sections.append(calibration_section(results, human_trials, tables["table_s3"]))
    agreement = tables["agreement"]
    sections.append(
        Section(
            "Item-level agreement (Fig S6)",
            text=describe_agreement(agreement),
            figures={"figS6_agreement": plot_agreement(tables["agreement_matrix"])},
            tables={"Spearman correlations of item difficulty": tables["agreement_matrix"]},
        )
    )
    if tables["chat_vs_base"] or tables["accuracy_by_size"]:
        sections.append(families_section(tables["chat_vs_base"], tables["accuracy_by_size"]))
    if human_trials is not None and not human_trials.empty:
        sections.append(team_section(results, human_trials))
    if finetuned:
        sections.append(boost_section(results, finetuned))
    if conditions is not None and set(conditions["condition"]) - {"full"}:
        sections.append(context_section(conditions))
    if memorisation is not None and not memorisation.empty:
        sections.append(memorisation_section(memorisation, unseen))
    if publication_dates is not None and not results.empty:
        sections.append(publication_date_section(results, publication_dates))
    if graded is not None and not graded[0].empty:
        sections.append(graded_section(*graded))
    return sections


def experts_section(human_trials: pd.DataFrame, mean_accuracy: float, accuracy_columns: list[str]) -> Section:
    """Fig 3C: the human experts by researcher type, experience and self-rated expertise."""
    by_position = accuracy_by(human_trials, "position")
    return Section(
        "Human experts by researcher type (Fig 3C)",
        figures={
            "fig3c_researcher_type": plot_by_group(by_position, "Human experts by researcher type", mean_accuracy)
        },
        tables={
            "Participants (those with trials on these items)": participant_table(human_trials),
            "By researcher type": by_position[accuracy_columns],
            "By years of experience": accuracy_by_experience(human_trials)[accuracy_columns],
            "By self-rated expertise (4 equal-count bins of ranked expertise, overall and per subfield, as the "
            "paper)": expertise_calibration(human_trials),
        },
    )


def calibration_section(results: pd.DataFrame, human_trials: pd.DataFrame | None, table_s3: pd.DataFrame) -> Section:
    """Fig 4 and Table S3: calibration of models and experts."""
    calibration = calibration_summary(results, human_trials)
    return Section(
        "Calibration (Fig 4, Table S3)",
        text="Confidence is |PPL_A - PPL_B| for models of pairs under the ppl rule (the paper's), the chosen "
        "version's share p otherwise, and the rating for humans; 20 equal-count bins of ranked "
        "confidence. ECE and Brier use the chosen option's probability (models: two-way softmax of per-token "
        "log-likelihoods; humans: rating mapped to 0.5-1); the paper did not report them. Table S3 as the paper: "
        "logistic regression of correct on confidence over 5 random 80% subsets, all drawn from one numpy stream "
        "seeded 42 in the paper's order (its 15 models, then the experts, then other runs), so a row depends on "
        "the "
        "runs before it; t-test of the 5 coefficients against 0, one-sided.",
        figures={"fig4_calibration": plot_calibration(calibration_by_model(results, human_trials), calibration)},
        tables={
            "Calibration": calibration,
            "Table S3: logistic regression of correct on confidence": table_s3,
        },
    )


def describe_graded(table: pd.DataFrame) -> str:
    """One sentence per run: its RPS against the uniform grid's, and its coverage against nominal."""
    return " ".join(
        f"{model} ({int(row['n'])} cases): RPS {row['rps']:.4f} against the uniform grid's {row['rps_uniform']:.4f}; "
        + describe_rps_difference(
            row["rps_difference"], row["rps_difference_ci95_low"], row["rps_difference_ci95_high"]
        )
        + f". The truth fell inside its central 50% and 80% intervals in {100 * row['coverage_50']:.0f}% and "
        f"{100 * row['coverage_80']:.0f}% of cases (uniform grid: {100 * row['coverage_50_uniform']:.0f}% and "
        f"{100 * row['coverage_80_uniform']:.0f}%), intervals that held {100 * row['interval_mass_50']:.0f}% and "
        f"{100 * row['interval_mass_80']:.0f}% of its probability."
        for model, row in table.iterrows()
    )


GRADED_MEASURES = {  # row label -> (the model's column, the uniform grid's column or None) of graded_table
    "cases": ("n", "n"),
    "RPS (0 best)": ("rps", "rps_uniform"),
    "RPS model - uniform": ("rps_difference", None),
    "  95% CI low": ("rps_difference_ci95_low", None),
    "  95% CI high": ("rps_difference_ci95_high", None),
    "|mean - truth| / grid range": ("mae_relative", "mae_relative_uniform"),
    "mean rank of the truth": ("mean_rank", "mean_rank_uniform"),
    "truth inside the 50% interval": ("coverage_50", "coverage_50_uniform"),
    "  probability the 50% intervals held": ("interval_mass_50", "interval_mass_50_uniform"),
    "truth inside the 80% interval": ("coverage_80", "coverage_80_uniform"),
    "  probability the 80% intervals held": ("interval_mass_80", "interval_mass_80_uniform"),
}


def graded_measures(table: pd.DataFrame) -> pd.DataFrame:
    """``graded_table`` turned on its side: one row per measure, a column per run and one for its uniform grid."""
    columns = {}
    for model, row in table.iterrows():
        columns[model] = [row[mine] for mine, _ in GRADED_MEASURES.values()]
        columns[f"{model}: uniform grid"] = [
            row[uniform] if uniform else float("nan") for _, uniform in GRADED_MEASURES.values()
        ]
    return pd.DataFrame(columns, index=pd.Index(list(GRADED_MEASURES), name="measure"))


def graded_section(table: pd.DataFrame, cases: pd.DataFrame) -> Section:
    shown = cases[
        [
            "model",
            "item_id",
            "subfield",
            "unit",
            "truth",
            "mean",
            "sd",
            "rank",
            "n_values",
            "in_50",
            "in_80",
            "rps",
            "rps_uniform",
        ]
    ]
    return Section(
        "Graded results: predicted mean and spread",
        text="Each graded case is an abstract whose result is a number, scored with each value of a grid in its slot. "
        "The "
        "model's distribution over the grid is the softmax of each version's score under the decision rule (mean "
        "log-likelihood per token for ppl): a relative probability, not a calibrated one. Under ppl the differences "
        "between versions are divided by the abstract's length, so the distribution stays close to uniform; the sum "
        "rule "
        "gives each text's own probability. From it: the predicted mean and SD, the true value's rank, the central 50% "
        "and 80% intervals (on a grid they hold at least that much probability) and the ranked probability score (RPS, "
        "0 best), each set against the uniform grid, which knows nothing. " + describe_graded(table),
        figures={"fig_graded": plot_graded(table, cases)},
        tables={
            "Graded cases: each run against the uniform grid": graded_measures(table),
            "Each graded case": shown.set_index("model"),
        },
    )


def families_section(chat: dict, by_size: dict) -> Section:
    text = []
    tables = {}
    if chat:
        summary = chat["mean_difference"]
        text.append(
            f"Chat/instruct versions against their base models on the same items ({summary['n']} pair(s)): "
            f"mean difference {100 * summary['mean']:+.1f} points"
            + (
                f" (95% CI {100 * summary['ci95_low']:+.1f} to {100 * summary['ci95_high']:+.1f}, t-test over the "
                "pairs)."
                if summary["n"] > 1
                else "."
            )
        )
        tables["Chat/instruct vs base model (difference chat - base; bootstrap 95% CI, McNemar)"] = chat["pairs"]
    if by_size:
        text.append(
            "Accuracy against parameter count within each family (base models; sizes read from the names): the slope "
            "is per "
            "tenfold more parameters; largest minus smallest is paired over the items both scored."
        )
        tables["Accuracy and size within a family"] = by_size["families"]
        tables["Models by family and size"] = by_size["models"]
    return Section(
        "Chat/instruct tuning and model size",
        text=" ".join(text),
        figures={"chat_and_size": plot_chat_and_size(chat.get("pairs"), by_size.get("models"))},
        tables=tables,
    )


def team_section(results: pd.DataFrame, human_trials: pd.DataFrame) -> Section:
    llm_pairs = results["model"].nunique() <= 5  # n models make n(n-1)/2 LLM-LLM teams
    try:
        tables = team_analysis(results, human_trials, llm_pairs=llm_pairs)
    except AnalysisError as error:  # e.g. a run of a few items cannot be cross-validated
        return Section("Human-AI teams", text=f"No team table: {error}.")
    teams = tables["teams"]
    shown = pd.DataFrame(
        {
            "type": teams["team_type"],
            "trials": teams["n_trials"],
            "% a alone": teams["acc_a"],
            "% b alone": teams["acc_b"],
            "% team": teams["acc_team"],
            "% team CI low": teams["acc_team_ci95_low"],
            "% team CI high": teams["acc_team_ci95_high"],
            "% gain": teams["gain"],
            "% gain CI low": teams["gain_ci95_low"],
            "% gain CI high": teams["gain_ci95_high"],
            "disagree": teams["n_disagree"],
            "% team when they disagree": teams["acc_team_disagree"],
        }
    )
    calibration = (
        tables["calibration"]
        .reset_index("team")
        .rename(
            columns={
                "gain": "% gain",
                "gain_shuffled": "% gain, shuffled",
                "gain_shuffled_ci95_low": "% CI low",
                "gain_shuffled_ci95_high": "% CI high",
            }
        )
    )
    return Section(
        "Human-AI teams",
        text="Each expert trial's choice and confidence combined with a model's (log PPL_A - log PPL_B), or with "
        "another "
        "model's, or with another expert's trial on the same item, by a logistic regression fitted on other items only "
        "(grouped 5-fold by item), as the authors' follow-up (haico). Gain: the team over its better member on the "
        "same "
        "trials. 95% CIs: bootstrap over items." + ("" if llm_pairs else " LLM-LLM teams left out (more than 5 runs)."),
        figures={"fig_teams": plot_teams(teams)},
        tables={
            "Teams": shown,
            "Team members' calibration and weight; the gain with the member's confidence shuffled": calibration,
        },
    )


def boost_section(results: pd.DataFrame, pairs: list[tuple[str, str]]) -> Section:
    boosts = pd.DataFrame([finetuning_boost(results, before, after) for before, after in pairs])
    return Section(
        "Fine-tuning boost (Fig 5)",
        text="Each base model against its tuned version on the items both scored; paired t-tests (as the paper) on the "
        "correct option's PPL (with the 95% CI of its drop and Cohen's d_av, as pingouin reports them) and on "
        "PPL_correct - PPL_incorrect.",
        figures={"fig5_finetuning_boost": plot_boost(results, boosts)},
        tables={"Fine-tuning boost": boosts.set_index("after")},
    )


def context_section(conditions: pd.DataFrame) -> Section:
    table = context_table(conditions)
    return Section(
        "Integration of context (Figs S3, S4)",
        text="Without context, each sentence holding an edit is scored alone (accuracy over sentence pairs, as the "
        "paper; per abstract, each abstract's pairs averaged first). Swapped context puts each result sentence into "
        "another abstract of the same subfield. A model that integrates the whole abstract loses accuracy in both.",
        figures={"figS3_S4_context": plot_context(table)},
        tables={"Accuracy by condition": table},
    )


def memorisation_section(memorisation: pd.DataFrame, unseen: str | None = None) -> Section:
    flagged = flag_memorised(memorisation, unseen)
    control = "the altered versions" if unseen is None else f"the reference texts labelled {unseen!r}"
    summary = memorisation_summary(flagged)
    readable = summary.rename(
        columns=lambda column: next(
            (column.replace(score, name) for score, name in SCORE_NAMES.items() if column.startswith(score + "_")),
            column,
        )
    )
    suspects = flagged[(flagged["kind"] == "original") & flagged["beyond_min_k_pp"].fillna(False).astype(bool)]
    section = Section(
        "Memorisation (Fig S7)",
        text="Perplexity against zlib entropy of each item's published version, its altered version (never published), "
        "and the Gettysburg Address, which every model has memorised. An item looks memorised on a score when it lies "
        f"beyond the 95th percentile of {control}, texts the model cannot have seen (5% of items do by chance; the "
        "binomial p tests for more). "
        "Higher Min-K% Prob and Min-K%++ and lower ln(PPL)/zlib mean more likely seen in training. The Gettysburg "
        "Address must be flagged and far below the items' median perplexity: that is the control working.",
        figures={"figS7_memorisation": plot_memorisation(flagged)},
        tables={"Memorisation by model": readable},
    )
    if not suspects.empty:
        columns = [
            "model",
            "item_id",
            "doi",
            "ppl",
            "zlib",
            "zlib_ratio",
            "min_k",
            "min_k_pp",
            "beyond_min_k",
            "beyond_zlib_ratio",
        ]
        section.tables["Items that look memorised (Min-K%++)"] = suspects[columns].set_index("model")
    return section


def publication_date_section(results: pd.DataFrame, dates: pd.Series) -> Section:
    correlations = publication_date_correlation(results, dates)
    return Section(
        "Accuracy and publication date (Fig S8)",
        text="Spearman correlation between each item's publication date rank and how easy the model found it "
        "(PPL of the altered minus the original version), as the paper. A model that had memorised earlier "
        "publications would find early items easier (a negative correlation).",
        figures={"figS8_publication_date": plot_publication_dates(results, dates, correlations)},
        tables={"Publication date": correlations},
    )
