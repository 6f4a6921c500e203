"""Does a Bayesian combination of expert and model beat the logistic one that `brainbench team` uses?

    pip install -e ".[bench]"          # numpyro (and jax)
    python benchmarks/bench_team_bayesian.py
    python benchmarks/bench_team_bayesian.py --warmup 200 --samples 200 --datasets human

The authors' follow-up (haico: Bayesian_HM_model.py, Pyro NUTS) models each member's latent score
per option, correlated between members, the human's choice as a softmax of their latent scores
(temperature 0.05) and their confidence (binned <=33, 34-66, >66) as an ordered outcome. With two
options only the difference of the two scores decides, so this script fits the two-option form:

    s = +1 if option B is the original, else -1
    model evidence   e = (log PPL_A - log PPL_B) / SD(train)  ~ Normal(s * mu_m, sigma_m)      observed
    expert's latent  z | e ~ Normal(s * mu_h + rho * (e - s * mu_m) / sigma_m, 1 - rho^2)      (scale 1)
    choice           B if z > 0 (the temperature -> 0 limit of the authors' softmax)
    confidence bin   0 if |z| < t1, 1 if t1 <= |z| < t2, 2 if |z| >= t2 (ordered thresholds)

z is integrated out in closed form (normal CDFs), so NUTS samples only six parameters; priors as the
authors' where they have one (mu ~ Normal(0, 10), sigma_m ~ Uniform(0, 15), rho ~ Uniform(-1, 1)),
t1, t2 - t1 ~ HalfNormal(3). A test trial's team choice is the option with posterior probability
> 0.5, averaged over the posterior draws. Both combinations see the same grouped 5-fold split by item
(brainbench.analysis.team.item_folds, seed 0); their difference gets an item-bootstrap 95% CI.
Writes benchmarks/results/bench_team_bayesian.json (settings, diagnostics, accuracies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

DATA_DIR = Path(
    os.environ.get("BRAINBENCH_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data" / "brainbench"
)
MODELS = ("mistralai--Mistral-7B-v0.1", "meta-llama--Llama-2-7b-hf")
DATASETS = {"human": ("brainbench-human", "human_abstracts"), "gpt4": ("brainbench-gpt4", "llm_abstracts")}
WARMUP, SAMPLES, CHAINS, SEED = 500, 500, 2, 0
BIG = 1e6  # stands in for infinity as the top bin's upper edge (inf would give NaN gradients)


def confidence_bin(rating: np.ndarray) -> np.ndarray:
    """The authors' three bins of a 0-100 rating: <= 33, 34-66, > 66."""
    return np.where(rating > 66, 2, np.where(rating <= 33, 0, 1))


def trial_log_likelihood(params, evidence, chose_b, confidence, sign):
    """log p(model evidence, expert's choice and confidence bin | truth sign), z integrated out."""
    import jax.numpy as jnp
    from jax.scipy.stats import norm

    mu_m, sigma_m, mu_h, rho, t1, t2 = params
    log_p_evidence = norm.logpdf(evidence, sign * mu_m, sigma_m)
    mean = sign * mu_h + rho * (evidence - sign * mu_m) / sigma_m
    sd = jnp.sqrt(1 - rho**2)
    low = jnp.where(confidence == 0, 0.0, jnp.where(confidence == 1, t1, t2))
    high = jnp.where(confidence == 0, t1, jnp.where(confidence == 1, t2, BIG))
    p_b = norm.cdf((high - mean) / sd) - norm.cdf((low - mean) / sd)
    p_a = norm.cdf((-low - mean) / sd) - norm.cdf((-high - mean) / sd)
    return log_p_evidence + jnp.log(jnp.clip(jnp.where(chose_b, p_b, p_a), 1e-300))


def model(evidence, chose_b, confidence, label):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    mu_m = numpyro.sample("mu_m", dist.Normal(0, 10))
    sigma_m = numpyro.sample("sigma_m", dist.Uniform(0, 15))
    mu_h = numpyro.sample("mu_h", dist.Normal(0, 10))
    rho = numpyro.sample("rho", dist.Uniform(-1, 1))
    t1 = numpyro.sample("t1", dist.HalfNormal(3))
    gap = numpyro.sample("gap", dist.HalfNormal(3))
    sign = 2 * label - 1
    numpyro.factor(
        "trials",
        jnp.sum(trial_log_likelihood((mu_m, sigma_m, mu_h, rho, t1, t1 + gap), evidence, chose_b, confidence, sign)),
    )


def fit_and_predict(
    train: dict, test: dict, warmup: int, samples: int, chains: int, seed: int
) -> tuple[np.ndarray, dict]:
    """Posterior probability that B is the original for each test trial, and the fit's diagnostics."""
    import jax
    from numpyro.diagnostics import summary
    from numpyro.infer import MCMC, NUTS

    mcmc = MCMC(
        NUTS(model),
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method="sequential",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(seed), train["evidence"], train["chose_b"], train["confidence"], train["label"])
    draws = mcmc.get_samples()
    stats = summary(mcmc.get_samples(group_by_chain=True))
    params = (
        *tuple(draws[name][:, None] for name in ("mu_m", "sigma_m", "mu_h", "rho", "t1")),
        (draws["t1"] + draws["gap"])[:, None],
    )
    args = (test["evidence"][None], test["chose_b"][None], test["confidence"][None])
    log_ratio = trial_log_likelihood(params, *args, 1.0) - trial_log_likelihood(params, *args, -1.0)
    diagnostics = {
        "divergences": int(mcmc.get_extra_fields()["diverging"].sum()),
        "max_r_hat": float(max(value["r_hat"] for value in stats.values())),
        "min_n_eff": float(min(value["n_eff"] for value in stats.values())),
        "posterior_mean": {name: float(value["mean"]) for name, value in stats.items()},
    }
    return np.asarray(jax.nn.sigmoid(log_ratio).mean(axis=0)), diagnostics


def compare(dataset_key: str, data_dir: Path, work: Path, args: argparse.Namespace) -> list[dict]:
    from brainbench.analysis import results_table, trials_of
    from brainbench.analysis.team import HUMAN, combine, item_bootstrap, item_folds, percentile_ci, team_trials
    from brainbench.data import load_dataset, load_human_study
    from brainbench.runs import load_run
    from brainbench.runs.published import import_published

    dataset_name, folder = DATASETS[dataset_key]
    dataset = load_dataset(dataset_name, data_dir=data_dir, offline=True)
    runs = {}
    for name in MODELS:
        out = work / dataset_key / name
        import_published(data_dir / "published_results" / name / folder, dataset, name, out)
        runs[name] = load_run(out)[1]
    data = team_trials(
        results_table(runs), trials_of(load_human_study(data_dir=data_dir, offline=True), dataset_key), SEED
    )
    label = data.trials["label"].to_numpy()
    items = data.trials["doi"].tolist()
    fold_of = item_folds(items, 5, SEED)
    fold = np.array([fold_of[item] for item in items])
    human_correct = data.correct[HUMAN].to_numpy()
    chose_b = np.where(human_correct, label == 1, label == 0)  # a rating of 0 carries no sign; the choice does
    confidence = confidence_bin(np.abs(data.evidence[HUMAN].to_numpy()))
    rows = []
    for name in MODELS:
        raw = data.evidence[name].to_numpy()
        probability = np.zeros(len(label))
        diagnostics = []
        started = time.perf_counter()
        for k in range(5):
            train, test = fold != k, fold == k
            columns = {"evidence": raw / raw[train].std(), "chose_b": chose_b, "confidence": confidence, "label": label}
            train_data, test_data = ({key: value[rows] for key, value in columns.items()} for rows in (train, test))
            probability[test], fold_diagnostics = fit_and_predict(
                train_data, test_data, args.warmup, args.samples, args.chains, SEED + k
            )
            diagnostics.append(fold_diagnostics)
        elapsed = time.perf_counter() - started
        bayesian = (probability > 0.5).astype(int) == label
        logistic = combine(data.evidence[[HUMAN, name]].to_numpy(), label, items, 5, SEED)[0] == label
        draws = item_bootstrap({"bayesian": bayesian, "logistic": logistic}, items, 2000, SEED)
        low, high = percentile_ci(draws["bayesian"] - draws["logistic"])
        rows.append(
            {
                "dataset": dataset_name,
                "model": name,
                "n_trials": len(label),
                "n_items": len(set(items)),
                "human_accuracy": float(human_correct.mean()),
                "model_accuracy": float(data.correct[name].mean()),
                "logistic_accuracy": float(logistic.mean()),
                "bayesian_accuracy": float(bayesian.mean()),
                "bayesian_minus_logistic": float(bayesian.mean() - logistic.mean()),
                "bayesian_minus_logistic_ci95": [low, high],
                "bayesian_fit_s": elapsed,
                "folds": diagnostics,
            }
        )
        print(
            f"{dataset_key:6s} {name:28s} human {human_correct.mean():.3f}  model {data.correct[name].mean():.3f}  "
            f"logistic {logistic.mean():.3f}  bayesian {bayesian.mean():.3f}  difference "
            f"{bayesian.mean() - logistic.mean():+.3f} "
            f"(95% CI {low:+.3f} to {high:+.3f})  max r_hat {max(d['max_r_hat'] for d in diagnostics):.3f}  "
            f"divergences {sum(d['divergences'] for d in diagnostics)}  {elapsed:.0f} s"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--datasets", default="human,gpt4")
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--chains", type=int, default=CHAINS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        rows = [row for key in args.datasets.split(",") for row in compare(key, args.data_dir, Path(work), args)]
    out = Path(__file__).resolve().parent / "results" / "bench_team_bayesian.json"
    settings = {
        "sampler": "numpyro NUTS",
        "num_warmup": args.warmup,
        "num_samples": args.samples,
        "num_chains": args.chains,
        "chain_method": "sequential",
        "seed": SEED,
        "folds": "grouped 5-fold by item, seed 0",
        "priors": "mu_m, mu_h ~ Normal(0, 10); sigma_m ~ Uniform(0, 15); rho ~ Uniform(-1, 1); t1, t2 - t1 ~ "
        "HalfNormal(3)",
    }
    machine = {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor()}
    packages = {name: version(name) for name in ("numpyro", "jax", "scikit-learn", "numpy")}
    out.write_text(
        json.dumps({"settings": settings, "machine": machine, "packages": packages, "results": rows}, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
