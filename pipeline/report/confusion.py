"""Where errors fall: the baseline's confusion matrix and the classes each factor helps or
hurts most (Fashion-MNIST: shirt vs T-shirt vs pullover is where CNN choices matter).

Per-class differences are paired like the headline ones: the same seeds, the images of one
class, the seed variance pooled over every comparison and class of the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.data.sources import CLASS_NAMES
from pipeline.evidence.paired import PairTable, compare_dataset
from pipeline.grid.comparisons import Comparison, evidence_by_seed, shared_seeds
from pipeline.report.markdown import interval_cell, markdown_table
from pipeline.report.verdict_tables import level_label
from pipeline.specs.recipe import TrainingRecipe

if TYPE_CHECKING:
    from pipeline.report.data import ReportData


def confusion_matrix(evidence: dict[int, dict]) -> np.ndarray:
    """Rows: true class, columns: predicted class, summed over seeds."""
    matrix = np.zeros((10, 10), dtype=np.int64)
    for found in evidence.values():
        np.add.at(matrix, (found["labels"], found["predicted"]), 1)
    return matrix


def confusion_lines(matrix: np.ndarray, dataset: str, seeds: int) -> list[str]:
    names = CLASS_NAMES[dataset]
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    rows = [[f"**{names[true]}**", *[f"{100 * shares[true, guess]:.1f}" if guess != true
                                     else f"**{100 * shares[true, guess]:.1f}**"
                                     for guess in range(10)]] for true in range(10)]
    return [f"### {dataset}: baseline confusion matrix", "",
            f"Share (%) of each true class (rows) predicted as each class (columns), summed "
            f"over {seeds} seed(s); the diagonal is per-class accuracy.", "",
            markdown_table(["true \\ predicted", *names], rows), ""]


def class_intervals(results_dir: Path, comparisons: list[Comparison], training: TrainingRecipe,
                    seeds_of: dict) -> dict[tuple[Comparison, int], object]:
    """Per comparison and class: the paired interval of Δ on that class's images."""
    tables = {}
    for comparison in comparisons:
        seeds = shared_seeds(seeds_of, comparison)
        variant = evidence_by_seed(results_dir, comparison.dataset, comparison.variant,
                                   training, seeds)
        baseline = evidence_by_seed(results_dir, comparison.dataset, comparison.baseline,
                                    training, seeds)
        common = sorted(set(variant) & set(baseline))
        if not common:
            continue
        labels = baseline[common[0]]["labels"]
        for label in range(10):
            members = labels == label
            right = [np.stack([side[s]["predicted"][members] == label for s in common])
                     for side in (variant, baseline)]
            tables[(comparison, label)] = PairTable.from_correct(*right)
    return compare_dataset(tables) if tables else {}


def class_cell(name: str, interval) -> str:
    return f"{name}: {interval_cell(interval.delta, interval.low, interval.high)}"


def class_effect_lines(intervals: dict, comparisons: list[Comparison], dataset: str,
                       level_of) -> list[str]:
    """For each comparison, the class it helps most and the class it hurts most."""
    names = CLASS_NAMES[dataset]
    rows = []
    for comparison in comparisons:
        found = {label: intervals[(comparison, label)] for label in range(10)
                 if (comparison, label) in intervals}
        if not found:
            continue
        best = max(found, key=lambda label: found[label].delta)
        worst = min(found, key=lambda label: found[label].delta)
        rows.append([comparison.factor, level_of(comparison),
                     class_cell(names[best], found[best]), class_cell(names[worst], found[worst])])
    return [f"### {dataset}: classes each variant helps or hurts most", "",
            "Δ per-class accuracy against the baseline with its 95% interval (not adjusted for "
            "the 10 classes looked at: read the extremes as leads, not verdicts).", "",
            markdown_table(["factor", "level", "helps most", "hurts most"], rows), ""]


def errors_section(data: ReportData) -> list[str]:
    """Fashion-MNIST's confusion matrix and the classes each variant helps or hurts most."""
    dataset = "fashion_mnist"
    if dataset not in data.grid.datasets or data.grid.cnn is None:
        return []
    base_seeds = data.seeds[(dataset, data.baselines[dataset])]
    evidence = evidence_by_seed(data.project.results_dir, dataset, data.grid.cnn.baseline,
                                data.training, base_seeds)
    if not evidence:
        return []
    chosen = [c for c in data.comparisons if c.dataset == dataset]
    intervals = class_intervals(data.project.results_dir, chosen, data.training, data.seeds)
    return (["## Where the errors are", ""]
            + confusion_lines(confusion_matrix(evidence), dataset, len(evidence))
            + class_effect_lines(intervals, chosen, dataset,
                                 lambda c: level_label(c.factor, c.variant)))
