"""Memorisation checks: has a model seen the test items, rather than predicting their results?

Scores per text (each a pure function of its token log-probabilities or its characters):
  zlib entropy   ``len(zlib.compress(text.encode('utf-8')))``, the paper's Fig S7 x-axis partner
  zlib ratio     ln(PPL) / zlib entropy (Carlini et al. 2021): low when the model finds a text far
                 easier than its compressibility suggests; lower = more memorised
  Min-K% Prob    mean log-probability of the k% least likely tokens (Shi et al. 2024); higher = more memorised
  Min-K%++       the same over tokens normalised by their next-token distribution,
                 (log p(x_t) - mean_z log p(z)) / std_z log p(z) (Zhang et al. 2024); higher = more memorised

The verdict compares each item's original (the published text) with a control distribution of
texts the model cannot have seen: by default the items' altered versions, which were never
published (under memorisation their edited tokens are the surprising ones, which Min-K% picks
out); better, a reference corpus from after the model's training cut-off. An item "looks
memorised" on a score when it lies beyond the control's 95th percentile (5% of items do by
chance). The Gettysburg Address is the positive control: every model has seen it, so it must be flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_K = 0.2
# score -> +1 if higher means more memorised, -1 if lower does
SCORE_DIRECTIONS = {"min_k_pp": +1, "min_k": +1, "zlib_ratio": -1}
SCORE_NAMES = {"min_k_pp": "Min-K%++", "min_k": "Min-K% Prob", "zlib_ratio": "ln(PPL)/zlib"}


def _lowest_k(values: np.ndarray, k: float) -> float:
    count = max(1, math.ceil(k * len(values)))
    return float(np.sort(values)[:count].mean())


def min_k_prob(token_logprobs: Sequence[float], k: float = DEFAULT_K) -> float:
    """Min-K% Prob: the mean of the lowest ``k`` fraction of token log-probabilities."""
    return _lowest_k(np.asarray(token_logprobs, dtype=float), k)


def min_k_plus_plus(
    token_logprobs: Sequence[float], means: Sequence[float], stds: Sequence[float], k: float = DEFAULT_K
) -> float:
    """Min-K%++: the mean of the lowest ``k`` fraction of (log p - mean) / std over the tokens."""
    z = (np.asarray(token_logprobs, dtype=float) - np.asarray(means, dtype=float)) / np.maximum(
        np.asarray(stds, dtype=float), 1e-12
    )
    return _lowest_k(z, k)


def text_scores(
    token_logprobs: Sequence[float],
    zlib: int,
    means: Sequence[float] | None = None,
    stds: Sequence[float] | None = None,
    k: float = DEFAULT_K,
) -> dict[str, float]:
    """Every score of one text from its raw scores: n_tokens, ppl, zlib_ratio, min_k and min_k_pp (NaN without
    the distribution statistics). ``zlib`` is the text's zlib entropy (``runs.memorisation.zlib_entropy``)."""
    logprobs = np.asarray(token_logprobs, dtype=float)
    ppl = float(np.exp(-logprobs.mean()))
    return {
        "n_tokens": len(logprobs),
        "ppl": ppl,
        "zlib_ratio": math.log(ppl) / zlib,
        "min_k": min_k_prob(logprobs, k),
        "min_k_pp": min_k_plus_plus(logprobs, means, stds, k) if means is not None and stds is not None else math.nan,
    }


def memorisation_scores(raw: pd.DataFrame, k: float = DEFAULT_K) -> pd.DataFrame:
    """The raw memorisation table (``runs.memorisation.read_memorisation``: token log-probabilities and
    distribution statistics per text) with every score of each text; the raw lists dropped."""

    def lists(row: dict, *names: str) -> list:
        return [row.get(name) if isinstance(row.get(name), list) else None for name in names]

    scores = [
        text_scores(row["token_logprobs"], row["zlib"], *lists(row, "token_means", "token_stds"), k=k)
        if isinstance(row.get("token_logprobs"), list)
        else published_text_scores(row["ppl"], row["zlib"])
        if pd.notna(row.get("ppl"))
        else {}
        for row in raw.to_dict("records")
    ]
    return pd.concat(
        [
            raw.drop(columns=["token_logprobs", "token_means", "token_stds", "ppl"], errors="ignore").reset_index(
                drop=True
            ),
            pd.DataFrame(scores),
        ],
        axis=1,
    )


def published_text_scores(ppl: float, zlib: int) -> dict[str, float]:
    """The scores of a text known only by its PPL and zlib entropy (the paper's released arrays): PPL and ln(PPL)/zlib;
    Min-K% and Min-K%++ need each token's log-probability (NaN)."""
    return {
        "n_tokens": math.nan,
        "ppl": float(ppl),
        "zlib_ratio": math.log(ppl) / zlib,
        "min_k": math.nan,
        "min_k_pp": math.nan,
    }


def control_mask(table: pd.DataFrame, unseen: str | None = None) -> pd.Series:
    """Rows of the unseen-text control: the reference corpus labelled ``unseen``, else the altered versions."""
    if unseen is None:
        return table["kind"] == "altered"
    return (table["kind"] == "reference") & (table["label"] == unseen)


def flag_memorised(table: pd.DataFrame, unseen: str | None = None, quantile: float = 0.95) -> pd.DataFrame:
    """``table`` (one row per text and model: kind, label, and the scores) with a ``beyond_<score>``
    column per score: True where the text scores beyond the control's ``quantile``, per model."""
    flagged = []
    for _, rows in table.groupby("model", sort=False):
        rows = rows.copy()
        control = rows[control_mask(rows, unseen)]
        for score, direction in SCORE_DIRECTIONS.items():
            values = control[score].dropna()
            if values.empty:
                rows[f"beyond_{score}"] = pd.NA
                continue
            threshold = values.quantile(quantile if direction > 0 else 1 - quantile)
            rows[f"beyond_{score}"] = rows[score] > threshold if direction > 0 else rows[score] < threshold
        flagged.append(rows)
    return pd.concat(flagged)


def memorisation_summary(flagged: pd.DataFrame, quantile: float = 0.95) -> pd.DataFrame:
    """Per model: the originals' and the positive control's PPL, and per score how many originals
    look memorised against the share expected by chance (binomial test), and whether the
    Gettysburg control is flagged."""
    rows = []
    for model, texts in flagged.groupby("model", sort=False):
        originals = texts[texts["kind"] == "original"]
        control = texts[texts["kind"] == "control"]
        row: dict[str, object] = {
            "model": model,
            "n_items": len(originals),
            "median_ppl_items": float(originals["ppl"].median()),
            "ppl_gettysburg": float(control["ppl"].iloc[0]) if not control.empty else math.nan,
        }
        for score in SCORE_DIRECTIONS:
            column = f"beyond_{score}"
            if originals[column].isna().all():
                row[f"{score}_n_flagged"], row[f"{score}_p"], row[f"{score}_control_flagged"] = pd.NA, math.nan, pd.NA
                continue
            count = int(originals[column].sum())
            row[f"{score}_n_flagged"] = count
            row[f"{score}_p"] = (
                float(stats.binomtest(count, len(originals), 1 - quantile, alternative="greater").pvalue)
                if len(originals)
                else math.nan
            )
            row[f"{score}_control_flagged"] = bool(control[column].all()) if not control.empty else pd.NA
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def publication_date_correlation(results: pd.DataFrame, dates: pd.Series) -> pd.DataFrame:
    """Fig S8 per model: Spearman correlation between the items' publication date rank and how easy the
    model found them (PPL_incorrect - PPL_correct), as the paper; and accuracy in the earlier and later half."""
    rows = []
    for model, run in results.groupby("model", sort=False):
        run = run[run["item_id"].isin(dates.index)]
        date_rank = stats.rankdata(pd.to_datetime(dates.loc[run["item_id"]].to_numpy()))  # ties share their mean rank
        ease = (run["ppl_altered"] - run["ppl_original"]).to_numpy()
        enough = len(run) >= 10 and np.ptp(ease) > 0  # fewer items: no correlation worth printing (n/a)
        rho, p = stats.spearmanr(date_rank, ease) if enough else (np.nan, np.nan)
        later = date_rank > np.median(date_rank)
        rows.append(
            {
                "model": model,
                "n": len(run),
                "spearman_rho": float(rho),
                "p": float(p),
                "accuracy_earlier_half": float(run["correct"][~later].mean()),
                "accuracy_later_half": float(run["correct"][later].mean()),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def publication_date_points(results: pd.DataFrame, dates: pd.Series) -> pd.DataFrame:
    """Fig S8's points: per model and item, the item's publication date rank (early -> late, ties sharing their
    mean rank, as ``publication_date_correlation`` ranks them) and how easy the model found it (PPL_incorrect -
    PPL_correct)."""
    frames = []
    for model, run in results.groupby("model", sort=False):
        run = run[run["item_id"].isin(dates.index)]
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "item_id": run["item_id"].to_numpy(),
                    "date_rank": stats.rankdata(pd.to_datetime(dates.loc[run["item_id"]].to_numpy())),
                    "difficulty": (run["ppl_altered"] - run["ppl_original"]).to_numpy(),
                }
            )
        )
    columns = ["model", "item_id", "date_rank", "difficulty"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
