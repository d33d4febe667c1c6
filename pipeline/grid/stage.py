"""The DVC `train` stage: run every grid cell that has no valid result yet.

One loop for every executor (pipeline.grid.executor): plan, execute the pending runs, then
ask the adaptive replication (a pure function of the stored results) for more seeds; until
none is added. Records are written one per run as each finishes, so a killed stage resumes.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.config import Project
from pipeline.grid.eta import Eta, duration_text, measured_eta
from pipeline.grid.executor import Executor, InProcess
from pipeline.grid.expansion import GridRun
from pipeline.grid.plan import GridPlan, evidence_settings, plan_grid, record_infeasible
from pipeline.grid.replication import replicate
from pipeline.progress import console, summary_table
from pipeline.runs.records import DONE, record_id
from pipeline.specs.grid import GridSpec

if TYPE_CHECKING:
    from pipeline.runs.execute import RunContext


@dataclass
class GridOutcome:
    """What one train stage did. Each run of the final plan is in exactly one list, counted
    when first planned (cached, infeasible) or when executed (trained, failed, unfinished)."""

    plan: GridPlan | None = None
    trained: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # no record: workers lost, say
    adaptive: str | None = None
    parent_run_id: str | None = None
    seconds: float = 0.0

    @property
    def executed(self) -> set[str]:
        return {*self.trained, *self.failed, *self.unfinished}

    def count(self, plan: GridPlan, executed: list[GridRun] = ()) -> None:
        """Count the cached runs this plan shows first, then the outcome of `executed`."""
        self.plan = plan
        seen = {*self.executed, *self.reused}
        self.reused += [record_id(run.spec) for run in plan.reused
                        if record_id(run.spec) not in seen]
        for run in executed:
            record = plan.stored(run)
            status = record["status"] if record else None
            target = self.trained if status == DONE else self.failed if record else \
                self.unfinished
            target.append(record_id(run.spec))


def run_grid(project: Project, executor: Executor | None = None,
             grid: GridSpec | None = None, eta: Eta | None = None) -> GridOutcome:
    """Train every pending run of the grid, initial seeds then adaptive ones, with `executor`
    (default: in this process), under one MLflow parent run opened when the first run trains.
    `eta` estimates the first round (its progress shows it until records measure better)."""
    started = time.perf_counter()
    grid = grid or project.load_grid()
    executor = executor or InProcess(project)
    settings, training = evidence_settings(project, grid), project.params.training_recipe()
    outcome, extra = GridOutcome(), None
    with ParentOnDemand(project, grid, executor.tags, outcome) as parent:
        while True:
            plan = plan_grid(project, grid, extra)
            record_infeasible(project, plan)
            todo = [run for run in plan.pending if record_id(run.spec) not in outcome.executed]
            if extra is not None:  # an adaptive round: its ETA from the records so far
                eta = measured_eta(project, todo, executor.jobs)
            announce(plan, todo, eta, first=extra is None)
            if todo:
                check_prepared(project, todo)
                executor.execute(plan, todo, parent.context(plan), eta)
            outcome.count(plan, todo)
            replication = replicate(grid, training, project.results_dir, settings)
            if replication.extra_seeds == (extra or {}):
                break
            extra = replication.extra_seeds
    outcome.adaptive = replication.stopped if replication.looks else None
    outcome.seconds = time.perf_counter() - started
    print_summary(outcome)
    return outcome


class ParentOnDemand(ExitStack):
    """The stage's MLflow parent run, opened when the first run is about to train; it ends
    with the trained and failed counts."""

    def __init__(self, project: Project, grid: GridSpec, tags: dict[str, str],
                 outcome: GridOutcome):
        super().__init__()
        self.project, self.grid, self.outcome = project, grid, outcome
        self.tags = {"grid": grid.name, "profile": project.params.profile}
        self.parent_tags = {**self.tags, **tags}
        self.parent = self.opened = None

    def __exit__(self, *exc_info) -> bool:
        if self.parent is not None:
            self.parent.metrics = {"runs.trained": len(self.outcome.trained),
                                   "runs.failed": len(self.outcome.failed)}
            self.parent.failed = bool(self.outcome.failed or self.outcome.unfinished)
        return super().__exit__(*exc_info)

    def context(self, plan: GridPlan) -> RunContext:
        """The run context under the parent run (opened, with the plan's counts, at first)."""
        from pipeline.runs.execute import RunContext
        from pipeline.runs.tracking import Tracker, experiment_name

        if self.opened is None:
            tracker = Tracker(self.project, experiment_name(self.project, self.grid.name),
                              description=self.grid.description)
            if closed := tracker.close_abandoned_runs():
                console.print(f"closed {closed} MLflow run(s) left RUNNING by a killed stage")
            counts = {"runs.total": len(plan.runs), "runs.pending": len(plan.pending),
                      "runs.cached": len(plan.reused), "runs.infeasible": len(plan.infeasible)}
            self.parent = self.enter_context(tracker.parent_run(
                f"grid {self.grid.name} ({self.project.params.profile})",
                {**self.parent_tags, **counts}, self.parent_tags))
            self.outcome.parent_run_id = self.parent.run_id
            self.opened = RunContext(tracker, self.parent.run_id, plan.code_version, self.tags)
        return self.opened


def check_prepared(project: Project, todo: list[GridRun]) -> None:
    """Read each dataset the runs need here, so corrupt prepared data stops the stage with its
    one-line error before any executor (or job process) starts."""
    from pipeline.data.prepared import load_prepared

    for dataset in sorted({run.spec.dataset for run in todo}):
        load_prepared(project.prepared_dir, dataset)


def announce(plan: GridPlan, todo: list[GridRun], eta: Eta | None, first: bool) -> None:
    if first:
        console.print(f"grid [bold]{plan.grid.name}[/]: {len(plan.runs)} runs, "
                      f"{len(plan.reused)} cached, {len(plan.infeasible)} infeasible, "
                      f"{len(todo)} to train")
    elif todo:
        expected = f", expected {duration_text(eta.seconds)}" if eta is not None else ""
        console.print(f"more seeds: {len(todo)} more run(s) where a comparison is still "
                      f"undecided{expected}", highlight=False)


def print_summary(outcome: GridOutcome) -> None:
    """The one summary of the train stage (its counts add up to the final plan's runs)."""
    rows = [("trained", len(outcome.trained)), ("reused from cache", len(outcome.reused)),
            ("infeasible", len(outcome.plan.infeasible)), ("failed", len(outcome.failed))]
    if outcome.unfinished:
        rows.append(("unfinished (no record)", len(outcome.unfinished)))
    if outcome.adaptive:
        rows.append(("adaptive seeds", outcome.adaptive))
    rows.append(("wall time", f"{outcome.seconds:.1f} s"))
    if outcome.parent_run_id:
        rows.append(("MLflow parent run", outcome.parent_run_id))
    console.print(summary_table(f"grid {outcome.plan.grid.name}: summary", rows))
    for key in outcome.failed:
        console.print(f"[red]failed[/] {key}: the reason is in results/runs/{key}.json")
