"""Exception types shared by every stage (stdlib only, importable from anywhere)."""

from __future__ import annotations

from pathlib import Path


class BrainbenchError(Exception):
    """Root of every error brainbench raises on purpose; the CLI prints it as one line."""


class InputError(BrainbenchError, ValueError):
    """A problem in an input file, rendered as ``path:line: reason``."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class InputErrors(BrainbenchError, ValueError):
    """Several problems found in one file: raised once, listing the first 20 and the total."""

    def __init__(self, problems: list[str], shown: int = 20) -> None:
        self.problems = problems
        lines = problems[:shown]
        more = len(problems) - len(lines)
        summary = f"{len(problems)} problem(s):\n  " + "\n  ".join(lines)
        if more:
            summary += f"\n  ... and {more} more"
        super().__init__(summary)


class DatasetNotFoundError(BrainbenchError, FileNotFoundError):
    """A dataset name or path that cannot be resolved."""


class ChecksumError(BrainbenchError):
    """A downloaded or mirrored file whose sha256 does not match the catalogue."""


class BackendError(BrainbenchError):
    """A scoring backend could not load a model or score a text."""


class ContextLengthError(BackendError):
    """A text is longer than the model's context window."""


class MissingDependencyError(BrainbenchError, ImportError):
    """An optional dependency is needed for the requested feature."""


class RunError(BrainbenchError):
    """A run directory that cannot be written or resumed."""


class StoreUnavailableError(RunError):
    """A database (the results store) that stopped answering during a command and did not come back in time."""


class AnalysisError(BrainbenchError, ValueError):
    """Inputs that an analysis cannot work with (e.g. runs and trials with no item in common)."""
