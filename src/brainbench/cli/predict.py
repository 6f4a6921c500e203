"""``brainbench predict``: a model's probability for each outcome of a planned study, with its track record on
brainbench-human (a run of the same model found in the results store, or given with --calibration)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from brainbench.analysis.track_record import track_record
from brainbench.cli.app import app, handle_errors, print_json, rule_option, stderr, stdout
from brainbench.cli.options import (
    AdapterOption,
    ApiKeyOption,
    BackendOption,
    BaseUrlOption,
    DataDirOption,
    DeviceOption,
    DtypeOption,
    GgufFileOption,
    JsonOption,
    ModelOption,
    OfflineOption,
    RevisionOption,
    StoreOption,
    TemplateFileOption,
    TemplateOption,
)
from brainbench.data.planned import PlannedStudy, load_study
from brainbench.errors import InputError, RunError
from brainbench.runs.config import resolve_model, resolve_run_template
from brainbench.runs.info import RunInfo
from brainbench.runs.plan import default_store
from brainbench.runs.predict import (
    CALIBRATION_DATASET,
    IDENTITY_FIELDS,
    Prediction,
    find_calibration_run,
    predict_outcomes,
    stored_run,
)
from brainbench.runs.records import with_decision
from brainbench.runs.rundir import load_run
from brainbench.runs.store import ResultsStore
from brainbench.scoring.rules import check_normalisation
from brainbench.settings import load_settings

CAVEAT = (
    "These probabilities say how this model ranks the outcomes against each other (a softmax of its scores for "
    "the texts), not calibrated odds: read them with the track record."
)


def calibration_command(
    options: dict[str, Any], backend: str, store: str | None, template: str | None, template_file: Path | None
) -> str:
    """The `brainbench run` command that makes the run a track record is read from: the same model and template."""
    words = ["brainbench", "run", "--dataset", CALIBRATION_DATASET]
    if backend != "transformers":
        words += ["--backend", backend]
    flags = {
        "--model": options.get("model"),
        "--gguf-file": options.get("gguf_file"),
        "--adapter": options.get("adapter"),
        "--revision": options.get("revision"),
        "--base-url": options.get("base_url"),
        "--template": template,
        "--template-file": template_file,
        "--store": store,
    }
    if options.get("dtype") not in (None, "auto"):
        flags["--dtype"] = options["dtype"]
    words += [word for flag, value in flags.items() if value is not None for word in (flag, str(value))]
    return shlex.join(words)


def read_track_record(
    calibration: Path | None, store: str | None, identity: dict[str, Any], normalisation: str
) -> tuple[RunInfo | None, list[dict[str, Any]], str]:
    """(run.json, records, where they came from) of the run that speaks for this model; (None, [], why not) if there is
    none."""
    if calibration is not None:
        info, records = load_run(calibration)
        if info.protocol != "perplexity":
            raise InputError(
                "--calibration",
                None,
                f"{calibration} is a run of the {info.protocol} protocol; a prediction's track record is the "
                "perplexity "
                "protocol's (the one it predicts with)",
            )
        if info.dataset != CALIBRATION_DATASET:
            raise InputError(
                "--calibration",
                None,
                f"{calibration} is a run on {info.dataset}; the track record is read from a run "
                f"on {CALIBRATION_DATASET}",
            )
        return info, [with_decision(record, normalisation) for record in records], str(calibration)
    location = store or default_store()
    try:
        results = ResultsStore(location, create=False)
    except RunError as error:
        return None, [], str(error)
    run_key = find_calibration_run(results, identity)
    if run_key is None:
        return None, [], f"the results store {results.display_url} holds no run of this model on {CALIBRATION_DATASET}"
    info, records = stored_run(results, run_key, normalisation)
    return info, records, f"{results.display_url}, run {run_key[:12]}"


def prediction_json(study: PlannedStudy, prediction: Prediction) -> dict[str, Any]:
    outcomes = [
        {"outcome": label, "text": text, "probability": p}
        for label, text, p in zip(study.labels, study.outcomes, prediction.probabilities)
    ]
    if study.numeric is not None:
        for outcome, number in zip(outcomes, study.numeric):
            outcome["numeric"] = number
    return {
        "outcomes": outcomes,
        "top": prediction.top,
        "confidence": prediction.confidence,
        "normalisation": prediction.normalisation,
        "distribution": None
        if prediction.distribution is None
        else {key: value for key, value in prediction.distribution.items() if key != "p"},
    }


def describe_track_record(record: dict[str, Any], source: str, confidence: float) -> str:
    low, high = record["accuracy_ci95"]
    chosen = record["bin"]
    bin_low, bin_high = chosen["accuracy_ci95"]
    where = (
        "its items"
        if record["n_bins"] == 1
        else f"its {chosen['n']} items with confidence {chosen['confidence_low']:.3f}-{chosen['confidence_high']:.3f} "
        f"(bin {chosen['index'] + 1} of {record['n_bins']}, mean {chosen['mean_confidence']:.3f})"
    )
    return (
        f"Track record ({source}, {record['n']} items of {CALIBRATION_DATASET}): right {100 * record['accuracy']:.1f}% "
        "of the time "
        f"(95% CI {100 * low:.1f}-{100 * high:.1f}%, chance 50%). At this prediction's confidence ({confidence:.3f}, "
        "the top outcome's "
        f"share against the runner-up), {where}: right {chosen['n_correct']}/{chosen['n']} = "
        f"{100 * chosen['accuracy']:.1f}% "
        f"(95% CI {100 * bin_low:.1f}-{100 * bin_high:.1f}%). Expected calibration error {record['ece']:.3f}."
    )


def print_prediction(study: PlannedStudy, prediction: Prediction, model_name: str) -> None:
    title = f"{model_name}: probability of each outcome" + (f" of {study.title!r}" if study.title else "")
    stdout.print(
        title + ("" if prediction.normalisation == "ppl" else f" (rule: {prediction.normalisation})"),
        highlight=False,
        soft_wrap=True,
    )
    table = Table()
    table.add_column("outcome", justify="left")
    table.add_column("probability", justify="right")
    for index, (label, p) in enumerate(zip(study.labels, prediction.probabilities)):
        table.add_row(("* " if index == prediction.top else "  ") + label, f"{100 * p:.1f}%")
    stdout.print(table)
    if prediction.distribution is not None:
        described = prediction.distribution
        unit = study.unit if study.unit in ("", "%") else f" {study.unit}"  # 35%, but 35 ms
        stdout.print(
            f"predicted mean {described['mean']:.4g}{unit} (SD {described['sd']:.3g}); central 50% interval "
            f"{described['interval_50'][0]:g}-{described['interval_50'][1]:g}{unit}, 80% interval "
            f"{described['interval_80'][0]:g}-{described['interval_80'][1]:g}{unit}",
            highlight=False,
        )


@app.command("predict", rich_help_panel="Analyses")
def predict_command(
    study: Path = typer.Argument(
        ..., help="The planned study: Markdown (## Background, ## Methods, ## Outcomes with a list), JSON or YAML."
    ),
    model: ModelOption = None,
    backend: BackendOption = "transformers",
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    gguf_file: GgufFileOption = None,
    adapter: AdapterOption = None,
    revision: RevisionOption = None,
    dtype: DtypeOption = "auto",
    device: DeviceOption = "auto",
    template: TemplateOption = None,
    template_file: TemplateFileOption = None,
    normalisation: str = rule_option(
        "The rule the probabilities come from: ppl (mean log-likelihood per token, the paper's), sum, bytes "
        "or self-certainty."
    ),
    calibration: Path | None = typer.Option(
        None,
        "--calibration",
        help="A run directory of this model on brainbench-human to read the track record from (default: found in the "
        "results store).",
    ),
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    offline: OfflineOption = None,
    as_json: JsonOption = False,
) -> None:
    """The model's probability for each candidate outcome of a planned study, and how far to trust it: the same model's
    accuracy on brainbench-human at the same confidence."""
    with handle_errors():
        settings = load_settings(data_dir=data_dir, offline=offline, store=store)
        check_normalisation(normalisation)
        planned = load_study(study)
        given = {
            "model": model,
            "gguf_file": gguf_file,
            "adapter": adapter,
            "revision": revision,
            "dtype": dtype,
            "device": device,
            "base_url": base_url,
            "api_key": api_key,
        }
        model_to_load = resolve_model(backend, given, offline=settings.offline)
        identity = model_to_load.identity
        chosen_template = resolve_run_template(
            "perplexity",
            template,
            template_file,
            model_to_load,
            data_dir=settings.data_dir,
            cache_dir=settings.cache_dir,
            offline=settings.offline,
        )
        info, records, source = read_track_record(calibration, settings.store, identity, normalisation)
        stderr.print(f"loading model {model_to_load.name} ({backend}) ...", highlight=False)
        scorer = model_to_load.load()
        prediction = predict_outcomes(planned, scorer, chosen_template, normalisation)
    scored = [record for record in records if record["status"] == "ok"]
    if info is not None and not scored:
        source += ", which has no scored item"
    record = (
        track_record([r["p_chosen"] for r in scored], [r["correct"] for r in scored], prediction.confidence)
        if scored
        else None
    )
    notes = []
    if info is not None and any(getattr(info.spec, name) != identity.get(name) for name in IDENTITY_FIELDS):
        notes.append(f"the calibration run is of {info.model}, not of this model")
    if info is not None and info.spec.template != chosen_template.name:
        notes.append(
            f"the calibration run used the template {info.spec.template}, this prediction {chosen_template.name}"
        )
    command = calibration_command(given, backend, settings.store, template, template_file)
    if as_json:
        payload = {
            "study": str(study),
            "title": planned.title,
            "model": scorer.name,
            "template": chosen_template.name,
            **prediction_json(planned, prediction),
            "caveat": CAVEAT,
            "notes": notes,
            "track_record": None
            if record is None
            else {**record, "source": source, "run_key": info.run_key if info else None},
        }
        if record is None:
            payload["no_track_record"] = {"reason": source, "command": command}
        print_json(payload)
        return
    print_prediction(planned, prediction, scorer.name)
    if record is not None:
        stdout.print(describe_track_record(record, source, prediction.confidence), highlight=False, soft_wrap=True)
    else:
        stdout.print(
            f"No track record: {source}, so nothing says how far to trust these probabilities. Make one (it scores the "
            f"200 items of {CALIBRATION_DATASET} once), then predict again:\n  {command}",
            highlight=False,
            soft_wrap=True,
        )
    for note in notes:
        stdout.print(f"note: {note}", highlight=False)
    stdout.print(CAVEAT, highlight=False, soft_wrap=True)
