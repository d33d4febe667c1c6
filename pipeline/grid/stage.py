"""The DVC `train` stage: run every grid cell that has no valid result yet.

Planning (which cells are cached, infeasible or pending) needs no TensorFlow, so an
up-to-date grid costs well under a second; TensorFlow is imported once, only when
something has to train. Results are written one file per run as each finishes, so a
killed stage resumes with the unfinished runs only.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from pipeline.config import Project
from pipeline.data.prepared import load_prepared, prepared_digest
from pipeline.grid.expansion import GridRun, expand
from pipeline.progress import console, epoch_callback, make_progress, summary_table
from pipeline.runs.records import (
    DONE,
    INFEASIBLE,
    base_record,
    cache_key,
    code_fingerprint,
    read_record,
    record_path,
    reusable,
    write_record,
)
from pipeline.specs.grid import GridSpec


@dataclass
class GridPlan:
    """The grid's runs sorted into what is already answered and what must train."""

    grid: GridSpec
    runs: list[GridRun]
    pending: list[GridRun] = field(default_factory=list)
    reused: list[GridRun] = field(default_factory=list)
    infeasible: list[GridRun] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    code_version: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # run_key -> cache key

    def key_of(self, run: GridRun) -> str:
        return self.keys[run.spec.run_key]


@dataclass
class GridOutcome:
    plan: GridPlan
    trained: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    parent_run_id: str | None = None
    seconds: float = 0.0


def plan_grid(project: Project, grid: GridSpec | None = None) -> GridPlan:
    """Expand the grid and check each run's stored record against its cache key (no writes)."""
    grid = grid or project.load_grid()
    runs = expand(grid, project.params.training_recipe())
    plan = GridPlan(grid, runs, code_version=code_fingerprint())
    plan.digests = {name: prepared_digest(project.prepared_dir, name) for name in grid.datasets}
    for run in runs:
        key = cache_key(run.spec, plan.digests[run.spec.dataset], plan.code_version)
        plan.keys[run.spec.run_key] = key
        path = record_path(project.results_dir, run.spec)
        if run.infeasible:
            plan.infeasible.append(run)
        elif reusable(read_record(path), key):
            plan.reused.append(run)
        else:
            plan.pending.append(run)
    return plan


def record_infeasible(project: Project, plan: GridPlan) -> None:
    """Write (or refresh) the record of each infeasible cell, with the reason it cannot train."""
    for run in plan.infeasible:
        key = plan.key_of(run)
        path = record_path(project.results_dir, run.spec)
        if not reusable(read_record(path), key):
            record = base_record(run.spec, key, plan.digests[run.spec.dataset],
                                 plan.code_version)
            record.update(status=INFEASIBLE, reason=run.infeasible)
            write_record(path, record)


def run_grid(project: Project, grid: GridSpec | None = None) -> GridOutcome:
    """Train every pending run of the grid, logging each to MLflow under one parent run."""
    started = time.perf_counter()
    plan = plan_grid(project, grid)
    record_infeasible(project, plan)
    outcome = GridOutcome(plan)
    console.print(f"grid [bold]{plan.grid.name}[/]: {len(plan.runs)} runs, "
                  f"{len(plan.reused)} cached, {len(plan.infeasible)} infeasible, "
                  f"{len(plan.pending)} to train")
    if plan.pending:
        train_pending(project, plan, outcome)
    outcome.seconds = time.perf_counter() - started
    print_summary(outcome)
    return outcome


def train_pending(project: Project, plan: GridPlan, outcome: GridOutcome) -> None:
    """Train the plan's pending runs in this process, under one MLflow parent run."""
    from pipeline.runs.tracking import Tracker

    params = project.params
    tracker = Tracker(project, f"{params.mlflow.experiment_prefix}/{plan.grid.name}")
    closed = tracker.close_abandoned_runs()
    if closed:
        console.print(f"closed {closed} MLflow run(s) left RUNNING by a killed train stage")
    parent_tags = {"grid": plan.grid.name, "profile": params.profile}
    counts = {"runs.total": len(plan.runs), "runs.pending": len(plan.pending),
              "runs.cached": len(plan.reused), "runs.infeasible": len(plan.infeasible)}
    with tracker.parent_run(f"grid {plan.grid.name} ({params.profile})",
                            {**parent_tags, **counts}, parent_tags) as parent:
        outcome.parent_run_id = parent.run_id
        train_runs(project, plan.pending, tracker, parent.run_id, parent_tags, outcome)
        parent.metrics = {"runs.trained": len(outcome.trained),
                          "runs.failed": len(outcome.failed)}
        parent.failed = bool(outcome.failed)


def train_runs(project: Project, runs: list[GridRun], tracker, parent_run_id: str,
               tags: dict[str, str], outcome: GridOutcome) -> None:
    """Train `runs` one by one (dataset by dataset), writing each record as it finishes."""
    from pipeline.runs.execute import execute_run

    code_version = outcome.plan.code_version
    with make_progress() as progress:
        task = progress.add_task("training", total=len(runs))
        for dataset in outcome.plan.grid.datasets:
            selected = [run for run in runs if run.spec.dataset == dataset]
            splits = load_prepared(project.prepared_dir, dataset) if selected else None
            for run in selected:
                label = run.spec.name
                progress.update(task, description=label)
                shown = epoch_callback(progress, task, label, run.spec.training.epochs)
                record = execute_run(run.spec, splits, tracker, parent_run_id, code_version,
                                     tags, project.params.mlflow.log_models, callbacks=[shown])
                write_record(record_path(project.results_dir, run.spec), record)
                (outcome.trained if record["status"] == DONE else outcome.failed).append(
                    run.spec.run_key)
                progress.advance(task)


def print_summary(outcome: GridOutcome) -> None:
    plan = outcome.plan
    statuses = Counter({"trained": len(outcome.trained), "reused from cache": len(plan.reused),
                        "infeasible": len(plan.infeasible), "failed": len(outcome.failed)})
    rows = [(name, count) for name, count in statuses.items()]
    rows.append(("wall time", f"{outcome.seconds:.1f} s"))
    if outcome.parent_run_id:
        rows.append(("MLflow parent run", outcome.parent_run_id))
    console.print(summary_table(f"grid {plan.grid.name}: summary", rows))
    for key in outcome.failed:
        console.print(f"[red]failed[/] {key}: the reason is in results/runs/{key}-t*.json")
