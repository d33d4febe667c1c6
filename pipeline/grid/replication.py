"""Adaptive replication: more seeds only where a comparison is still undecided.

With `seeds: {initial: 2, max: 5}` every variant trains seeds 0..initial-1. Then, one look at
a time, the next seed is added to each variant whose comparison with the baseline is
undecided and to that baseline (so runs stay paired by seed; a capacity-matched control
follows the variants it controls, and variant-against-control comparisons count). A look
spends what is left of `extra_runs` on the undecided comparisons nearest a decision first
(largest |Δ| / SE), as many as fit; replication stops when every comparison is decided,
`max` seeds are reached, or no undecided comparison's runs fit the budget left. Decisions
use only stored results, so the same results give the same seeds
(DVC and the run cache stay valid), and each look tests at alpha / looks (Bonferroni over
the looks).

A grid with a seed list and `settle: {power, max_minutes}` looks once more instead: each
comparison still undecided at its listed seeds whose seeds for that power at its observed
Δ cost at most `max_minutes` of training (pipeline.evidence.settle, priced with the runs'
measured times) gets those seeds, variant and baseline alike, cheapest first within
`total_minutes` if the grid gives one; two looks in all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.evidence.verdicts import UNDECIDED
from pipeline.grid.comparisons import (
    Comparison,
    Settings,
    dataset_tables,
    decide,
    decide_tables,
    settle_all,
)
from pipeline.grid.controls import all_comparisons
from pipeline.grid.expansion import expand
from pipeline.runs.records import DONE, read_record, record_path
from pipeline.specs.grid import AdaptiveSeeds, GridSpec
from pipeline.specs.recipe import TrainingRecipe

ExtraSeeds = dict[tuple[str, str], list[int]]


@dataclass
class Replication:
    """Seeds added per (dataset, variant id), and why the additions stopped."""

    extra_seeds: ExtraSeeds = field(default_factory=dict)
    looks: list[dict] = field(default_factory=list)  # per look: seed, undecided, added
    stopped: str = "fixed seeds"


def looks_of(grid: GridSpec) -> int:
    """How many times the data are looked at: 1 for fixed seeds (2 with `settle`),
    max - initial + 1 for adaptive ones."""
    if isinstance(grid.seeds, AdaptiveSeeds):
        return grid.seeds.max - grid.seeds.initial + 1
    return 2 if grid.settle is not None else 1


def seeds_of(grid: GridSpec, training: TrainingRecipe, extra: ExtraSeeds) -> ExtraSeeds:
    """(dataset, variant id) -> every seed that variant has (initial + added)."""
    found: ExtraSeeds = {}
    for run in expand(grid, training, extra):
        found.setdefault((run.spec.dataset, run.spec.variant_id), []).append(run.spec.seed)
    return found


def all_finished(results_dir: Path, grid: GridSpec, training: TrainingRecipe,
                 extra: ExtraSeeds) -> bool:
    """True when every feasible run of the grid with `extra` seeds has a record."""
    return all(read_record(record_path(results_dir, run.spec)) is not None
               for run in expand(grid, training, extra) if not run.infeasible)


def replicate(grid: GridSpec, training: TrainingRecipe, results_dir: Path,
              settings: Settings) -> Replication:
    """The adaptive seed additions the stored results call for: a pure function of them.

    The replay goes look by look and stops at the first look whose runs are not all stored
    yet; its seeds are in `extra_seeds` (the train stage trains them and asks again).
    """
    if grid.settle is not None:
        return settle_look(grid, training, results_dir, settings)
    if not isinstance(grid.seeds, AdaptiveSeeds):
        return Replication()
    outcome = Replication(stopped="every comparison decided")
    budget = grid.seeds.extra_runs if grid.seeds.extra_runs is not None else float("inf")
    comparisons = all_comparisons(grid)
    for seed in range(grid.seeds.initial, grid.seeds.max):
        verdicts = decide(results_dir, comparisons, training,
                          seeds_of(grid, training, outcome.extra_seeds), settings)
        undecided = [c for c in comparisons if c in verdicts and verdicts[c].verdict == UNDECIDED]
        if not undecided:
            return outcome
        extra, added = within_budget(grid, training, outcome.extra_seeds, seed,
                                     closest_first(undecided, verdicts), budget)
        if not added:
            outcome.stopped = f"budget of {grid.seeds.extra_runs} extra runs reached"
            return outcome
        budget -= added
        outcome.extra_seeds = extra
        outcome.looks.append({"seed": seed, "undecided": len(undecided),
                              "runs_added": added})
        if not all_finished(results_dir, grid, training, outcome.extra_seeds):
            outcome.stopped = f"runs of seed {seed} not trained yet"
            return outcome
    outcome.stopped = f"max {grid.seeds.max} seeds reached"
    return outcome


def closest_first(undecided: list[Comparison], verdicts: dict) -> list[Comparison]:
    """Undecided comparisons, the one nearest a decision (largest |Δ| / SE) first; those
    without an interval last, in grid order."""
    def distance(comparison: Comparison) -> float:
        found = verdicts[comparison]
        ratio = abs(found.delta) / found.standard_error if found.standard_error else 0.0
        return -ratio if math.isfinite(ratio) else 0.0
    return sorted(undecided, key=distance)


def within_budget(grid: GridSpec, training: TrainingRecipe, extra: ExtraSeeds, seed: int,
                  ordered: list[Comparison], budget: float) -> tuple[ExtraSeeds, int]:
    """`extra` plus `seed` for each comparison of `ordered`, both sides (and the controls that
    follow a variant), as many as fit in `budget` runs, in order; and the runs they add."""
    chosen = {key: list(seeds) for key, seeds in extra.items()}
    base = len(expand(grid, training, extra))
    for comparison in ordered:
        trial = {key: list(seeds) for key, seeds in chosen.items()}
        for key in ((comparison.dataset, comparison.variant_id),
                    (comparison.dataset, comparison.baseline_id)):
            if seed not in trial.setdefault(key, []):
                trial[key].append(seed)
        if len(expand(grid, training, trial)) - base <= budget:
            chosen = trial
    return chosen, len(expand(grid, training, chosen)) - base


def mean_minutes(results_dir: Path, grid: GridSpec, training: TrainingRecipe
                 ) -> dict[tuple[str, str], float]:
    """(dataset, variant id) -> mean training minutes of its finished runs."""
    times: dict[tuple[str, str], list[float]] = {}
    for run in expand(grid, training):
        record = read_record(record_path(results_dir, run.spec)) or {}
        if record.get("status") == DONE:
            key = (run.spec.dataset, run.spec.variant_id)
            times.setdefault(key, []).append(record["metrics"]["time/train_s"] / 60)
    return {key: sum(values) / len(values) for key, values in times.items()}


def settle_targets(grid: GridSpec, training: TrainingRecipe, results_dir: Path,
                   settings: Settings) -> tuple[dict[Comparison, int], int]:
    """Seeds per side for each undecided comparison that the settle budget affords, and how
    many undecided comparisons there were (decided from the listed seeds' runs alone)."""
    comparisons = all_comparisons(grid)
    tables = dataset_tables(results_dir, comparisons, training, seeds_of(grid, training, {}))
    verdicts = decide_tables(tables, settings)
    minutes = mean_minutes(results_dir, grid, training)
    affordable = {}
    for comparison, found in settle_all(tables, verdicts, settings, grid.settle.power).items():
        have, target = verdicts[comparison].seeds, found.seeds_at_delta
        pair = [minutes.get((comparison.dataset, identifier), float("inf"))
                for identifier in (comparison.variant_id, comparison.baseline_id)]
        if target is not None and (target - have) * sum(pair) <= grid.settle.max_minutes:
            affordable[comparison] = (target, have, (target - have) * sum(pair))
    undecided = sum(found.verdict == UNDECIDED for found in verdicts.values())
    return within_total(affordable, minutes, grid.settle.total_minutes), undecided


def within_total(affordable: dict[Comparison, tuple[int, int, float]],
                 minutes: dict[tuple[str, str], float], total: float | None
                 ) -> dict[Comparison, int]:
    """The cheapest comparisons first (`affordable`: target seeds, seeds now, minutes), each
    at its target, while the added minutes stay within `total`; a side shared with one
    already chosen (a baseline) is paid once, up to the highest target."""
    chosen: dict[Comparison, int] = {}
    seeds: dict[tuple[str, str], int] = {}
    spent = 0.0
    for comparison, (target, have, _) in sorted(affordable.items(),
                                                key=lambda item: item[1][2]):
        sides = [(comparison.dataset, identifier)
                 for identifier in (comparison.variant_id, comparison.baseline_id)]
        extra = sum(max(0, target - seeds.get(side, have)) * minutes[side] for side in sides)
        if total is not None and spent + extra > total:
            continue
        spent += extra
        chosen[comparison] = target
        for side in sides:
            seeds[side] = max(seeds.get(side, 0), target)
    return chosen


def settle_look(grid: GridSpec, training: TrainingRecipe, results_dir: Path,
                settings: Settings) -> Replication:
    """The `settle` look: the seeds the affordable undecided comparisons need, both sides."""
    chosen, undecided = settle_targets(grid, training, results_dir, settings)
    listed = list(grid.initial_seeds)
    wanted: dict[tuple[str, str], int] = {}
    for comparison, target in chosen.items():
        for identifier in (comparison.variant_id, comparison.baseline_id):
            key = (comparison.dataset, identifier)
            wanted[key] = max(wanted.get(key, 0), target)
    extra = {key: list(range(max(listed) + 1, max(listed) + 1 + target - len(listed)))
             for key, target in wanted.items() if target > len(listed)}
    added = len(expand(grid, training, extra)) - len(expand(grid, training))
    outcome = Replication(extra, [{"seed": "settle", "undecided": undecided,
                                   "runs_added": added}],
                          f"settle: {len(chosen)} of {undecided} undecided comparison(s) "
                          f"within {grid.settle.max_minutes:g} min each{grid.settle.total_text}")
    if not all_finished(results_dir, grid, training, extra):
        outcome.stopped += "; their runs not all trained yet"
    return outcome
