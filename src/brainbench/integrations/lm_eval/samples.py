"""lm-eval's ``--log_samples`` output of the brainbench tasks -> normal run directories.

lm-eval writes, per model, ``samples_<task>_<date>.jsonl`` (one line per document: the document, the
requests' arguments, the log-likelihoods) and ``results_<date>.json`` (the model's arguments, versions).
Each brainbench document carries what a record needs (item, the order shown, token and byte counts,
dataset and template), so a run directory is rebuilt from the samples alone, as
``brainbench.runs.published`` does for the paper's arrays: ``brainbench summary``, ``compare``,
``report`` and ``team`` then work on it. A sample whose requests are not the document's (a chat
template, a system instruction or few-shot examples changed the prompt) is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainbench.errors import InputError
from brainbench.integrations.lm_eval.metrics import option_scores
from brainbench.io import iter_jsonl
from brainbench.runs.records import scored_record
from brainbench.runs.rundir import RunInfo, write_run_dir
from brainbench.runs.spec import RunSpec
from brainbench.runs.store import RunCase, text_key

SAMPLES_NAME = re.compile(r"samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
DOCUMENT_KEYS = (
    "item_id",
    "shown",
    "context",
    "continuations",
    "n_tokens",
    "n_bytes",
    "dataset",
    "dataset_sha256",
    "template",
    "template_sha256",
    "texts",
    "seed",
)
RUN_KEYS = (
    "dataset",
    "dataset_sha256",
    "texts",
    "template",
    "template_sha256",
    "seed",
)  # the same in every document of a run


@dataclass(frozen=True, slots=True)
class SamplesFile:
    """One task's samples, and the results file lm-eval wrote with them (None where it is missing)."""

    task: str
    path: Path
    results: Path | None


def find_samples(samples_dir: Path) -> dict[str, SamplesFile]:
    """The newest samples file of each brainbench task under ``samples_dir`` (lm-eval's ``--output_path``
    or the model's folder in it), by task name."""
    samples_dir = Path(samples_dir)
    if samples_dir.is_file():
        files = [samples_dir]
    elif samples_dir.is_dir():
        files = sorted(samples_dir.rglob("samples_*.jsonl"))
    else:
        raise InputError(samples_dir, None, "no such file or folder")
    found: dict[str, SamplesFile] = {}
    for path in sorted(files, key=lambda path: path.name):  # dates sort as text: the newest comes last
        match = SAMPLES_NAME.search(path.name)
        if match is None or not is_brainbench_samples(path):
            continue
        results = path.with_name(f"results_{match['date']}.json")
        found[match["task"]] = SamplesFile(match["task"], path, results if results.is_file() else None)
    if not found:
        raise InputError(
            samples_dir,
            None,
            "no samples of a brainbench task here: run lm_eval with --include_path "
            "(brainbench tasks --path) --tasks brainbench_human --log_samples",
        )
    return found


def is_brainbench_samples(path: Path) -> bool:
    """Whether a samples file's first document is a brainbench task's."""
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    try:
        document = json.loads(first).get("doc", {})
    except (json.JSONDecodeError, AttributeError):
        return False
    return isinstance(document, dict) and all(key in document for key in DOCUMENT_KEYS)


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The samples of one file, each checked: a brainbench document, and requests that are the document's own."""
    samples = []
    for line_number, sample in iter_jsonl(path, what="lm-eval samples file"):
        check_sample(sample, path, line_number)
        samples.append(sample)
    if not samples:
        raise InputError(path, None, "no samples")
    return samples


def check_sample(sample: Mapping[str, Any], path: Path, line: int) -> None:
    document = sample.get("doc")
    missing = [key for key in DOCUMENT_KEYS if not isinstance(document, dict) or key not in document]
    if missing:
        raise InputError(path, line, f"not a brainbench task's sample (its document lacks {', '.join(missing)})")
    expected = [[document["context"], continuation] for continuation in document["continuations"]]
    if request_arguments(sample) != expected:
        raise InputError(
            path,
            line,
            "lm-eval scored other texts than the task's requests (a chat template, a system "
            "instruction or few-shot examples?): these are not the paper's prompts",
        )
    if len(sample.get("filtered_resps") or ()) != len(expected):
        raise InputError(
            path, line, f"{len(sample.get('filtered_resps') or ())} responses for {len(expected)} versions"
        )


def request_arguments(sample: Mapping[str, Any]) -> list[list[str]]:
    """[[context, continuation], ...] of a sample, as lm-eval logs them (``{"gen_args_0": {"arg_0": ..., "arg_1":
    ...}}``
    or a plain list)."""
    arguments = sample.get("arguments")
    if isinstance(arguments, dict):
        arguments = [arguments[key] for key in sorted(arguments, key=lambda key: int(key.rsplit("_", 1)[-1]))]
    return [list(argument.values()) if isinstance(argument, dict) else list(argument) for argument in arguments or ()]


def sample_record(sample: Mapping[str, Any]) -> dict[str, Any]:
    """brainbench's record of one sample (its decision under the paper's rule)."""
    document = sample["doc"]
    logliks = [float(response[0]) for response in sample["filtered_resps"]]
    shown = tuple(document["shown"])
    texts_by_version = [""] * len(shown)
    for position, version in enumerate(shown):
        texts_by_version[version] = document["context"] + document["continuations"][position]
    case = RunCase(
        document["item_id"],
        document.get("doi"),
        document.get("subfield"),
        document.get("source"),
        tuple(text_key(text) for text in texts_by_version),
        shown,
    )
    return scored_record(case, option_scores(document, logliks), None)


def read_results(path: Path) -> dict[str, Any]:
    """lm-eval's results file (the model's arguments and the library versions)."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(path, error.lineno, f"not JSON ({error.msg})") from error
    return results if isinstance(results, dict) else {}


def model_arguments(results: Mapping[str, Any]) -> dict[str, Any]:
    """The model's arguments from an lm-eval results file (a dict, or the ``k=v,k=v`` string of older versions)."""
    arguments = (results.get("config") or {}).get("model_args") or {}
    if isinstance(arguments, str):
        arguments = dict(pair.split("=", 1) for pair in arguments.split(",") if "=" in pair)
    return dict(arguments)


def default_model_name(arguments: Mapping[str, Any]) -> str:
    """How tables name an imported model: its GGUF file, else lm-eval's pretrained= or model=."""
    if arguments.get("gguf_file"):
        return Path(str(arguments["gguf_file"])).name.removesuffix(".gguf")
    return str(arguments.get("pretrained") or arguments.get("model") or "lm-eval model")


def run_fields(samples: Sequence[Mapping[str, Any]], path: Path) -> dict[str, Any]:
    """What every document of a run shares (dataset, template, seed), checked to be the same throughout."""
    first = samples[0]["doc"]
    for line, sample in enumerate(samples, 1):
        different = [key for key in RUN_KEYS if sample["doc"][key] != first[key]]
        if different:
            raise InputError(
                path, line, f"{', '.join(different)} differ from the first sample's: one run per samples file"
            )
    return {key: first[key] for key in RUN_KEYS}


def import_lm_eval_samples(
    samples: SamplesFile, out_dir: Path, *, model: str | None = None, overwrite: bool = False
) -> dict[str, Any]:
    """Write one run directory from a brainbench task's lm-eval samples; return its summary."""
    loaded = read_samples(samples.path)
    shared = run_fields(loaded, samples.path)
    records = sorted((sample_record(sample) for sample in loaded), key=lambda record: record["item_id"])
    item_ids = [record["item_id"] for record in records]
    if len(set(item_ids)) != len(item_ids):
        raise InputError(samples.path, None, "an item appears twice")
    results = read_results(samples.results) if samples.results else {}
    arguments = model_arguments(results)
    spec = RunSpec(
        backend="lm-eval",
        model=str(arguments.get("pretrained") or arguments.get("model") or model or "unknown"),
        gguf_file=arguments.get("gguf_file"),
        revision=arguments.get("revision"),
        dtype=None if arguments.get("dtype") is None else str(arguments["dtype"]),
        template=shared["template"],
        template_sha256=shared["template_sha256"],
        dataset=shared["dataset"],
        dataset_sha256=shared["dataset_sha256"],
        texts=shared["texts"],
        seed=shared["seed"],
    )
    info = RunInfo.build(
        spec,
        model=model or default_model_name(arguments),
        scorer={
            "backend": "lm-eval",
            "model": spec.model,
            "lm_eval": results.get("lm_eval_version"),
            "lm_eval_model": (results.get("config") or {}).get("model"),
            "model_args": arguments,
            "transformers": results.get("transformers_version"),
            "task": samples.task,
            "source": str(samples.path.resolve()),
        },
        n_requested=len(records),
    )
    summary = write_run_dir(Path(out_dir), info, records, overwrite=overwrite)
    assert summary is not None
    return summary
