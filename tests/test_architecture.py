"""The shape of the package, read from its source: no import cycles (lazy imports inside functions count too),
the CLI on top of everything, run directories written by one function, and functions a reader can hold in mind."""

from __future__ import annotations

import ast
from pathlib import Path

import brainbench

PACKAGE = Path(brainbench.__file__).parent
LONGEST_FUNCTION = 80  # lines, outside cli/ (commands declare their options in their signature)


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the brainbench modules it imports anywhere in its body (a package's __init__ for its name)."""
    parsed = modules()
    graph: dict[str, set[str]] = {name: set() for name in parsed}
    for name, tree in parsed.items():
        is_package = name == "brainbench" or (PACKAGE.parent / Path(*name.split("."), "__init__.py")).is_file()
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in parsed:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
                    break
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = import_graph()
    assert len(graph) > 100 and "brainbench.scoring.registry" in graph["brainbench.scoring.backends"]
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_cli_imports_the_cli() -> None:
    outside = {
        name: sorted(target for target in targets if target.startswith("brainbench.cli"))
        for name, targets in import_graph().items()
        if not name.startswith("brainbench.cli") and name != "brainbench.__main__"
    }
    assert {name: targets for name, targets in outside.items() if targets} == {}


def test_functions_outside_the_cli_fit_on_a_screen() -> None:
    long = [
        f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for name, tree in modules().items()
        if not name.startswith("brainbench.cli")
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]
    assert long == []


def test_run_json_has_one_author() -> None:
    """Only ``brainbench.runs.rundir.write_run_dir`` writes a run directory's files."""
    writers = set()
    for name, tree in modules().items():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for call in ast.walk(function):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id in ("write_json_atomic", "write_jsonl_atomic")
                    and any(
                        isinstance(node, ast.Name) and node.id in ("RUN_FILE", "RESULTS_FILE", "SUMMARY_FILE")
                        for arg in call.args
                        for node in ast.walk(arg)
                    )
                ):
                    writers.add(f"{name}.{function.name}")
    assert writers == {"brainbench.runs.rundir.write_run_dir"}
