"""Tables and figures -> one self-contained HTML file (figures embedded as PNG), and PNG/SVG files."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from brainbench._version import __version__
from brainbench.io import write_text_atomic


@dataclass
class Section:
    """One part of the report: a heading, optional text, figures and tables."""

    title: str
    text: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _png_base64(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _format(value: Any, column: str) -> str:
    if isinstance(value, float):
        if pd.isna(value):
            return "n/a"
        if column in {"ci95_low", "ci95_high", "sem", "chance"} or column.startswith(("%", "accuracy", "difference")):
            return f"{100 * value:.1f}%"
        return f"{value:.4g}"
    return html.escape(str(value))


def _table_html(frame: pd.DataFrame, percent: bool) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or "", *list(frame.columns)])
    rows = []
    for index, row in frame.iterrows():
        cells = "".join(f"<td>{_format(value, '%' if percent else str(column))}</td>" for column, value in row.items())
        rows.append(f"<tr><th>{html.escape(str(index))}</th>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(title: str, sections: list[Section], percent_tables: set[str] = frozenset()) -> str:
    """The whole report as one HTML string; figures carry ``data-figure`` attributes for checking."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px "
        "8px;text-align:right}"
        "th:first-child{text-align:left}img{max-width:100%}figure{margin:1em "
        "0}figcaption{font-size:0.9em;color:#555}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>brainbench {__version__}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}</p>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        for name, figure in section.figures.items():
            parts.append(
                f"<figure data-figure='{html.escape(name)}'><img alt='{html.escape(name)}' "
                f"src='data:image/png;base64,{_png_base64(figure)}'>"
                f"<figcaption>{html.escape(name)}</figcaption></figure>"
            )
        for name, table in section.tables.items():
            parts.append(f"<h3>{html.escape(name)}</h3>{_table_html(table, name in percent_tables)}")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


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
