"""The comparisons a grid answers, and their paired evidence from the stored runs.

Each CNN variant is compared with the baseline CNN (its `factor` is the grid axis, or crossed
group of axes, it changes) and each Dense network with the baseline CNN (`cnn_vs_dense`), per
dataset. Runs are paired by seed and all variants are scored on the same test images, so a
comparison is the per-seed 2x2 table of right/wrong images (pipeline.evidence). Verdicts are
read from intervals adjusted (Bonferroni) over every comparison of the grid and over the looks
when seeds were added adaptively. `decide` takes any list of comparisons (a variant run set
against a reference run set), so controls and other references reuse it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.config import EvidenceConfig
from pipeline.evidence.paired import PairTable, compare_dataset, seed_noise_homogeneity
from pipeline.evidence.settle import Settle, settle
from pipeline.evidence.verdicts import UNDECIDED, Verdict, decide_all
from pipeline.grid.expansion import grid_models
from pipeline.model.shapes import check_feasible
from pipeline.runs.records import (
    DONE,
    RETRAIN,
    EvidenceError,
    evidence_path,
    read_evidence,
    read_record,
    record_path,
)
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
    lengths = {(model, seed): len(right) for model, found in
               ((comparison.variant, variant), (comparison.baseline, baseline))
               for seed, right in found.items()}
    if len(set(lengths.values())) > 1:
        raise unequal_evidence(results_dir, comparison, training, lengths)
    return paired_by_seed(variant, baseline)


def shared_seeds(seeds_of: dict[tuple[str, str], list[int]],
                 comparison: Comparison) -> list[int]:
    """The seeds both sides of `comparison` are planned with, in order: the paired runs."""
    return sorted(set(seeds_of[(comparison.dataset, comparison.variant_id)])
                  & set(seeds_of[(comparison.dataset, comparison.baseline_id)]))
def unequal_evidence(results_dir: Path, comparison: Comparison, training: TrainingRecipe,
                     lengths: dict) -> EvidenceError:
    """One line naming the predictions file whose length differs from the others' (the
    smallest group of lengths), instead of a ValueError from the paired statistics."""
    counts = Counter(lengths.values())
    odd = min(counts, key=lambda length: (counts[length], length))
    usual = max(counts, key=lambda length: (counts[length], -length))
    model, seed = next(key for key, length in lengths.items() if length == odd)
    path = evidence_path(record_path(results_dir, RunSpec(
        dataset=comparison.dataset, seed=seed, model=model, training=training)))
    return EvidenceError(f"{path}: {odd} predictions where the other runs of "
                         f"{comparison.dataset} have {usual}; delete it and {RETRAIN}")


def paired_by_seed(variant: dict[int, np.ndarray],
                   baseline: dict[int, np.ndarray]) -> PairTable | None:
    """The 2x2 tables over the seeds both sides finished, or None if they share none."""
    common = sorted(set(variant) & set(baseline))
    if not common:
        return None
    return PairTable.from_correct(np.stack([variant[seed] for seed in common]),
                                  np.stack([baseline[seed] for seed in common]))


def dataset_tables(results_dir: Path, comparisons: list[Comparison], training: TrainingRecipe,
                   seeds_of: dict[tuple[str, str], list[int]]) -> dict[Comparison, PairTable]:
    """Each comparison's 2x2 tables over the seeds both sides have and finished."""
    tables = {}
    for comparison in comparisons:
        table = pair_table(results_dir, comparison, training,
                           shared_seeds(seeds_of, comparison))
        if table is not None:
            tables[comparison] = table
    return tables


def by_dataset(tables: dict[Comparison, PairTable]) -> dict[str, dict[Comparison, PairTable]]:
    """The tables split per dataset: the unit whose seed variance is pooled."""
    split: dict[str, dict[Comparison, PairTable]] = {}
    for comparison, table in tables.items():
        split.setdefault(comparison.dataset, {})[comparison] = table
    return split


def decide_tables(tables: dict[Comparison, PairTable],
                  settings: Settings) -> dict[Comparison, Verdict]:
    """Verdicts of the given tables: seed variance per dataset, one family for all."""
    intervals = {}
    for group in by_dataset(tables).values():
        intervals.update(compare_dataset(group))
    return decide_all(intervals, settings.smallest_effect, settings.alpha, settings.looks)


def decide(results_dir: Path, comparisons: list[Comparison], training: TrainingRecipe,
           seeds_of: dict[tuple[str, str], list[int]],
           settings: Settings) -> dict[Comparison, Verdict]:
    """Verdicts of every comparison that has evidence (one family: all of them)."""
    return decide_tables(dataset_tables(results_dir, comparisons, training, seeds_of),
                         settings)


def settle_all(tables: dict[Comparison, PairTable], verdicts: dict[Comparison, Verdict],
               settings: Settings, power: float = 0.8) -> dict[Comparison, Settle]:
    """Floor and seeds per side to reach `power`, for every undecided comparison."""
    equivalence = 1 - 2 * settings.alpha / settings.looks
    return {comparison: settle(tables[comparison], found, found.adjusted_level, equivalence,
                               settings.smallest_effect, power)
            for comparison, found in verdicts.items()
            if found.verdict == UNDECIDED and not math.isnan(found.standard_error)}


def noise_checks(tables: dict[Comparison, PairTable]) -> dict[str, tuple[float, int]]:
    """Per dataset: Bartlett's p that its models share one run variance, models tested."""
    return {dataset: seed_noise_homogeneity(list(group.values()))
            for dataset, group in by_dataset(tables).items()}
