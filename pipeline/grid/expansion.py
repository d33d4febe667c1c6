"""Expanding a GridSpec into runs: deterministic order, stable ids, infeasible cells marked.

`one_at_a_time` varies each axis (or each crossed group of axes) away from the baseline while
holding the rest at baseline values; `factorial` takes the full product of all levels. CNN
axes only multiply CNN variants, and Dense axes only Dense variants.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.model.capacity import InfeasibleControl, match_params, needs_control
from pipeline.model.shapes import check_feasible, count_params
from pipeline.specs.grid import Controls, GridSpec
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec, variant_id
from pipeline.validation import ConfigError


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


def matched_control(grid_name: str, baseline: ModelSpec, variant: ModelSpec,
                    controls: Controls) -> ModelSpec | None:
    """The baseline resized to the variant's parameters, or None when the variant is
    infeasible or already within `controls.threshold` of the baseline; an unreachable
    target is refused (ConfigError naming the grid, the variant and the counts)."""
    if check_feasible(variant) is not None or not needs_control(baseline, variant,
                                                                 controls.threshold):
        return None
    try:
        return match_params(baseline, count_params(variant), controls.tolerance, avoid=variant)
    except InfeasibleControl as error:
        raise ConfigError(f"grid {grid_name}: controls: the control of {variant.describe()} "
                          f"({count_params(variant):,} parameters): {error}") from None


def control_models(grid: GridSpec) -> dict[ModelSpec, ModelSpec]:
    """Variant -> its capacity-matched control, for every variant that needs one."""
    if grid.controls is None or grid.cnn is None:
        return {}
    found = {}
    for model in grid_models(grid):
        if model != grid.cnn.baseline:
            control = matched_control(grid.name, grid.cnn.baseline, model, grid.controls)
            if control is not None:
                found[model] = control
    return found


def all_models(grid: GridSpec) -> list[ModelSpec]:
    """The grid's variants, then the controls that are not already variants."""
    models = grid_models(grid)
    seen = {_key(model) for model in models}
    for control in control_models(grid).values():
        if _key(control) not in seen:
            seen.add(_key(control))
            models.append(control)
    return models


def seeds_per_model(grid: GridSpec, dataset: str, models: list[ModelSpec],
                    extra_seeds: Mapping[tuple[str, str], Sequence[int]]) -> list[list[int]]:
    """Each model's seeds: the initial ones, its added ones and, for a control, those added
    to any variant it controls, so a control pairs with its variants on every seed."""
    controlled: dict[str, list[str]] = {}
    for variant, control in control_models(grid).items():
        controlled.setdefault(_key(control), []).append(variant_id(dataset, variant))
    result = []
    for model in models:
        ids = [variant_id(dataset, model), *controlled.get(_key(model), [])]
        added = sorted({seed for identifier in ids for seed in extra_seeds.get(
            (dataset, identifier), [])} - set(grid.initial_seeds))
        result.append([*grid.initial_seeds, *added])
    return result


def expand(grid: GridSpec, training: TrainingRecipe,
           extra_seeds: Mapping[tuple[str, str], Sequence[int]] | None = None) -> list[GridRun]:
    """All runs of the grid in a fixed order: dataset, then model, then seed.

    Every variant gets the grid's initial seeds, plus the seeds `extra_seeds` adds to it
    (keyed by dataset and variant id: adaptive replication); controls come after the
    variants, with the seeds of the variants they control.
    """
    runs = []
    models = all_models(grid)
    reasons = {_key(model): check_feasible(model) for model in models}
    for dataset in grid.datasets:
        seeds = seeds_per_model(grid, dataset, models, extra_seeds or {})
        for model, model_seeds in zip(models, seeds, strict=True):
            for seed in model_seeds:
                spec = RunSpec(dataset=dataset, seed=seed, model=model, training=training)
                runs.append(GridRun(spec, reasons[_key(model)]))
    return runs


def reference_controls(grid: GridSpec) -> dict[str, ModelSpec]:
    """Reference name -> its contrast's network resized to the reference's parameters (the
    grid's `controls` tolerance and threshold, or their defaults)."""
    if grid.references is None:
        return {}
    controls = grid.controls or Controls()
    found = {}
    for reference, contrast in grid.references.contrasts():
        control = matched_control(grid.name, contrast.model, reference.model, controls)
        if control is not None:
            found[reference.name] = control
    return found


def expand_references(grid: GridSpec) -> list[GridRun]:
    """The grid's textbook reference runs (each with its own recipe), one per initial seed,
    then the capacity-matched controls of the references that have a contrast."""
    if grid.references is None:
        return []
    recipes = dict((reference.name, recipe) for reference, recipe in grid.references.recipes())
    models = [(reference.dataset, reference.model, recipes[reference.name])
              for reference in grid.references.runs]
    by_name = {reference.name: reference for reference in grid.references.runs}
    models += [(by_name[name].dataset, control, recipes[name])
               for name, control in reference_controls(grid).items()]
    return [GridRun(RunSpec(dataset=dataset, seed=seed, model=model, training=recipe),
                    check_feasible(model))
            for dataset, model, recipe in models for seed in grid.initial_seeds]
