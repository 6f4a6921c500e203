"""Figures and the HTML report, built from analysis tables."""

from brainbench.report.build import build_report, report_sections
from brainbench.report.html import Section, render_html, report_json, save_figures, write_report
from brainbench.report.sections import PERCENT_TABLES, build_sections

__all__ = [
    "PERCENT_TABLES",
    "Section",
    "build_report",
    "build_sections",
    "render_html",
    "report_json",
    "report_sections",
    "save_figures",
    "write_report",
]
