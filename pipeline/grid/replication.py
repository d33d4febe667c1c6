"""Adaptive replication: more seeds only where a comparison is still undecided.

With `seeds: {initial: 2, max: 5}` every variant trains seeds 0..initial-1. Then, one look at
a time, the next seed is added to each variant whose comparison with the baseline is
undecided and to that baseline (so runs stay paired by seed; a capacity-matched control
follows the variants it controls, and variant-against-control comparisons count), until
every comparison is decided, `max` seeds are reached, or the next look would exceed
`extra_runs`. Decisions use only stored results, so the same results give the same seeds
(DVC and the run cache stay valid), and each look tests at alpha / looks (Bonferroni over
the looks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.evidence.verdicts import UNDECIDED
from pipeline.grid.comparisons import Settings, decide
from pipeline.grid.controls import all_comparisons
from pipeline.grid.expansion import expand
from pipeline.runs.records import read_record, record_path
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
    """How many times the data are looked at: 1 for fixed seeds, max - initial + 1 else."""
    if isinstance(grid.seeds, AdaptiveSeeds):
        return grid.seeds.max - grid.seeds.initial + 1
    return 1


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
    if not isinstance(grid.seeds, AdaptiveSeeds):
        return Replication()
    outcome = Replication(stopped="every comparison decided")
    budget = grid.seeds.extra_runs if grid.seeds.extra_runs is not None else float("inf")
    comparisons = all_comparisons(grid)
    for seed in range(grid.seeds.initial, grid.seeds.max):
        verdicts = decide(results_dir, comparisons, training,
                          seeds_of(grid, training, outcome.extra_seeds), settings)
        undecided = [c for c in comparisons if c in verdicts and verdicts[c].verdict == UNDECIDED]
        additions = list(dict.fromkeys(
            key for c in undecided for key in ((c.dataset, c.variant_id),
                                               (c.dataset, c.baseline_id))))
        if not additions:
            return outcome
        extra = {key: list(seeds) for key, seeds in outcome.extra_seeds.items()}
        for key in additions:
            extra.setdefault(key, []).append(seed)
        added = len(expand(grid, training, extra)) - len(expand(grid, training,
                                                                outcome.extra_seeds))
        if added > budget:
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
