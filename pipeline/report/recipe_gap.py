"""The baseline's recipe against the textbooks': the same network, trained other ways.

The grid trains the textbooks' CNN with its own recipe (e.g. Adam, batch 64, 55,000 images);
references may train that very network with a textbook's recipe (rmsprop, all 60,000 images).
Paired on the same seeds and test images, each recipe change gets a Δ with its interval, so a
gap between the baseline and a published figure is explained by measurement, not guessed.
Only references trained unchanged take part: under a cheap `budget` the comparison would
measure the budget, not the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.evidence.paired import PairTable, compare_dataset
from pipeline.evidence.verdicts import Verdict, decide_all
from pipeline.grid.comparisons import Settings, correct_by_seed, paired_by_seed
from pipeline.report.markdown import adjusted_cell, interval_cell, markdown_table, p_cell
from pipeline.report.references import training_images_text
from pipeline.specs.grid import GridSpec
from pipeline.specs.recipe import TrainingRecipe

GRID_BASELINE = "the grid's baseline"


def recipe_settings(recipe: TrainingRecipe, split: tuple[int, int]) -> dict[str, object]:
    """The settings a reader compares between two recipes of one network."""
    return {"training images": training_images_text(recipe, split), "epochs": recipe.epochs,
            "optimizer": recipe.optimizer, "batch": recipe.batch_size,
            "learning rate": recipe.learning_rate}


def changes(before: TrainingRecipe, after: TrainingRecipe,
            split: tuple[int, int]) -> dict[str, tuple]:
    """Setting -> (before, after) for every setting the two recipes do not share."""
    old, new = recipe_settings(before, split), recipe_settings(after, split)
    return {name: (old[name], new[name]) for name in old if old[name] != new[name]}


def changes_text(change: dict[str, tuple]) -> str:
    return "; ".join(f"{name} {old} → {new}" for name, (old, new) in change.items()) or "none"


@dataclass(frozen=True)
class RecipeStep:
    """One paired comparison: `name`'s recipe against `against`'s, same network and data."""

    dataset: str
    name: str
    against: str
    recipe: TrainingRecipe
    against_recipe: TrainingRecipe
    split: tuple[int, int]  # train and validation images of the dataset, for the words

    @property
    def change(self) -> dict[str, tuple]:
        return changes(self.against_recipe, self.recipe, self.split)


def same_network_references(grid: GridSpec, training: TrainingRecipe,
                            dataset: str) -> list[tuple[str, TrainingRecipe]]:
    """References of `dataset` that train the baseline CNN unchanged on the same test set."""
    if grid.cnn is None or grid.references is None or grid.references.budget is not None:
        return []
    return [(reference.name, recipe) for reference, recipe in grid.references.recipes()
            if reference.dataset == dataset and reference.model == grid.cnn.baseline
            and recipe.test_samples == training.test_samples]


def recipe_steps(grid: GridSpec, training: TrainingRecipe,
                 split: tuple[int, int]) -> list[RecipeStep]:
    """Per dataset: each same-network reference against the grid's baseline, and against the
    reference whose changes are the largest strict subset of its own (one change at a time).
    Ordered by how many settings a row changes (single changes before their sum), changes
    from the grid's baseline first."""
    steps = []
    for dataset in grid.datasets:
        nodes = same_network_references(grid, training, dataset)
        rows = []
        for name, recipe in nodes:
            own = changes(training, recipe, split).items()
            rows.append(RecipeStep(dataset, name, GRID_BASELINE, recipe, training, split))
            nested = [node for node in nodes if changes(training, node[1], split).items() < own]
            if nested:
                other, other_recipe = max(nested,
                                          key=lambda node: len(changes(training, node[1], split)))
                rows.append(RecipeStep(dataset, name, other, recipe, other_recipe, split))
        steps += sorted(rows, key=lambda step: (len(step.change), step.against != GRID_BASELINE))
    return steps


def step_tables(results_dir: Path, grid: GridSpec,
                steps: list[RecipeStep]) -> dict[RecipeStep, PairTable]:
    """Each step's per-seed 2x2 tables over the seeds both recipes finished."""
    tables = {}
    for step in steps:
        table = paired_by_seed(*[
            correct_by_seed(results_dir, step.dataset, grid.cnn.baseline, recipe,
                            grid.initial_seeds) for recipe in (step.recipe, step.against_recipe)])
        if table is not None:
            tables[step] = table
    return tables


def decide_steps(tables: dict[RecipeStep, PairTable],
                 settings: Settings) -> dict[RecipeStep, Verdict]:
    """Intervals with the seed variance pooled per dataset, the family being this table."""
    intervals = {}
    for dataset in dict.fromkeys(step.dataset for step in tables):
        intervals.update(compare_dataset(
            {step: table for step, table in tables.items() if step.dataset == dataset}))
    return decide_all(intervals, settings.smallest_effect, settings.alpha)


def mean_accuracies(table: PairTable) -> tuple[float, float]:
    """Mean test accuracy of the row's recipe and of the recipe it is compared against."""
    row = np.mean((table.both + table.only_variant) / table.images)
    against = np.mean((table.both + table.only_baseline) / table.images)
    return float(row), float(against)


def recipe_gap_section(results_dir: Path, grid: GridSpec, training: TrainingRecipe,
                       settings: Settings, split: tuple[int, int]) -> list[str]:
    """The section's Markdown; empty when no reference trains the baseline network."""
    steps = recipe_steps(grid, training, split)
    if not steps:
        return []
    tables = step_tables(results_dir, grid, steps)
    verdicts = decide_steps(tables, settings)
    rows = []
    for step in steps:
        if step not in tables:
            rows.append([step.dataset, step.name, step.against, changes_text(step.change),
                         "no finished runs", "-", "-", "-", "-"])
            continue
        result, (row_accuracy, against_accuracy) = verdicts[step], mean_accuracies(tables[step])
        rows.append([step.dataset, step.name, step.against, changes_text(step.change),
                     f"{row_accuracy:.4f} vs {against_accuracy:.4f}",
                     interval_cell(result.delta, result.low, result.high),
                     adjusted_cell(result.adjusted_level, result.adjusted_low,
                                   result.adjusted_high),
                     p_cell(result.p_adjusted), f"{result.verdict} ({result.seeds} seeds)"])
    headers = ["dataset", "trained as", "against", "what changes", "accuracy (mean)",
               "Δ [95% CI]", "verdict's interval", "p (adj.)", "verdict"]
    return ["## The baseline's recipe against the textbooks'", "",
            f"The grid's baseline is the textbooks' own network ({grid.cnn.baseline.describe()})"
            f" trained with the grid's recipe: {training.optimizer}, batch "
            f"{training.batch_size}, {training.epochs} epochs, "
            f"{training_images_text(training, split)} training images. These references train the "
            "same network with other recipes. Paired on the same seeds and test images, each "
            "row gives how far the change moves test accuracy: Δ = row − against, a 95% "
            "interval over seeds and images (seed variance pooled per dataset), p "
            "Bonferroni-adjusted over this table, and the verdict read off the interval adjusted "
            "the same way (shown beside it).", "",
            markdown_table(headers, rows), ""]
