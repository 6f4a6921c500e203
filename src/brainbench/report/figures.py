"""The paper's figures: tables in, matplotlib Figures out. No statistics are computed here."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies. Vermillion is kept for humans.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#999999"]
HUMAN_COLOUR = "#D55E00"


def _short(name: str, limit: int = 28) -> str:
    name = name.split("/")[-1].replace("--", "/").split("/")[-1]
    return name if len(name) <= limit else name[: limit - 1] + "…"


def plot_accuracy(accuracy: pd.DataFrame, humans: pd.DataFrame | None = None) -> Figure:
    """Fig 3A: accuracy of each model (bars, Wilson 95% CI) against the human experts (lines)."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(accuracy) + 2), 4.5))
    x = np.arange(len(accuracy))
    errors = np.vstack([accuracy["accuracy"] - accuracy["ci95_low"], accuracy["ci95_high"] - accuracy["accuracy"]])
    ax.bar(x, accuracy["accuracy"], yerr=errors, capsize=3, color=[PALETTE[i % len(PALETTE)] for i in x], edgecolor="black", linewidth=0.6)
    if humans is not None:
        for (label, row), style in zip(humans.iterrows(), ("--", ":")):
            ax.axhline(row["accuracy"], color=HUMAN_COLOUR, linestyle=style, linewidth=2, label=f"{label}: {100 * row['accuracy']:.1f}%")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(x, [_short(name) for name in accuracy.index], rotation=35, ha="right")
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("Accuracy")
    ax.set_title("Accuracy on BrainBench")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_subfields(subfields: pd.DataFrame, average: str = "average model", human: str = "human experts") -> Figure:
    """Fig 3B: per subfield, the average model and the human experts (bars) and each model (dots)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    x = np.arange(len(subfields))
    series = [name for name in (average, human) if name in subfields.columns]
    width = 0.8 / max(1, len(series))
    for offset, name in enumerate(series):
        colour = HUMAN_COLOUR if name == human else PALETTE[0]
        ax.bar(x + (offset - (len(series) - 1) / 2) * width, subfields[name], width, label=name, color=colour, edgecolor="black", linewidth=0.6)
    models = [name for name in subfields.columns if name not in (average, human)]
    for index, name in enumerate(models):
        ax.scatter(x - (len(series) - 1) / 2 * width, subfields[name], s=14, color="black", alpha=0.5, zorder=3, label="each model" if index == 0 else None)
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(x, [name.replace("/", "/\n") for name in subfields.index], fontsize=8)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("Accuracy")
    ax.set_title("Accuracy by subfield")
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_by_group(table: pd.DataFrame, title: str, reference: float | None = None, reference_label: str = "average model") -> Figure:
    """Fig 3C style: human accuracy per group (e.g. researcher type) with Wilson CIs, and an optional reference line."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x = np.arange(len(table))
    errors = np.vstack([table["accuracy"] - table["ci95_low"], table["ci95_high"] - table["accuracy"]])
    ax.bar(x, table["accuracy"], yerr=errors, capsize=3, color=HUMAN_COLOUR, alpha=0.8, edgecolor="black", linewidth=0.6)
    if reference is not None:
        ax.axhline(reference, color=PALETTE[0], linestyle="--", linewidth=2, label=f"{reference_label}: {100 * reference:.1f}%")
        ax.legend(frameon=False, loc="lower right")
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(x, [f"{name}\n(n={int(n)})" for name, n in zip(table.index, table["n"])], fontsize=8, rotation=20, ha="right")
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
        ax.bar(table["rank_midpoint"], table["accuracy"], width=width, color=colour, alpha=0.6, edgecolor="black", linewidth=0.4)
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
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value < 0.3 else "black")
    fig.colorbar(image, ax=ax, label="Spearman ρ", shrink=0.8)
    ax.set_title("Item-level agreement")
    fig.tight_layout()
    return fig
