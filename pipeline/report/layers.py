"""The report's layer-shapes section: `model.summary()`-style tables, computed without
TensorFlow, of the baseline, each pooling and padding level, the textbook references and
every capacity-matched control, each with a sentence on what it changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.grid.expansion import control_models, reference_controls
from pipeline.model.layer_table import layer_table
from pipeline.model.shapes import check_feasible
from pipeline.report.layer_prose import layer_summary_sentence
from pipeline.specs.grid import GridSpec
from pipeline.specs.model import ModelSpec

if TYPE_CHECKING:
    from pipeline.report.data import ReportData

SHOWN_FACTORS = {"pooling", "padding"}  # levels whose layer tables the section shows


def layers_section(data: ReportData) -> list[str]:
    """The baseline's table, then each shown variant's and reference's, then the controls'."""
    grid = data.grid
    if grid.cnn is None:
        return []
    baseline = grid.cnn.baseline
    lines = ["## Layer shapes", "", f"### Baseline: {baseline.describe()}", "",
             *layer_table(baseline), ""]
    shown = {baseline}
    for model, against in shown_networks(data):
        if model in shown or check_feasible(model) is not None:
            continue
        shown.add(model)
        lines += [f"### {model.describe()}", "", layer_summary_sentence(against, model), "",
                  *layer_table(model), ""]
    return lines + control_layers(grid, shown)


def shown_networks(data: ReportData) -> list[tuple[ModelSpec, ModelSpec]]:
    """(network, the one its sentence compares it with): each pooling and padding level
    against the baseline, each reference against its contrast (the book's original), else
    against the baseline."""
    grid, baseline = data.grid, data.grid.cnn.baseline
    shown = [(c.variant, baseline) for c in data.comparisons
             if c.dataset == grid.datasets[0] and SHOWN_FACTORS & set(c.factor.split("×"))]
    references = grid.references.runs if grid.references else []
    by_name = {reference.name: reference.model for reference in references}
    return shown + [(reference.model, by_name.get(reference.contrast, baseline))
                    for reference in references]


def controls_of(grid: GridSpec) -> dict[ModelSpec, tuple[ModelSpec, list[str]]]:
    """Each control -> (the network it resizes, the variants or references it matches)."""
    controlled: dict = {}
    for variant, control in control_models(grid).items():
        controlled.setdefault(control, (grid.cnn.baseline, []))[1].append(variant.describe())
    by_name = {r.name: r for r in grid.references.runs} if grid.references else {}
    for name, control in reference_controls(grid).items():
        resized = by_name[by_name[name].contrast].model
        controlled.setdefault(control, (resized, []))[1].append(name)
    return controlled


def control_layers(grid: GridSpec, shown: set) -> list[str]:
    """The layer table of each capacity-matched control not shown yet, with the variant(s)
    it matches and what it changes against the network it resizes."""
    lines = []
    for control, (resized, matched) in controls_of(grid).items():
        if control in shown:
            continue
        shown.add(control)
        lines += [f"### Control: {control.describe()}", "",
                  f"Capacity-matched control for {', '.join(matched)}. "
                  + layer_summary_sentence(resized, control), "", *layer_table(control), ""]
    return lines
