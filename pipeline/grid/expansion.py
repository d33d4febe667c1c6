"""Expanding a GridSpec into runs: deterministic order, stable ids, infeasible cells marked.

`one_at_a_time` varies each axis (or each crossed group of axes) away from the baseline while
holding the rest at baseline values; `factorial` takes the full product of all levels. CNN
axes only multiply CNN variants, and Dense axes only Dense variants.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.model.shapes import check_feasible
from pipeline.specs.grid import GridSpec
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec, variant_id


@dataclass(frozen=True)
class GridRun:
    """One cell of the grid for one seed; `infeasible` holds the reason when it cannot train."""

    spec: RunSpec
    infeasible: str | None = None


def axis_groups(axes: dict[str, list], crossed: list[list[str]]) -> list[tuple[str, ...]]:
    """Axes with levels, grouped: each crossed group once (at its first axis), others alone."""
    group_of = {axis: tuple(group) for group in crossed for axis in group}
    groups: list[tuple[str, ...]] = []
    for axis, levels in axes.items():
        group = group_of.get(axis, (axis,))
        if levels and group not in groups:
            groups.append(group)
    return groups


def expand_models(baseline: ModelSpec, axes: dict[str, list], crossed: list[list[str]],
                  design: str) -> list[ModelSpec]:
    """Unique model specs of one block (cnn or dense), baseline first."""
    base = baseline.model_dump()
    active = {axis: levels for axis, levels in axes.items() if levels}
    if design == "factorial":
        groups = [tuple(active)] if active else []
    else:
        groups = axis_groups(active, crossed)
    specs = [baseline]
    seen = {_key(baseline)}
    for group in groups:
        for combo in itertools.product(*(active.get(axis, [base[axis]]) for axis in group)):
            spec = ModelSpec.model_validate({**base, **dict(zip(group, combo, strict=True))})
            if _key(spec) not in seen:
                seen.add(_key(spec))
                specs.append(spec)
    return specs


def _key(spec: ModelSpec) -> str:
    return repr(sorted(spec.canonical().items()))


def grid_models(grid: GridSpec) -> list[ModelSpec]:
    """Every model of the grid: CNN variants first, then Dense variants."""
    models: list[ModelSpec] = []
    if grid.cnn is not None:
        models += expand_models(grid.cnn.baseline, grid.cnn.axes.model_dump(), grid.cnn.crossed,
                                grid.design)
    if grid.dense is not None:
        models += expand_models(grid.dense.baseline, grid.dense.axes.model_dump(), [],
                                grid.design)
    return models


def expand(grid: GridSpec, training: TrainingRecipe,
           extra_seeds: Mapping[tuple[str, str], Sequence[int]] | None = None) -> list[GridRun]:
    """All runs of the grid in a fixed order: dataset, then model, then seed.

    Every variant gets the grid's initial seeds, plus the seeds `extra_seeds` adds to it
    (keyed by dataset and variant id: adaptive replication).
    """
    runs = []
    models = grid_models(grid)
    reasons = {_key(model): check_feasible(model) for model in models}
    extra_seeds = extra_seeds or {}
    for dataset in grid.datasets:
        for model in models:
            added = extra_seeds.get((dataset, variant_id(dataset, model)), [])
            for seed in [*grid.initial_seeds, *added]:
                spec = RunSpec(dataset=dataset, seed=seed, model=model, training=training)
                runs.append(GridRun(spec, reasons[_key(model)]))
    return runs


def expand_references(grid: GridSpec) -> list[GridRun]:
    """The grid's textbook reference runs (each with its own recipe), one per initial seed."""
    if grid.references is None:
        return []
    return [GridRun(RunSpec(dataset=reference.dataset, seed=seed, model=reference.model,
                            training=recipe), check_feasible(reference.model))
            for reference, recipe in grid.references.recipes() for seed in grid.initial_seeds]
