"""The comparisons a grid answers, and their paired evidence from the stored runs.

Each CNN variant is compared with the baseline CNN (its `factor` is the grid axis, or crossed
group of axes, it changes) and each Dense network with the baseline CNN (`cnn_vs_dense`), per
dataset. Runs are paired by seed and all variants are scored on the same test images, so a
comparison is the per-seed 2x2 table of right/wrong images (pipeline.evidence). Verdicts are
Holm-adjusted over every comparison of the grid and use alpha / looks when seeds were added
adaptively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.config import EvidenceConfig
from pipeline.evidence.paired import PairTable, compare_dataset
from pipeline.evidence.verdicts import Verdict, decide_all
from pipeline.grid.expansion import grid_models
from pipeline.model.shapes import check_feasible
from pipeline.runs.records import DONE, read_evidence, read_record, record_path
from pipeline.specs.factors import FACTOR_NAMES
from pipeline.specs.grid import GridSpec
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec, variant_id

CNN_VS_DENSE = "cnn_vs_dense"
CROSS = "×"


@dataclass(frozen=True)
class Comparison:
    """One question of the report: `variant` against `baseline` on `dataset`."""

    dataset: str
    factor: str
    variant: ModelSpec
    baseline: ModelSpec
    variant_id: str = field(init=False, compare=False)
    baseline_id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant_id", variant_id(self.dataset, self.variant))
        object.__setattr__(self, "baseline_id", variant_id(self.dataset, self.baseline))


@dataclass(frozen=True)
class Settings:
    """How verdicts are reached: the smallest effect that matters, alpha, looks at the data."""

    smallest_effect: float = EvidenceConfig().smallest_effect  # the defaults of params
    alpha: float = EvidenceConfig().alpha  # `evidence:`, written once in pipeline/config.py
    looks: int = 1


def factor_of(grid: GridSpec, baseline: ModelSpec, variant: ModelSpec) -> str:
    """The axis (or crossed group of axes) in which `variant` differs from `baseline`."""
    if variant.arch != baseline.arch:
        return CNN_VS_DENSE
    differing = [name for name in FACTOR_NAMES
                 if getattr(variant, name) != getattr(baseline, name)]
    for group in grid.cnn.crossed if grid.cnn else []:
        if set(differing) <= set(group):
            return CROSS.join(group)
    return CROSS.join(differing)


def grid_comparisons(grid: GridSpec) -> list[Comparison]:
    """Every feasible variant against the baseline CNN, per dataset, in grid order."""
    if grid.cnn is None:
        return []
    baseline = grid.cnn.baseline
    models = [model for model in grid_models(grid)
              if model != baseline and check_feasible(model) is None]
    return [Comparison(dataset, factor_of(grid, baseline, model), model, baseline)
            for dataset in grid.datasets for model in models]


def evidence_by_seed(results_dir: Path, dataset: str, model: ModelSpec,
                     training: TrainingRecipe, seeds: list[int]) -> dict[int, dict]:
    """Seed -> predicted and true classes, for the finished runs that stored their evidence."""
    found = {}
    for seed in seeds:
        path = record_path(results_dir, RunSpec(dataset=dataset, seed=seed, model=model,
                                                training=training))
        record = read_record(path)
        evidence = read_evidence(path) if record and record.get("status") == DONE else None
        if evidence is not None:
            found[seed] = evidence
    return found


def correct_by_seed(results_dir: Path, dataset: str, model: ModelSpec,
                    training: TrainingRecipe, seeds: list[int]) -> dict[int, np.ndarray]:
    """Seed -> right/wrong per test image, for the finished runs that stored their evidence."""
    return {seed: found["predicted"] == found["labels"] for seed, found in
            evidence_by_seed(results_dir, dataset, model, training, seeds).items()}


def pair_table(results_dir: Path, comparison: Comparison, training: TrainingRecipe,
               seeds: list[int]) -> PairTable | None:
    """The comparison's 2x2 tables over the seeds both sides finished, or None if none did."""
    variant = correct_by_seed(results_dir, comparison.dataset, comparison.variant, training,
                              seeds)
    baseline = correct_by_seed(results_dir, comparison.dataset, comparison.baseline, training,
                               seeds)
    return paired_by_seed(variant, baseline)


def shared_seeds(seeds_of: dict[tuple[str, str], list[int]],
                 comparison: Comparison) -> list[int]:
    """The seeds both sides of `comparison` are planned with, in order: the paired runs."""
    return sorted(set(seeds_of[(comparison.dataset, comparison.variant_id)])
                  & set(seeds_of[(comparison.dataset, comparison.baseline_id)]))


def paired_by_seed(variant: dict[int, np.ndarray],
                   baseline: dict[int, np.ndarray]) -> PairTable | None:
    """The 2x2 tables over the seeds both sides finished, or None if they share none."""
    common = sorted(set(variant) & set(baseline))
    if not common:
        return None
    return PairTable.from_correct(np.stack([variant[seed] for seed in common]),
                                  np.stack([baseline[seed] for seed in common]))


def decide(results_dir: Path, comparisons: list[Comparison], training: TrainingRecipe,
           seeds_of: dict[tuple[str, str], list[int]],
           settings: Settings) -> dict[Comparison, Verdict]:
    """Verdicts of every comparison that has evidence (Holm over all of them)."""
    intervals = {}
    for dataset in dict.fromkeys(comparison.dataset for comparison in comparisons):
        tables = {}
        for comparison in comparisons:
            if comparison.dataset != dataset:
                continue
            table = pair_table(results_dir, comparison, training,
                               shared_seeds(seeds_of, comparison))
            if table is not None:
                tables[comparison] = table
        intervals.update(compare_dataset(tables) if tables else {})
    return decide_all(intervals, settings.smallest_effect, settings.alpha, settings.looks)
