"""The sections of ablation.md, in order: each a function from the report's data to lines.

Adding a section is one function (here, or in the module of its topic) and one entry in
SECTIONS. Sections that draw a figure write it under the report's figures/ folder.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.report import sections
from pipeline.report.answers import answers_section
from pipeline.report.confusion import errors_section
from pipeline.report.controls import contrast_section, controls_section
from pipeline.report.curves import curves_section
from pipeline.report.data import ReportData
from pipeline.report.layers import layers_section
from pipeline.report.pareto import sizes_section
from pipeline.report.recipe_gap import recipe_gap_section
from pipeline.report.references import references_section
from pipeline.report.settle import settle_section

Section = Callable[[ReportData], list[str]]


def answers(data: ReportData) -> list[str]:
    return answers_section(data.project, data.grid, data.frame, data.variants, data.baselines,
                           data.split)


def references(data: ReportData) -> list[str]:
    note = data.grid.references.note if data.grid.references else ""
    return references_section(data.references, note)


def contrasts(data: ReportData) -> list[str]:
    return contrast_section(data.project.results_dir, data.grid, data.settings)


def recipe_gap(data: ReportData) -> list[str]:
    return recipe_gap_section(data.project.results_dir, data.grid, data.training,
                              data.settings, data.split)


def controls(data: ReportData) -> list[str]:
    return controls_section(data.grid, data.comparisons, data.verdicts)


SECTIONS: tuple[Section, ...] = (
    sections.header, sections.method, answers, settle_section, references, contrasts,
    recipe_gap, sections.cross_dataset, sections.factors, controls, curves_section,
    errors_section, layers_section, sections.all_variants, sizes_section, sections.ledger,
)


def render(data: ReportData) -> list[str]:
    """The report's Markdown lines: every section in order."""
    return [line for section in SECTIONS for line in section(data)]
