"""The paper's figures: tables in, matplotlib Figures out. No statistics are computed here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

# Okabe-Ito: distinguishable with the common colour-vision deficiencies. Vermillion is kept for humans.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#999999"]
HUMAN_COLOUR = "#D55E00"


def _short(name: str, limit: int = 28) -> str:
    name = name.split("/")[-1].replace("--", "/").split("/")[-1]
    return name if len(name) <= limit else name[: limit - 1] + "…"


def plot_accuracy(
    accuracy: pd.DataFrame,
    humans: pd.DataFrame | None = None,
    others: Sequence[str] = (),
    mean: float | None = None,
    mean_label: str = "mean of the models",
) -> Figure:
    """Fig 3A: accuracy of each model (bars, Wilson 95% CI) against the human experts (lines); runs in
    ``others`` (outside the set the mean is over) hatched, and the mean as a line if given."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(accuracy) + 2), 4.5))
    x = np.arange(len(accuracy))
    errors = np.clip(
        np.vstack([accuracy["accuracy"] - accuracy["ci95_low"], accuracy["ci95_high"] - accuracy["accuracy"]]), 0, None
    )  # a CI that rounds past its estimate draws no bar
    bars = ax.bar(
        x,
        accuracy["accuracy"],
        yerr=errors,
        capsize=3,
        color=[PALETTE[i % len(PALETTE)] for i in x],
        edgecolor="black",
        linewidth=0.6,
    )
    for bar, name in zip(bars, accuracy.index):
        if name in others:
            bar.set_hatch("//")
            bar.set_alpha(0.6)
    if mean is not None:
        ax.axhline(mean, color=PALETTE[0], linestyle="-.", linewidth=1.5, label=f"{mean_label}: {100 * mean:.1f}%")
    if humans is not None:
        for (label, row), style in zip(humans.iterrows(), ("--", ":")):
            ax.axhline(
                row["accuracy"],
                color=HUMAN_COLOUR,
                linestyle=style,
                linewidth=2,
                label=f"{label}: {100 * row['accuracy']:.1f}%",
            )
    handles, labels = ax.get_legend_handles_labels()
    if others:
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="//"))
        labels.append("not in the mean")
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(x, [_short(name) for name in accuracy.index], rotation=35, ha="right")
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("Accuracy")
    ax.set_title("Accuracy on BrainBench")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_subfields(
    subfields: pd.DataFrame,
    average: str = "average model",
    human: str = "human experts",
    top: str = "human experts (top 20%)",
) -> Figure:
    """Fig 3B: per subfield, the average model, the human experts and the most expert of them (bars)
    and each model (dots)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    x = np.arange(len(subfields))
    series = [name for name in (average, human, top) if name in subfields.columns]
    width = 0.8 / max(1, len(series))
    for offset, name in enumerate(series):
        colour = PALETTE[0] if name == average else HUMAN_COLOUR
        ax.bar(
            x + (offset - (len(series) - 1) / 2) * width,
            subfields[name],
            width,
            label=name,
            color=colour,
            alpha=0.55 if name == top else 1.0,
            hatch="//" if name == top else None,
            edgecolor="black",
            linewidth=0.6,
        )
    models = [name for name in subfields.columns if name not in (average, human, top)]
    for index, name in enumerate(models):
        ax.scatter(
            x - (len(series) - 1) / 2 * width,
            subfields[name],
            s=14,
            color="black",
            alpha=0.5,
            zorder=3,
            label="each model" if index == 0 else None,
        )
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(x, [name.replace("/", "/\n") for name in subfields.index], fontsize=8)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("Accuracy")
    ax.set_title("Accuracy by subfield")
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_by_group(
    table: pd.DataFrame, title: str, reference: float | None = None, reference_label: str = "average model"
) -> Figure:
    """Fig 3C style: human accuracy per group (e.g. researcher type) with Wilson CIs, and an optional reference line."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x = np.arange(len(table))
    errors = np.clip(
        np.vstack([table["accuracy"] - table["ci95_low"], table["ci95_high"] - table["accuracy"]]), 0, None
    )  # a CI that rounds past its estimate draws no bar
    ax.bar(
        x, table["accuracy"], yerr=errors, capsize=3, color=HUMAN_COLOUR, alpha=0.8, edgecolor="black", linewidth=0.6
    )
    if reference is not None:
        ax.axhline(
            reference, color=PALETTE[0], linestyle="--", linewidth=2, label=f"{reference_label}: {100 * reference:.1f}%"
        )
        ax.legend(frameon=False, loc="lower right")
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(
        x, [f"{name}\n(n={int(n)})" for name, n in zip(table.index, table["n"])], fontsize=8, rotation=20, ha="right"
    )
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("Accuracy")
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_calibration(bins: dict[str, pd.DataFrame], fits: pd.DataFrame | None = None) -> Figure:
    """Fig 4: accuracy per confidence bin (equal-count bins of ranked confidence) with the linear fit."""
    names = list(bins)
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.8 * rows), sharey=True, squeeze=False)
    for index, name in enumerate(names):
        ax = axes[index // columns][index % columns]
        table = bins[name]
        colour = HUMAN_COLOUR if name == "human experts" else PALETTE[index % len(PALETTE)]
        width = float(table["rank_midpoint"].diff().median()) if len(table) > 1 else 1.0
        ax.bar(
            table["rank_midpoint"],
            table["accuracy"],
            width=width,
            color=colour,
            alpha=0.6,
            edgecolor="black",
            linewidth=0.4,
        )
        usable = table.dropna(subset=["accuracy"])
        if len(usable) > 1:
            slope, intercept = np.polyfit(usable["rank_midpoint"], usable["accuracy"], 1)
            ax.plot(usable["rank_midpoint"], intercept + slope * usable["rank_midpoint"], color="black", linewidth=2)
        title = _short(name, 24)
        if fits is not None and name in fits.index:
            title += f"\nr = {fits.loc[name, 'bin_fit_r']:.2f}"
        ax.set_title(title, fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_xticks([])
        ax.set_xlabel("confidence (low → high)", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for index in range(len(names), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    for row in axes:
        row[0].set_ylabel("Accuracy")
    fig.suptitle("Calibration: accuracy rises with confidence")
    fig.tight_layout()
    return fig


def plot_agreement(matrix: pd.DataFrame) -> Figure:
    """Fig S6: Spearman correlations of item difficulty between models (and with human accuracy)."""
    size = max(4.0, 0.7 * len(matrix) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="cividis", vmin=-1, vmax=1)
    labels = [_short(name, 22) for name in matrix.index]
    ax.set_xticks(range(len(matrix)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix)), labels, fontsize=8)
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            value = matrix.iat[i, j]
            ax.text(
                j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value < 0.3 else "black"
            )
    fig.colorbar(image, ax=ax, label="Spearman ρ", shrink=0.8)
    ax.set_title("Item-level agreement")
    fig.tight_layout()
    return fig


def plot_context(table: pd.DataFrame) -> Figure:
    """Figs S3/S4: each model's accuracy with the full abstract, without context and with swapped context."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(table) + 3), 4.2))
    x = np.arange(len(table))
    markers = {"full": "*", "no-context": "o", "no-context (per abstract)": "s"}
    for index, condition in enumerate(table.columns):
        marker = markers.get(condition, "D")
        ax.scatter(
            x,
            table[condition],
            s=110 if marker == "*" else 50,
            marker=marker,
            label=condition,
            zorder=3,
            color=PALETTE[index % len(PALETTE)],
            facecolors="none" if marker in "os" else None,
        )
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(x, [_short(name) for name in table.index], rotation=35, ha="right")
    ax.set_ylim(0.3, 1.0)
    ax.set_ylabel("Accuracy")
    ax.set_title("Context matters: full abstract vs result sentences alone or swapped")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_memorisation(flagged: pd.DataFrame) -> Figure:
    """Fig S7: PPL (log scale) against zlib entropy per model: the items' original versions (flagged
    ones outlined), their altered versions, reference corpora and the Gettysburg Address."""
    models = list(dict.fromkeys(flagged["model"]))
    columns = min(3, len(models))
    rows = math.ceil(len(models) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 4.0 * rows), squeeze=False)
    for index, model in enumerate(models):
        ax = axes[index // columns][index % columns]
        texts = flagged[(flagged["model"] == model) & flagged["ppl"].notna()]
        altered = texts[texts["kind"] == "altered"]
        ax.scatter(altered["ppl"], altered["zlib"], s=8, color="#999999", alpha=0.5, label="altered (unseen)")
        for number, (label, group) in enumerate(texts[texts["kind"] == "reference"].groupby("label", sort=False)):
            ax.scatter(
                group["ppl"], group["zlib"], s=8, alpha=0.5, color=PALETTE[(number + 1) % len(PALETTE)], label=label
            )
        originals = texts[texts["kind"] == "original"]
        beyond = originals.get("beyond_min_k_pp", pd.Series(False, index=originals.index)).fillna(False).astype(bool)
        ax.scatter(originals["ppl"], originals["zlib"], s=12, color=PALETTE[0], alpha=0.8, label="original (published)")
        if beyond.any():
            ax.scatter(
                originals.loc[beyond, "ppl"],
                originals.loc[beyond, "zlib"],
                s=40,
                facecolors="none",
                edgecolors="black",
                label="looks memorised (Min-K%++)",
            )
        control = texts[texts["kind"] == "control"]
        ax.scatter(
            control["ppl"],
            control["zlib"],
            s=120,
            marker="^",
            color=HUMAN_COLOUR,
            edgecolors="black",
            label="Gettysburg Address",
            zorder=4,
        )
        ax.set_xscale("log")
        ax.set_xlabel("perplexity (log scale)")
        ax.set_ylabel("zlib entropy (bytes)")
        ax.set_title(_short(model, 30), fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        if index == 0:
            ax.legend(frameon=False, fontsize=7, loc="best")
    for index in range(len(models), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    fig.suptitle("Memorisation check: memorised text sits far left (low perplexity for its zlib entropy)")
    fig.tight_layout()
    return fig


def plot_publication_dates(results: pd.DataFrame, dates: pd.Series, correlations: pd.DataFrame) -> Figure:
    """Fig S8: item ease (PPL_incorrect - PPL_correct) against publication date rank, per model."""
    models = list(correlations.index)
    columns = min(3, len(models))
    rows = math.ceil(len(models) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for index, model in enumerate(models):
        ax = axes[index // columns][index % columns]
        run = results[(results["model"] == model) & results["item_id"].isin(dates.index)]
        rank = dates.loc[run["item_id"]].rank().to_numpy()
        ax.scatter(rank, run["difficulty"], s=10, color=PALETTE[index % len(PALETTE)], alpha=0.7)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(
            f"{_short(model, 26)}\nρ = {correlations.loc[model, 'spearman_rho']:.2f}, p = "
            f"{correlations.loc[model, 'p']:.2g}",
            fontsize=9,
        )
        ax.set_xlabel("publication date rank (early → late)", fontsize=8)
        ax.set_ylabel("PPL incorrect − correct", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for index in range(len(models), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    fig.tight_layout()
    return fig


def plot_boost(results: pd.DataFrame, boosts: pd.DataFrame) -> Figure:
    """Fig 5: accuracy before and after tuning (bars) and the correct option's PPL before and after (histograms), per
    pair."""
    fig, axes = plt.subplots(len(boosts), 2, figsize=(9, 3.6 * len(boosts)), squeeze=False)
    for row, (_, boost) in enumerate(boosts.iterrows()):
        bars, histogram = axes[row]
        bars.bar(
            [0, 1],
            [boost["accuracy_before"], boost["accuracy_after"]],
            color=[PALETTE[4], PALETTE[0]],
            edgecolor="black",
            linewidth=0.6,
            width=0.5,
        )
        for x, value in enumerate((boost["accuracy_before"], boost["accuracy_after"])):
            bars.annotate(f"{100 * value:.1f}%", (x, value), ha="center", va="bottom")
        bars.set_xticks([0, 1], [_short(boost["before"], 22), _short(boost["after"], 22)], fontsize=8)
        bars.set_ylim(0.4, 1.0)
        bars.set_ylabel("Accuracy")
        for model, colour, label in ((boost["before"], PALETTE[4], "before"), (boost["after"], PALETTE[0], "after")):
            values = results.loc[results["model"] == model, "ppl_original"]
            histogram.hist(values, bins=20, alpha=0.5, color=colour, label=label, density=True)
        histogram.set_xlabel("PPL of the correct option")
        histogram.set_title(f"paired t = {boost['t_correct_ppl']:.1f}, p = {boost['p_correct_ppl']:.2g}", fontsize=9)
        histogram.legend(frameon=False)
        for ax in (bars, histogram):
            ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Fine-tuning boost")
    fig.tight_layout()
    return fig


def plot_chat_and_size(chat_pairs: pd.DataFrame | None, by_size: pd.DataFrame | None) -> Figure:
    """Left: each chat/instruct model minus its base model (bootstrap 95% CI). Right: accuracy against
    parameter count (log scale), one line per family."""
    panels = [panel for panel in (chat_pairs, by_size) if panel is not None and not panel.empty]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    axes = list(axes[0])
    if chat_pairs is not None and not chat_pairs.empty:
        ax = axes.pop(0)
        y = np.arange(len(chat_pairs))
        errors = np.clip(
            np.vstack(
                [
                    chat_pairs["difference"] - chat_pairs["difference_ci95_low"],
                    chat_pairs["difference_ci95_high"] - chat_pairs["difference"],
                ]
            ),
            0,
            None,
        )  # a CI that rounds past its estimate draws no bar
        ax.errorbar(chat_pairs["difference"], y, xerr=errors, fmt="o", color=PALETTE[0], capsize=3)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_yticks(y, [_short(name, 30) for name in chat_pairs.index], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("accuracy: chat/instruct − base")
        ax.set_title("Chat/instruct tuning", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    if by_size is not None and not by_size.empty:
        ax = axes.pop(0)
        for index, (family, members) in enumerate(by_size.groupby("family", sort=False)):
            ax.plot(
                members["parameters_b"],
                members["accuracy"],
                marker="o",
                color=PALETTE[index % len(PALETTE)],
                label=_short(family, 30),
            )
        ax.set_xscale("log")
        ax.set_xlabel("parameters (billions, log scale)")
        ax.set_ylabel("Accuracy")
        ax.set_ylim(0.5, 1.0)
        ax.set_title("Size within a family", fontsize=10)
        ax.legend(frameon=False, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_teams(teams: pd.DataFrame) -> Figure:
    """Human-AI teams: each team's two members alone and the team (95% CI over items), side by side."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(teams) + 2), 4.5))
    x = np.arange(len(teams))
    width = 0.27
    ax.bar(
        x - width, teams["acc_a"], width, color=PALETTE[4], edgecolor="black", linewidth=0.6, label="first member alone"
    )
    ax.bar(x, teams["acc_b"], width, color=PALETTE[0], edgecolor="black", linewidth=0.6, label="second member alone")
    errors = np.clip(
        np.vstack([teams["acc_team"] - teams["acc_team_ci95_low"], teams["acc_team_ci95_high"] - teams["acc_team"]]),
        0,
        None,
    )  # a CI that rounds past its estimate draws no bar
    ax.bar(
        x + width,
        teams["acc_team"],
        width,
        yerr=errors,
        capsize=3,
        color=PALETTE[2],
        edgecolor="black",
        linewidth=0.6,
        label="team (95% CI)",
    )
    labels = [
        " +\n".join(_short(member, 22) for member in (row["member_a"], row["member_b"])) for _, row in teams.iterrows()
    ]
    ax.set_xticks(x, labels, fontsize=8)
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("Accuracy (teams cross-validated)")
    ax.set_title("Teams: members alone and together")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_graded(table: pd.DataFrame, cases: pd.DataFrame) -> Figure:
    """Graded cases. Left: how often the true value fell inside the central 50% and 80% intervals (Wilson 95% CI)
    against the nominal level, with the probability those intervals held and the uniform grid's coverage. Right: the
    predicted mean (± SD) against the truth, each on its grid's scale (0: lowest value, 1: highest), and the uniform
    grid's mean."""
    fig, (coverage_ax, truth_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    _plot_coverage(coverage_ax, table)
    _plot_truth(truth_ax, cases)
    for ax in (coverage_ax, truth_ax):
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Graded cases: the model's distribution over each grid of values")
    fig.tight_layout()
    return fig


def _plot_coverage(coverage_ax: Axes, table: pd.DataFrame) -> None:
    """``plot_graded``'s left panel: interval coverage against the nominal level."""
    nominal = np.array([0.5, 0.8])
    coverage_ax.plot([0.4, 1.0], [0.4, 1.0], color="grey", linestyle="--", linewidth=1, label="coverage = nominal")
    for index, (model, row) in enumerate(table.iterrows()):
        colour = PALETTE[index % len(PALETTE)]
        shift = (index - (len(table) - 1) / 2) * 0.012
        covered = np.array([row["coverage_50"], row["coverage_80"]])
        errors = np.clip(
            np.vstack(
                [
                    covered - [row["coverage_50_ci95_low"], row["coverage_80_ci95_low"]],
                    [row["coverage_50_ci95_high"], row["coverage_80_ci95_high"]] - covered,
                ]
            ),
            0,
            None,
        )  # rounding at 0 or 1
        coverage_ax.errorbar(
            nominal + shift, covered, yerr=errors, fmt="o-", color=colour, capsize=3, label=f"{_short(model)}: coverage"
        )
        coverage_ax.plot(
            nominal + shift + 0.02,
            [row["interval_mass_50"], row["interval_mass_80"]],
            "D",
            fillstyle="none",
            markersize=7,
            color=colour,
            label=f"{_short(model)}: probability the intervals held",
        )
    uniform = table.iloc[0]
    coverage_ax.plot(
        nominal,
        [uniform["coverage_50_uniform"], uniform["coverage_80_uniform"]],
        "s",
        color="black",
        fillstyle="none",
        markersize=8,
        label="uniform grid: coverage",
    )
    coverage_ax.set_xticks(nominal, ["50%", "80%"])
    coverage_ax.set_xlim(0.35, 0.95)
    coverage_ax.set_ylim(0.0, 1.05)
    coverage_ax.set_xlabel("nominal central interval")
    coverage_ax.set_ylabel("share of cases with the truth inside")
    coverage_ax.set_title("Interval coverage", fontsize=10)
    coverage_ax.legend(frameon=False, fontsize=7, loc="lower right")


def _plot_truth(truth_ax: Axes, cases: pd.DataFrame) -> None:
    """``plot_graded``'s right panel: the predicted mean against the truth, on each grid's scale."""
    truth_ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    truth_ax.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
    truth_ax.scatter(
        cases["truth_position"],
        cases["uniform_mean_position"],
        marker="x",
        s=22,
        color="black",
        alpha=0.6,
        zorder=3,
        label="the uniform grid's mean",
    )
    for index, (model, group) in enumerate(cases.groupby("model", sort=False)):
        jitter = (index - (cases["model"].nunique() - 1) / 2) * 0.01
        truth_ax.errorbar(
            group["truth_position"] + jitter,
            group["mean_position"],
            yerr=group["sd_position"],
            fmt="o",
            markersize=4,
            alpha=0.8,
            capsize=2,
            color=PALETTE[index % len(PALETTE)],
            label=_short(model),
        )
    truth_ax.set_xlim(-0.05, 1.05)
    truth_ax.set_ylim(-0.05, 1.05)
    truth_ax.set_xlabel("true value (0: the grid's lowest value, 1: its highest)")
    truth_ax.set_ylabel("predicted mean ± SD (same scale)")
    truth_ax.set_title("Predicted mean against the truth", fontsize=10)
    truth_ax.legend(frameon=False, fontsize=7, loc="upper left")
