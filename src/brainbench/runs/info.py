"""run.json's content (``RunInfo``): the run's spec once, and what a reader needs besides. Written only by
``brainbench.runs.rundir.write_run_dir``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from brainbench._version import __version__
from brainbench.runs.spec import RunSpec

RUN_SCHEMA = 3
# Fields of run.json schema 2 that repeated the spec's (or were derived from it).
_SCHEMA_2_COPIES = (
    "dataset",
    "dataset_sha256",
    "texts",
    "template",
    "template_sha256",
    "seed",
    "condition",
    "protocol",
)


class RunInfo(BaseModel):
    """run.json: what was run (``spec``, whose hash is ``run_key``), by what, from where, and how much was asked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = RUN_SCHEMA
    brainbench: str = __version__  # the version that wrote it
    run_key: str
    spec: RunSpec
    model: str  # how tables name the model
    scorer: dict[str, Any]  # what the backend says of itself, or where imported results came from
    scorer_key: str | None = None  # the results store's key of the scorer (None: not in a store)
    n_requested: int  # the items the run asked for (fewer records: partial)
    items: list[int] | None = None  # their ids, where the run asked for some of its dataset's cases
    dataset_path: str | None = None
    template_chosen_by: str | None = None  # why this template: the user, the model's name, the protocol
    template_text: str | None = None
    started_at: str | None = None
    store: str | None = None  # the results store that holds its scores
    out: str | None = None  # where the run directory was written

    @classmethod
    def build(cls, spec: RunSpec, **fields: Any) -> RunInfo:
        return cls(run_key=spec.run_key, spec=spec, **fields)

    @classmethod
    def upgrade(cls, raw: dict[str, Any]) -> RunInfo:
        """A run.json of any schema this version reads (schema 2 repeated the spec's fields at its top level)."""
        if raw.get("schema_version") == 2:
            raw = {key: value for key, value in raw.items() if key not in _SCHEMA_2_COPIES} | {"schema_version": 3}
        return cls.model_validate(raw)

    # The spec's fields readers ask for most.
    @property
    def dataset(self) -> str:
        return self.spec.dataset

    @property
    def protocol(self) -> str:
        return self.spec.protocol

    @property
    def condition(self) -> str:
        return self.spec.condition

    @property
    def seed(self) -> int | None:
        return self.spec.seed

    @property
    def backend(self) -> str:
        return str(self.scorer.get("backend", self.spec.backend))

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
