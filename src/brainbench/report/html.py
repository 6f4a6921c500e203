"""Tables and figures -> one self-contained HTML file (figures embedded as PNG), and PNG/SVG files."""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brainbench._version import __version__
from brainbench.io import write_text_atomic


@dataclass
class Section:
    """One part of the report: a heading, optional text, figures and tables. ``data`` holds what a figure shows
    beyond the tables (bin accuracies, fits, the points of a scatter) and the numbers of the text: the report's JSON
    carries it, unrounded, with the tables. ``links``: label -> address, shown under the heading."""

    title: str
    text: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)


WIDE = 8  # a table with more columns than this is shown turned (if it has fewer rows) or folded away (a matrix)
PERCENT_COLUMNS = {"ci95_low", "ci95_high", "sem", "chance"}
PERCENT_PREFIXES = ("%", "accuracy", "difference")


def _png_base64(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def format_number(value: float) -> str:
    """One format for every number of the report: 4 significant digits from 0.001 to 1000, whole numbers from 1000
    on, and 3 significant digits in scientific notation below 0.001 (p-values: ``1.58e-06``, ``1.13e-04``)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 1000:
        return f"{value:.0f}"
    if abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def _format(value: Any, column: str) -> str:
    if isinstance(value, float):
        if pd.isna(value):
            return "n/a"
        if column in PERCENT_COLUMNS or column.startswith(PERCENT_PREFIXES):
            return f"{100 * value:.1f}%"
        return format_number(value)
    return html.escape(str(value))


def short_label(name: Any) -> str:
    """A model's name as a table shows it: without its organisation (``meta-llama--Llama-2-7b-hf`` ->
    ``Llama-2-7b-hf``); the full name is kept for the hover text."""
    text = str(name)
    return text.split("--", 1)[1] if "--" in text else text


def _label_html(name: Any, tag: str) -> str:
    full, short = str(name), short_label(name)
    title = f" title='{html.escape(full)}'" if short != full else ""
    return f"<{tag}{title}>{html.escape(short)}</{tag}>"


def _table_html(frame: pd.DataFrame, percent: bool) -> str:
    head = _label_html(frame.index.name or "", "th") + "".join(_label_html(c, "th") for c in frame.columns)
    rows = []
    for index, row in frame.iterrows():
        cells = "".join(f"<td>{_format(value, '%' if percent else str(column))}</td>" for column, value in row.items())
        rows.append(f"<tr>{_label_html(index, 'th')}{cells}</tr>")
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def _shown_table(name: str, frame: pd.DataFrame, percent: bool) -> str:
    """A table under its heading. A wide one with fewer rows than columns (subfields x runs) is turned, a run per
    row; a wide square one (the agreement matrix, drawn above as a figure) is folded, one click from its numbers."""
    if len(frame.columns) > WIDE and len(frame) < len(frame.columns):
        turned = frame.T
        turned.index.name = frame.columns.name or "run"
        return f"<h3>{html.escape(name)}</h3>{_table_html(turned, percent)}"
    if len(frame.columns) > WIDE and len(frame) >= len(frame.columns) and list(frame.index) == list(frame.columns):
        return (
            f"<details><summary><h3>{html.escape(name)}</h3> ({len(frame)} x {len(frame.columns)}; the figure above "
            f"shows it: open for the numbers)</summary>{_table_html(frame, percent)}</details>"
        )
    return f"<h3>{html.escape(name)}</h3>{_table_html(frame, percent)}"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    ".wide{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right;white-space:nowrap}th[title]{text-decoration:underline dotted;cursor:help}"
    "th:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}figcaption{font-size:0.9em;color:#555}"
    "details summary h3{display:inline}details summary{cursor:pointer;margin:1em 0;color:#555}"
)


def render_html(title: str, sections: list[Section], percent_tables: set[str] = frozenset()) -> str:
    """The whole report as one HTML string; figures carry ``data-figure`` attributes for checking."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>brainbench {__version__}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}</p>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        for label, address in section.links.items():
            parts.append(f"<p><a href='{html.escape(address)}'>{html.escape(label)}</a></p>")
        for name, figure in section.figures.items():
            parts.append(
                f"<figure data-figure='{html.escape(name)}'><img alt='{html.escape(name)}' "
                f"src='data:image/png;base64,{_png_base64(figure)}'>"
                f"<figcaption>{html.escape(name)}</figcaption></figure>"
            )
        for name, table in section.tables.items():
            parts.append(_shown_table(name, table, name in percent_tables))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it, every number unrounded: a DataFrame becomes its rows (the index a column),
    a Series a mapping, numpy numbers Python ones, NaN null."""
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if value.index.name or not isinstance(value.index, pd.RangeIndex) else value
        return [{str(key): plain(item) for key, item in row.items()} for row in frame.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    return value


def report_json(title: str, sections: list[Section]) -> dict[str, Any]:
    """Every number the report shows, unrounded: each section's text, tables, figure names and figure data."""
    return {
        "title": title,
        "brainbench": __version__,
        "sections": [
            {
                "title": section.title,
                "text": section.text,
                "figures": list(section.figures),
                "tables": {name: plain(table) for name, table in section.tables.items()},
                "data": {name: plain(item) for name, item in section.data.items()},
            }
            for section in sections
        ],
    }


def write_report(path: Path, title: str, sections: list[Section], percent_tables: set[str] = frozenset()) -> None:
    """Write the HTML atomically."""
    write_text_atomic(Path(path), render_html(title, sections, percent_tables))


def save_figures(sections: list[Section], directory: Path) -> list[Path]:
    """Every figure as PNG and SVG under ``directory``; returns the written paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for section in sections:
        for name, figure in section.figures.items():
            for suffix in ("png", "svg"):
                target = directory / f"{name}.{suffix}"
                figure.savefig(target, format=suffix, dpi=150, bbox_inches="tight")
                written.append(target)
    return written
