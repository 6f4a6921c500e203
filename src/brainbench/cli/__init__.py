"""The ``brainbench`` command: a thin typer layer over the library."""

from brainbench.cli import (  # noqa: F401  (each registers its command on app)
    analysis,
    author,
    corpus,
    explore,
    finetune,
    integrations,
    predict,
    published,
    run,
    store,
    study,
    summary,
    sweep,
    team,
    validate,
)
from brainbench.cli.app import app, main

__all__ = ["app", "main"]
