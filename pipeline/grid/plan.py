"""Planning the train stage: which of the grid's runs are cached, infeasible or pending.

Planning reads records only (no TensorFlow, no writes but the infeasible cells' records),
so an up-to-date grid costs well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Project
from pipeline.data.prepared import prepared_digest
from pipeline.grid.comparisons import Settings
from pipeline.grid.expansion import GridRun, expand, expand_references
from pipeline.grid.replication import ExtraSeeds, looks_of
from pipeline.runs.records import (
    INFEASIBLE,
    base_record,
    cache_key,
    code_fingerprint,
    read_record,
    record_id,
    record_path,
    reusable_at,
    write_record,
)
from pipeline.specs.grid import GridSpec


@dataclass
class GridPlan:
    """The grid's runs sorted into what is already answered and what must train."""

    grid: GridSpec
    runs: list[GridRun]
    results_dir: Path
    pending: list[GridRun] = field(default_factory=list)
    reused: list[GridRun] = field(default_factory=list)
    infeasible: list[GridRun] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    code_version: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # record id -> cache key

    def key_of(self, run: GridRun) -> str:
        return self.keys[record_id(run.spec)]

    def stored(self, run: GridRun) -> dict | None:
        """The run's record if it was written for this very cache key."""
        record = read_record(record_path(self.results_dir, run.spec))
        return record if record is not None and record.get("cache_key") == self.key_of(
            run) else None


def evidence_settings(project: Project, grid: GridSpec) -> Settings:
    evidence = project.params.evidence
    return Settings(evidence.smallest_effect, evidence.alpha, looks_of(grid))


def plan_grid(project: Project, grid: GridSpec | None = None,
              extra_seeds: ExtraSeeds | None = None) -> GridPlan:
    """Expand the grid and check each run's stored record against its cache key (no writes)."""
    grid = grid or project.load_grid()
    runs = expand(grid, project.params.training_recipe(), extra_seeds) + expand_references(grid)
    plan = GridPlan(grid, runs, project.results_dir, code_version=code_fingerprint())
    plan.digests = {name: prepared_digest(project.prepared_dir, name) for name in grid.datasets}
    # one listing of the stored records, not a failed open for each run that has none
    stored = {path.name for path in plan.results_dir.glob("*.json")}
    for run in runs:
        key = cache_key(run.spec, plan.digests[run.spec.dataset], plan.code_version)
        plan.keys[record_id(run.spec)] = key
        path = record_path(plan.results_dir, run.spec)
        if run.infeasible:
            plan.infeasible.append(run)
        elif path.name in stored and reusable_at(path, key):
            plan.reused.append(run)
        else:
            plan.pending.append(run)
    return plan


def record_infeasible(project: Project, plan: GridPlan) -> None:
    """Write (or refresh) the record of each infeasible cell, with the reason it cannot train."""
    for run in plan.infeasible:
        key = plan.key_of(run)
        path = record_path(project.results_dir, run.spec)
        if not reusable_at(path, key):
            record = base_record(run.spec, key, plan.digests[run.spec.dataset],
                                 plan.code_version)
            record.update(status=INFEASIBLE, reason=run.infeasible)
            write_record(path, record)


def check_prepared(project: Project, todo: list[GridRun]) -> None:
    """Read each dataset the runs need here, so corrupt prepared data stops the stage with its
    one-line error before any executor (or job process) starts."""
    from pipeline.data.prepared import load_prepared

    for dataset in sorted({run.spec.dataset for run in todo}):
        load_prepared(project.prepared_dir, dataset)
