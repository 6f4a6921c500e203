"""Planning a run: every option checked and every name resolved before a model loads.

``plan_run`` turns what a user asked for (``RunConfig``: the flags of ``brainbench run``, an entry of a
sweep) into a ``RunPlan``: the dataset under its condition, the items, the order their versions are
shown in, the template, the run's spec and key, where it is written and stored. A mistake in any of
them costs seconds, never a model load. ``brainbench run``, sweeps and the library's
``run_benchmark`` all run a plan with ``execute_run``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from brainbench.data import Dataset, TestCase, load_dataset
from brainbench.data.conditions import CONDITIONS, apply_condition
from brainbench.db import utc_now
from brainbench.errors import InputError, RunError
from brainbench.runs.config import ResolvedModel, RunConfig, resolve_model, resolve_run_template
from brainbench.runs.info import RunInfo
from brainbench.runs.rundir import check_run_dir, claim_run_dir, release_run_dir
from brainbench.runs.spec import RunSpec, presentation_orders
from brainbench.runs.store import STORE_FILE, ResultsStore, RunCase, text_key
from brainbench.scoring import Scorer, Template
from brainbench.scoring.choice import Chooser, messages, prompt_key
from brainbench.scoring.devices import resolve_compile
from brainbench.scoring.registry import PROTOCOLS


@dataclass(frozen=True)
class RunPlan:
    """A run ready to execute: what is scored, how it is shown, where it goes."""

    spec: RunSpec
    dataset: Dataset  # under the run's condition
    cases: tuple[TestCase, ...]  # the items asked for, in item order
    shown: Mapping[int, tuple[int, ...]]  # item id -> the version at each position (A, B, ...)
    template: Template
    out_dir: Path
    store: ResultsStore
    shard: tuple[int, int] | None = None  # (i, n): score only the items whose id is i modulo n
    overwrite: bool = False
    model_name: str = ""  # how tables name the model
    model: ResolvedModel | None = None  # None where the caller loaded the model itself (``run_benchmark``)

    @property
    def run_key(self) -> str:
        return self.spec.run_key

    def load_model(self) -> Scorer | Chooser:
        """Load the plan's model for its protocol."""
        if self.model is None:
            raise RunError("this plan was made for a model loaded already")
        return self.model.load(self.spec.protocol)

    def texts(self, case: TestCase) -> tuple[str, ...]:
        """What is scored of a case. Perplexity: its versions' prompts, the real one first (the template applied).
        Choice: the question asked in each order (``orders``), as canonical chat JSON."""
        if self.spec.protocol == "choice":
            return tuple(
                prompt_key(messages([case.options[version] for version in order])) for order in self.orders(case)
            )
        return tuple(self.template.apply(option) for option in case.options)

    def orders(self, case: TestCase) -> tuple[tuple[int, ...], ...]:
        """The orders a case's versions are shown in: the drawn one, and for the choice protocol also its reverse
        (a model's position bias then cancels out)."""
        shown = self.shown[case.item_id]
        return (shown, tuple(reversed(shown))) if self.spec.protocol == "choice" else (shown,)

    def claim(self) -> None:
        """Claim the run directory before the model loads (``runs.rundir.claim_run_dir``): a different run started
        into the same --out at the same time is then refused at once, not after its model has loaded."""
        claim_run_dir(self.out_dir, self.provisional_info(), overwrite=self.overwrite)

    def release(self) -> None:
        """Give the run directory back when the model did not load (nothing was scored)."""
        release_run_dir(self.out_dir, self.run_key)

    def provisional_info(self) -> RunInfo:
        """run.json while the model loads: the spec and key, the model's identity in place of what its scorer says."""
        return RunInfo.build(
            self.spec,
            model=self.model_name,
            scorer=dict(self.model.identity) if self.model is not None else {"backend": self.spec.backend},
            n_requested=len(self.cases),
            items=[case.item_id for case in self.cases],
            dataset_path=str(self.dataset.path),
            template_chosen_by=self.template.chosen_by,
            template_text=self.template.text,
            started_at=utc_now(),
            store=self.store.display_url,
            out=str(self.out_dir.absolute()),
        )

    def in_shard(self, case: TestCase) -> bool:
        return self.shard is None or case.item_id % self.shard[1] == self.shard[0]

    def run_cases(self) -> list[RunCase]:
        return [
            RunCase(
                case.item_id,
                case.doi,
                case.subfield,
                case.source,
                tuple(map(text_key, self.texts(case))),
                self.shown[case.item_id],
                grid=case.grid.to_json() if case.grid else None,
            )
            for case in self.cases
        ]


def plan_run(config: RunConfig, *, environ: Mapping[str, str] | None = None) -> RunPlan:
    """Check every option of ``config`` and resolve it into a plan, loading no model. ``environ`` (e.g.
    ``os.environ``) tells whether a launcher (accelerate, torchrun) started this process as one of
    several: each then scores its own shard on its own GPU."""
    check_choice(config)
    shard = launched_shard(parse_shard(config.shard), environ)
    local_rank = launcher_shard(environ)[1] if environ is not None else None
    model = resolve_model(
        config.backend, config.options, config.protocol, config.seed, local_rank, offline=config.offline
    )
    full = load_dataset(
        config.dataset,
        data_dir=config.data_dir,
        cache_dir=config.cache_dir,
        offline=config.offline,
        texts=config.texts,  # type: ignore[arg-type]
    )
    dataset, labels = apply_condition(full, config.condition, config.seed)
    cases = select_cases(dataset, config.items, config.limit)
    if config.protocol == "perplexity" and "compile" in model.options:
        compile_now = resolve_compile(model.options["compile"], model.options["device"], len(cases))
        model = replace(model, options={**model.options, "compile": compile_now})
    template = resolve_run_template(
        config.protocol,
        config.template,
        config.template_file,
        model,
        data_dir=config.data_dir,
        cache_dir=config.cache_dir,
        offline=config.offline,
    )
    spec = RunSpec.build(
        model.identity,
        template,
        dataset,
        condition=config.condition,
        seed=config.seed,
        protocol=config.protocol,
        samples=model.options.get("samples"),
    )
    out_dir = config.out or config.out_root / run_dir_name(
        config.name or model.name,
        dataset.name,
        "transformers" if config.name else config.backend,
        config.condition,
        config.seed,
        config.protocol,
    )
    plan = RunPlan(
        spec=spec,
        dataset=dataset,
        cases=tuple(cases),
        shown=presentation_orders(dataset.cases, config.seed, labels),
        template=template,
        out_dir=Path(out_dir),
        store=ResultsStore(config.store or default_store()),
        shard=shard,
        overwrite=config.overwrite,
        model_name=model.name,
        model=model,
    )
    check_out_dir(plan)
    return plan


def check_choice(config: RunConfig) -> None:
    """The options of ``config`` that are one of a few names, checked first (a typo costs nothing)."""
    if config.texts not in ("released", "reparsed"):
        raise InputError("--texts", None, f"{config.texts!r}: choose released or reparsed")
    if config.condition not in CONDITIONS:
        raise InputError("--condition", None, f"{config.condition!r}: choose {', '.join(CONDITIONS)}")
    if config.protocol not in PROTOCOLS:
        raise InputError("--protocol", None, f"{config.protocol!r}: choose {', '.join(PROTOCOLS)}")
    if config.limit is not None and config.limit < 1:
        raise InputError("--limit", None, f"{config.limit}: give at least 1")
    if not 0 <= config.seed < 2**32:
        raise InputError("--seed", None, f"{config.seed}: a seed is a whole number from 0 to 2**32 - 1 (numpy's)")


def default_store() -> Path:
    """The results store every command uses unless told otherwise: one per user."""
    import platformdirs

    return Path(platformdirs.user_data_dir("brainbench")) / STORE_FILE


def parse_items(spec: str) -> list[int]:
    """'0,5,10-12' -> [0, 5, 10, 11, 12]."""
    items: list[int] = []
    parts = [piece.strip() for piece in spec.split(",")]
    if not any(parts):
        raise InputError("--items", None, "empty: give item ids like 0,5,10-20 (or leave --items out for all)")
    for part in filter(None, parts):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise InputError("--items", None, f"{part!r} is not an item id or a range like 10-20")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise InputError("--items", None, f"{part!r} runs backwards: write {last}-{first}")
        items.extend(range(first, last + 1))
    return items


def select_cases(dataset: Dataset, items: str | None, limit: int | None) -> list[TestCase]:
    """The cases asked for: ``items`` (ids and ranges), else all; then the first ``limit`` of them."""
    cases = list(dataset.cases)
    if items is not None:
        wanted = parse_items(items)
        by_id = {case.item_id: case for case in cases}
        unknown = [item for item in wanted if item not in by_id]
        if unknown:
            raise InputError(
                "--items", None, f"no item(s) {unknown[:10]} in {dataset.name} (ids {min(by_id)}-{max(by_id)})"
            )
        cases = [by_id[item] for item in dict.fromkeys(wanted)]
    return cases[:limit] if limit is not None else cases


def parse_shard(spec: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """'1/4' -> (1, 4)."""
    if spec is None or isinstance(spec, tuple):
        return spec
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise InputError("--shard", None, f"{spec!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def launcher_shard(environ: Mapping[str, str]) -> tuple[tuple[int, int] | None, int | None]:
    """(shard, local rank) of a process that ``accelerate launch`` or ``torchrun`` started as one of several."""
    world = int(environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None, None
    return (int(environ.get("RANK", "0")), world), int(environ.get("LOCAL_RANK", "0"))


def launched_shard(given: tuple[int, int] | None, environ: Mapping[str, str] | None) -> tuple[int, int] | None:
    """The shard this process scores: ``--shard`` (``given``), else the launcher's (``RANK`` of ``WORLD_SIZE``). Both
    given, they must agree: two ranks told the same --shard would score it twice and leave the rest unscored."""
    launched = launcher_shard(environ)[0] if environ is not None else None
    if given is not None and launched is not None and given != launched:
        raise InputError(
            "--shard",
            None,
            f"{given[0]}/{given[1]}: this process is rank {launched[0]} of {launched[1]} under a launcher (RANK, "
            f"WORLD_SIZE), whose shard is {launched[0]}/{launched[1]}; leave --shard out: each process takes its own",
        )
    return given or launched


def run_dir_name(
    model_name: str,
    dataset_name: str,
    backend: str = "transformers",
    condition: str = "full",
    seed: int | None = 42,
    protocol: str = "perplexity",
) -> str:
    """``<model>__<dataset>``, with ``--<backend>`` after the model for other backends than transformers,
    ``__<condition>`` after the dataset for other conditions than full (``__swapped-seed<seed>``) and ``__choice``
    for the choice protocol (so that both protocols' runs of a model have their own directory)."""
    model = Path(model_name).name if model_name.endswith(".gguf") else model_name
    if backend != "transformers":
        model += f"--{backend}"
    suffix = "" if condition == "full" else f"__{condition}" + (f"-seed{seed}" if condition == "swapped" else "")
    suffix += "__choice" if protocol == "choice" else ""
    return re.sub(r"[^A-Za-z0-9._+-]+", "--", model) + f"__{dataset_name}{suffix}"


def check_out_dir(plan: RunPlan) -> None:
    """The plan's run directory: free, or this run's own (resumed), or replaced with --overwrite."""
    check_run_dir(plan.out_dir, plan.spec, plan.overwrite)
