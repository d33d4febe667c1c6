"""The textbook references: the seeds' own networks and recipes beside their published numbers.

For each reference: our mean test accuracy with its 95% interval over seeds and test images,
the published figure, whether it lies inside our interval, and a flag when a run falls
outside the range a sound run reaches (a data mix-up, a broken recipe). A reference with a
`contrast` is also paired with it (pipeline.report.controls).
"""

from __future__ import annotations

import pandas as pd

from pipeline.evidence.accuracy import accuracy_interval
from pipeline.model.shapes import count_params
from pipeline.report.markdown import markdown_table
from pipeline.runs.records import DONE, read_evidence, read_record, record_path
from pipeline.specs.grid import GridSpec
from pipeline.specs.recipe import TrainingRecipe, training_image_count
from pipeline.specs.run import RunSpec


def training_images_text(recipe: TrainingRecipe, split: tuple[int, int]) -> str:
    """How many training images a recipe uses, in words: `20,000`, or `all 55,000` of the
    train split (`split`: its train and validation image counts; the validation images count
    only when `include_validation` is set)."""
    count = training_image_count(recipe, *split)
    return f"{count:,}" if recipe.train_samples == count else f"all {count:,}"


def recipe_text(recipe: TrainingRecipe, split: tuple[int, int]) -> str:
    return (f"{recipe.optimizer}, batch {recipe.batch_size}, {recipe.epochs} epochs, "
            f"{training_images_text(recipe, split)} training images")


def reference_frame(results_dir, grid: GridSpec, split: tuple[int, int]) -> pd.DataFrame:
    """One row per reference: recipe, params, published figure, our interval, flags."""
    rows = []
    for reference, recipe in grid.references.recipes() if grid.references else []:
        accuracies, images = [], 0
        for seed in grid.initial_seeds:
            spec = RunSpec(dataset=reference.dataset, seed=seed, model=reference.model,
                           training=recipe)
            path = record_path(results_dir, spec)
            record = read_record(path) or {}
            if record.get("status") == DONE:
                accuracies.append(record["metrics"]["test/accuracy"])
                evidence = read_evidence(path)
                images = len(evidence["labels"]) if evidence else 10000
        row = {"reference": reference.name, "source": reference.source,
               "dataset": reference.dataset, "params": count_params(reference.model),
               "recipe": recipe_text(recipe, split), "published": reference.published,
               "published_source": reference.published_source, "seeds": len(accuracies),
               "expected_low": reference.expected[0], "expected_high": reference.expected[1]}
        if accuracies:
            interval = accuracy_interval(accuracies, images)
            row.update(mean=interval.mean, low=interval.low, high=interval.high,
                       test_set_only=interval.test_set_only)
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_cells(row: pd.Series) -> tuple[str, str, str]:
    """Our interval, whether the published figure lies in it, and a range flag."""
    if pd.isna(row.get("mean")):
        return "no finished runs", "-", "-"
    ours = (f"{row['mean']:.4f} [{row['low']:.4f}, {row['high']:.4f}] "
            f"({int(row['seeds'])} seed{'s' if row['seeds'] != 1 else ''}"
            f"{', test-set part only' if row['test_set_only'] else ''})")
    inside = "-"
    if not pd.isna(row["published"]):
        inside = "yes" if row["low"] <= row["published"] <= row["high"] else (
            f"no: ours is {row['mean'] - row['published']:+.4f} from it")
    flag = "ok" if row["expected_low"] <= row["mean"] <= row["expected_high"] else (
        f"**outside the expected {row['expected_low']}-{row['expected_high']}: a data "
        f"mix-up or a broken recipe?**")
    return ours, inside, flag


def references_section(frame: pd.DataFrame, note: str) -> list[str]:
    if frame.empty:
        return []
    rows = []
    for _, row in frame.iterrows():
        ours, inside, flag = verdict_cells(row)
        published = "-" if pd.isna(row["published"]) else (
            f"{row['published']:.4f} ({row['published_source']})")
        rows.append([f"{row['reference']} ({row['source']})", row["dataset"],
                     f"{row['params']:,}", row["recipe"], published, ours, inside, flag])
    headers = ["reference", "dataset", "params", "recipe", "published", "ours: mean [95% CI]",
               "published inside ours?", "range check"]
    lines = ["## Textbook references", ""]
    if note:
        lines += [note.strip(), ""]
    return lines + [markdown_table(headers, rows), ""]

