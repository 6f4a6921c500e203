"""The typer app, shared console and error handling; one module per command group registers on it."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from typer.core import TyperGroup

from brainbench._version import __version__
from brainbench.errors import BrainbenchError

# The groups `brainbench --help` lists commands in; each command names its group (``rich_help_panel``).
HELP_GROUPS = ("Run and results", "Analyses", "Human study", "New test cases", "Training", "Integrations")


# Spellings of one option: given more than once, click would keep the last silently.
OPTION_ALIASES = (("--normalisation", "--score"),)


class GroupedCommands(TyperGroup):
    """Plain help whose commands are listed by group, in ``HELP_GROUPS``' order, rather than as they were imported;
    an option given twice under its aliases is refused."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        for aliases in OPTION_ALIASES:
            given = [arg.split("=", 1)[0] for arg in args if arg.split("=", 1)[0] in aliases]
            if len(given) > 1:
                raise typer.BadParameter(f"{' and '.join(given)}: one option ({' or '.join(aliases)}); give it once")
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        group = {name: getattr(self.commands[name], "rich_help_panel", None) for name in names}
        order = {panel: index for index, panel in enumerate(HELP_GROUPS)}
        return sorted(names, key=lambda name: order.get(group[name], len(order)))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        width = formatter.width - 6 - max(map(len, self.list_commands(ctx)), default=0)
        for panel in (*HELP_GROUPS, None):
            rows = [
                (name, command.get_short_help_str(width))
                for name in self.list_commands(ctx)
                if (command := self.commands[name]) is not None
                and not command.hidden
                and getattr(command, "rich_help_panel", None) == panel
            ]
            if rows:
                with formatter.section(panel or "Other commands"):
                    formatter.write_dl(rows)


app = typer.Typer(
    cls=GroupedCommands,
    name="brainbench",
    help="Forward-looking 'predict the result' benchmarks of language models (BrainBench).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: option texts wrap in full instead of being cut at 80 columns
    context_settings={"max_content_width": 120, "help_option_names": ["-h", "--help"]},
)
# Results only; when piped, wide enough that tables keep whole names (a terminal sets its own width).
stdout = Console(width=None if sys.stdout.isatty() else 240)
stderr = Console(stderr=True)  # status, progress, logs, errors
_state = {"debug": False}


RULE_HELP = (
    "The decision rule: ppl (the paper's: lower perplexity), sum (higher total log-likelihood), bytes (higher "
    "log-likelihood per byte) or self-certainty (higher mean KL of the next-token distribution from uniform; "
    "transformers runs). From the stored scores; nothing is scored again."
)


def rule_option(help: str = RULE_HELP) -> Any:
    """The --normalisation (alias --score) option of every command that derives decisions from stored scores."""
    return typer.Option("ppl", "--normalisation", "--score", help=help)


def allow_partial_option() -> Any:
    return typer.Option(
        False,
        "--allow-partial",
        help="Use runs that hold fewer items than they were asked for (interrupted ones) as they are.",
    )


def _version(value: bool) -> None:
    if value:
        stdout.print(f"brainbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show progress messages from the library."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug
    if not sys.stderr.isatty():  # library progress bars (tqdm: loading GGUF files) would flood a log file
        os.environ.setdefault("TQDM_DISABLE", "1")
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(message)s", handlers=[RichHandler(console=stderr, show_path=False)], force=True
    )
    logging.getLogger("brainbench").setLevel(level)


@contextmanager
def handle_errors() -> Iterator[None]:
    """A BrainbenchError becomes one red line on stderr and exit code 1 (the traceback only with --debug)."""
    try:
        yield
    except BrainbenchError as error:
        _fail(str(error))
    except OSError as error:  # a file or folder a command reads or writes, named with the system's reason
        _fail(describe_os_error(error))


def print_json(payload: object) -> None:
    """``payload`` as JSON on stdout: NaN and infinities (no JSON number) as null, other objects as text."""
    stdout.print_json(json.dumps(_finite(payload), default=str, allow_nan=False))


def _finite(value: object) -> object:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # a numpy scalar: as the Python number
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def describe_os_error(error: OSError) -> str:
    """'PATH: reason' for a failed file operation ('PATH -> OTHER: reason' for a move)."""
    where = " -> ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
    reason = error.strerror or str(error)
    return f"{where}: {reason}" if where else reason


def _fail(message: str) -> typing.NoReturn:
    if _state["debug"]:
        stderr.print_exception()
    stderr.print(f"[red]error:[/red] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``, a scheduler) stops a command the way Ctrl-C does: what is done is kept."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RateColumn(ProgressColumn):
    """Units per second, as rich measures it over recent updates."""

    def __init__(self, unit: str = "items") -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(
            f"{task.speed:.2f} {self.unit}/s" if task.speed else f"-- {self.unit}/s", style="progress.data.speed"
        )


def progress_bar(unit: str = "items") -> Progress:
    """The progress bar of long commands: description, bar, done/total, rate, elapsed time and ETA (on stderr)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stderr,
    )


def main() -> None:
    app()
