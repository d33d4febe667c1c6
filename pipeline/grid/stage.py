"""The DVC `train` stage: run every grid cell that has no valid result yet.

Planning (which cells are cached, infeasible or pending) needs no TensorFlow, so an
up-to-date grid costs well under a second; TensorFlow is imported once, only when
something has to train. Results are written one file per run as each finishes, so a
killed stage resumes with the unfinished runs only. After the initial seeds, adaptive
grids add seeds where a comparison is still undecided (pipeline.grid.replication).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field

from pipeline.config import Project
from pipeline.data.prepared import load_prepared, prepared_digest
from pipeline.grid.comparisons import Settings
from pipeline.grid.expansion import GridRun, expand, expand_references
from pipeline.grid.replication import ExtraSeeds, looks_of, replicate
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


def evidence_settings(project: Project, grid: GridSpec) -> Settings:
    evidence = project.params.evidence
    return Settings(evidence.smallest_effect, evidence.alpha, looks_of(grid))


def plan_grid(project: Project, grid: GridSpec | None = None,
              extra_seeds: ExtraSeeds | None = None) -> GridPlan:
    """Expand the grid and check each run's stored record against its cache key (no writes)."""
    grid = grid or project.load_grid()
    runs = expand(grid, project.params.training_recipe(), extra_seeds) + expand_references(grid)
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
    """Train every pending run of the grid (initial seeds, then adaptive ones), logging each
    to MLflow under one parent run opened when the first run trains."""
    started = time.perf_counter()
    grid = grid or project.load_grid()
    plan = plan_grid(project, grid)
    record_infeasible(project, plan)
    outcome = GridOutcome(plan)
    console.print(f"grid [bold]{plan.grid.name}[/]: {len(plan.runs)} runs, "
                  f"{len(plan.reused)} cached, {len(plan.infeasible)} infeasible, "
                  f"{len(plan.pending)} to train")
    with ParentRunOnDemand(project, outcome) as trainer:
        trainer.train(plan.pending)

        def train_added(extra: ExtraSeeds) -> None:
            added = plan_grid(project, grid, extra)
            console.print(f"adaptive seeds: {len(added.pending)} more run(s) where a "
                          f"comparison is still undecided")
            trainer.train(added.pending)
            outcome.plan = added

        replication = replicate(grid, project.params.training_recipe(), project.results_dir,
                                evidence_settings(project, grid), train=train_added)
    outcome.seconds = time.perf_counter() - started
    print_summary(outcome, replication.stopped if replication.looks else None)
    return outcome


class ParentRunOnDemand:
    """Trains batches of runs under one MLflow parent run, opened only when a run trains."""

    def __init__(self, project: Project, outcome: GridOutcome):
        self.project, self.outcome = project, outcome
        self.stack = ExitStack()
        self.tracker = self.parent = None

    def __enter__(self) -> ParentRunOnDemand:
        self.stack.__enter__()
        return self

    def __exit__(self, *exc_info) -> bool:
        if self.parent is not None:
            self.parent.metrics = {"runs.trained": len(self.outcome.trained),
                                   "runs.failed": len(self.outcome.failed)}
            self.parent.failed = bool(self.outcome.failed)
        return self.stack.__exit__(*exc_info)

    def train(self, runs: list[GridRun]) -> None:
        if not runs:
            return
        if self.parent is None:
            self.open()
        train_runs(self.project, runs, self.tracker, self.parent.run_id, self.tags,
                   self.outcome)

    def open(self) -> None:
        from pipeline.runs.tracking import Tracker, experiment_name

        params, plan = self.project.params, self.outcome.plan
        self.tracker = Tracker(self.project,
                               experiment_name(self.project, plan.grid.name),
                               description=plan.grid.description)
        closed = self.tracker.close_abandoned_runs()
        if closed:
            console.print(f"closed {closed} MLflow run(s) left RUNNING by a killed train stage")
        self.tags = {"grid": plan.grid.name, "profile": params.profile}
        counts = {"runs.total": len(plan.runs), "runs.pending": len(plan.pending),
                  "runs.cached": len(plan.reused), "runs.infeasible": len(plan.infeasible)}
        self.parent = self.stack.enter_context(self.tracker.parent_run(
            f"grid {plan.grid.name} ({params.profile})", {**self.tags, **counts}, self.tags))
        self.outcome.parent_run_id = self.parent.run_id


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


def print_summary(outcome: GridOutcome, replication: str | None = None) -> None:
    plan = outcome.plan
    reused = len(plan.reused) - len(outcome.trained)  # the final plan counts this run's too
    statuses = Counter({"trained": len(outcome.trained), "reused from cache": reused,
                        "infeasible": len(plan.infeasible), "failed": len(outcome.failed)})
    rows = [(name, count) for name, count in statuses.items()]
    if replication:
        rows.append(("adaptive seeds", replication))
    rows.append(("wall time", f"{outcome.seconds:.1f} s"))
    if outcome.parent_run_id:
        rows.append(("MLflow parent run", outcome.parent_run_id))
    console.print(summary_table(f"grid {plan.grid.name}: summary", rows))
    for key in outcome.failed:
        console.print(f"[red]failed[/] {key}: the reason is in results/runs/{key}-t*.json")
