"""The comparisons capacity-matched controls add: each variant against its control.

A control (pipeline.grid.expansion.control_models) is the baseline resized to a variant's
parameter count. Comparing the variant with it, paired by seed and test image like any
comparison, asks whether the variant's effect survives at equal capacity. These comparisons
join the grid's family of comparisons (and its adaptive seeds), so adding controls makes
every verdict of the grid as strict as the larger family requires.
"""

from __future__ import annotations

from pipeline.grid.comparisons import Comparison, grid_comparisons
from pipeline.grid.expansion import control_models
from pipeline.specs.grid import GridSpec


def control_comparisons(grid: GridSpec) -> list[Comparison]:
    """Every variant that has a control against that control, per dataset, in grid order."""
    controls = control_models(grid)
    return [Comparison(c.dataset, c.factor, c.variant, controls[c.variant])
            for c in grid_comparisons(grid) if c.variant in controls]


def all_comparisons(grid: GridSpec) -> list[Comparison]:
    """The grid's comparisons against the baseline, then those against the controls: the
    family its verdicts' intervals are adjusted over (Bonferroni)."""
    return grid_comparisons(grid) + control_comparisons(grid)
