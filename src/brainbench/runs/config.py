"""What a run is asked to do (``RunConfig``), and the model part of it resolved once: every option checked, the
model's identity computed (its weights hashed) once and handed to the loader.

``RunConfig`` is built from the flags of ``brainbench run``, an entry of a sweep, or Python; ``plan_run``
(``brainbench.runs.plan``) resolves all of it. ``brainbench predict`` resolves only the model and its template.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainbench.errors import InputError
from brainbench.scoring import Template, backend_options, get_backend, model_identity, resolve_template
from brainbench.scoring.base import Scorer
from brainbench.scoring.choice import PROMPT_VERSION, Chooser, prompt_template_text
from brainbench.scoring.registry import ChoiceOptions, check_protocol, display_name


@dataclass(frozen=True)
class RunConfig:
    """Everything a run is asked to do: the options of ``brainbench run`` (a sweep entry gives the same)."""

    backend: str = "transformers"
    options: Mapping[str, Any] = field(default_factory=dict)  # the backend's options (model, dtype, device, ...)
    dataset: str | Path = "brainbench-human"
    data_dir: Path | None = None
    cache_dir: Path | None = None
    offline: bool = False
    texts: str = "released"
    template: str | None = None
    template_file: Path | None = None
    condition: str = "full"
    seed: int = 42
    protocol: str = "perplexity"
    items: str | None = None
    limit: int | None = None
    out: Path | None = None
    out_root: Path = Path("runs")  # where run directories go when ``out`` is not given
    name: str | None = None  # the run directory's model part (a sweep entry's name)
    store: str | Path | None = None
    shard: str | tuple[int, int] | None = None
    overwrite: bool = False


RunRequest = RunConfig  # the name before 0.9


@dataclass(frozen=True)
class ResolvedModel:
    """A backend and its checked options, and the model's identity: what a run records of it before it loads."""

    backend: str
    options: Mapping[str, Any]
    identity: Mapping[str, Any]

    @property
    def name(self) -> str:
        """How tables and run directories name the model."""
        return display_name(self.identity)

    def load(self, protocol: str = "perplexity") -> Scorer | Chooser:
        """Load the model for ``protocol`` (its identity is handed over, not computed again)."""
        spec = get_backend(self.backend)
        loader = spec.load_chooser if protocol == "choice" else spec.load_scorer
        return loader(identity=self.identity, **self.options)  # type: ignore[misc]


CHOICE_OPTIONS = tuple(option.name for option in dataclasses.fields(ChoiceOptions))
PERPLEXITY_ONLY = {"engine": "fast", "batch_size": None, "compile": "off", "n_ctx": 2048}


def resolve_model(
    backend: str,
    given: Mapping[str, Any],
    protocol: str = "perplexity",
    seed: int = 42,
    local_rank: int | None = None,
    *,
    offline: bool = False,
) -> ResolvedModel:
    """Check ``given`` (options named as flags: "--dtype") for ``backend`` under ``protocol`` and compute the model's
    identity once. ``local_rank``: the GPU of this process when a launcher started several. ``offline``: the model
    must be local (or in the Hugging Face cache): one that is not fails here, and loading it makes no request."""
    check_protocol(backend, protocol)
    options = protocol_options(protocol, backend_options(backend, "--", **given), seed)
    prepare = get_backend(backend).prepare
    if prepare is not None:
        options = prepare(options, local_rank, offline)
    return ResolvedModel(backend, options, model_identity(backend, **options))


def protocol_options(protocol: str, options: dict[str, Any], seed: int) -> dict[str, Any]:
    """The backend options a protocol uses: ``samples`` and ``retries`` only with the choice protocol (which also
    takes the run's seed), the engine's options only with the perplexity protocol; a misplaced one is an error."""
    if protocol == "choice":
        misplaced = [name for name, default in PERPLEXITY_ONLY.items() if options.get(name, default) != default]
        if misplaced:
            raise InputError(
                "--protocol",
                None,
                f"choice: {', '.join('--' + name.replace('_', '-') for name in misplaced)} "
                "are for the perplexity protocol",
            )
        samples = options.get("samples")
        if samples is not None and samples < 1:
            raise InputError("--samples", None, f"{samples}: give at least 1")
        return {name: value for name, value in options.items() if name not in PERPLEXITY_ONLY} | {"seed": seed}
    if options.get("samples") is not None or options.get("retries", 2) != 2:
        raise InputError("--samples", None, "--samples and --retries are for --protocol choice")
    return {name: value for name, value in options.items() if name not in CHOICE_OPTIONS}


def resolve_run_template(
    protocol: str,
    template: str | None,
    template_file: Path | None,
    model: ResolvedModel,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
) -> Template:
    """The prompt a run shows its model: the paper's template for it (perplexity), or the experts' question."""
    if template is not None and template_file is not None:
        raise InputError("--template", None, "give --template (a name) or --template-file (a file), not both")
    if protocol == "choice":
        if template is not None or template_file is not None:
            raise InputError(
                "--template",
                None,
                "the choice protocol asks the experts' question (no prompt template): leave --template out",
            )
        return Template(PROMPT_VERSION, prompt_template_text(), "protocol")
    return resolve_template(
        template,
        template_file,
        model.options.get("model"),
        adapter=model.options.get("adapter"),
        data_dir=data_dir,
        cache_dir=cache_dir,
        offline=offline,
    )
