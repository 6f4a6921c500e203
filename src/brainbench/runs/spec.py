"""What a run is: one spec, one key. Everything that changes the scores or the decisions is in the spec;
how the work is done (engine, device, batch size, shards, the items asked for) is not.

Two runs with the same spec are the same run: they share a run key, a run in the results store and
a run directory. ``brainbench run``, sweeps and ``import-published`` all build their spec here.
The rule that turns scores into decisions (``--normalisation``) is not part of it either: it is
applied when results are read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from brainbench.data import Dataset, TestCase
from brainbench.scoring import Template


class RunSpec(BaseModel):
    """The identity of a run. The model fields come from ``brainbench.scoring.model_identity``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str
    model: str | None  # a hub id, local path, GGUF file or served name; None: the embedded model
    gguf_file: str | None = None
    revision: str | None = None
    weights: str | None = None  # a quick hash of local weights (None for hub ids and servers)
    adapter: str | None = None
    adapter_weights: str | None = None
    dtype: str | None = None  # None where a server decides
    template: str | None  # the template's name (None: unknown, as for published results of other models)
    template_sha256: str | None
    dataset: str
    dataset_sha256: str
    texts: str = "released"
    condition: str = "full"
    seed: int | None = 42  # None: an order that no seed gives (published labels that do not follow the paper's rule)
    protocol: str = "perplexity"
    samples: int | None = None  # the choice protocol's confidence from this many answers (None: from log-probabilities)

    @classmethod
    def build(
        cls,
        identity: Mapping[str, Any],
        template: Template | None,
        dataset: Dataset,
        *,
        condition: str = "full",
        seed: int | None = 42,
        protocol: str = "perplexity",
        samples: int | None = None,
    ) -> RunSpec:
        """The spec of running a model (its ``identity``) with ``template`` on ``dataset`` under ``condition``."""
        return cls(
            **identity,
            template=template.name if template else None,
            template_sha256=template.sha256 if template else None,
            dataset=dataset.name,
            dataset_sha256=dataset.sha256,
            texts=dataset.texts,
            condition=condition,
            seed=seed,
            protocol=protocol,
            samples=samples,
        )

    @property
    def run_key(self) -> str:
        """sha256 of the spec's canonical JSON."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode("utf-8")).hexdigest()

    def differences(self, other: RunSpec) -> list[str]:
        """The fields in which two specs differ."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [name for name in mine if mine[name] != theirs[name]]


def ab_labels(item_ids: Iterable[int], seed: int = 42) -> dict[int, int]:
    """The paper's A/B order: seed numpy, one ``rand()`` per row in file order; > 0.5 puts the altered text at A.

    Returns ``{item_id: label}`` with label 1 when the altered version is A (the paper's ``labels.npy``).
    """
    item_ids = list(item_ids)
    if not item_ids:
        return {}
    draws = np.random.RandomState(seed).rand(max(item_ids) + 1)  # same stream as np.random.seed(seed); rand()
    return {item_id: int(draws[item_id] > 0.5) for item_id in item_ids}


def presentation_orders(
    cases: Iterable[TestCase], seed: int = 42, labels: Mapping[int, int] | None = None
) -> dict[int, tuple[int, ...]]:
    """In which order each case's versions are shown: ``order[k]`` is the version at position k (A, B, ...),
    version 0 being the real one. Pairs follow the paper's A/B rule (``ab_labels``, or ``labels`` where a
    condition drew its own); a case with N > 2 versions gets a permutation drawn from ``(seed, item_id)``."""
    cases = list(cases)
    pair_labels = (
        dict(labels) if labels is not None else ab_labels([case.item_id for case in cases if case.n_options == 2], seed)
    )
    orders = {}
    for case in cases:
        if case.n_options == 2:
            orders[case.item_id] = (1, 0) if pair_labels[case.item_id] else (0, 1)
        else:
            orders[case.item_id] = tuple(
                int(i) for i in np.random.default_rng([seed, case.item_id]).permutation(case.n_options)
            )
    return orders
