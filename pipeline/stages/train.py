"""DVC stage `train`: train every run of the active profile's grid that has no valid result.

`python -m pipeline.stages.train [--params FILE] [--jobs N] [--storage URL] ...`, also
`python -m pipeline train`. Writes reports/run.json (the profile's effective settings),
shares the run cache with the home project (DVC queue copies), restores records kept as
committed evidence, prints the count and ETA (refusing one over the profile's `max_hours`),
then trains with the chosen executor (pipeline.grid.executor): N local jobs, this process,
or a shared Optuna study. `run_grid` is the stage's one loop for every executor.
"""

from __future__ import annotations

import argparse
import time

from pipeline.config import Project
from pipeline.grid.eta import Eta, guard_training, measured_eta
from pipeline.grid.executor import Executor, InProcess
from pipeline.grid.outcome import GridOutcome, announce, print_summary
from pipeline.grid.parent_run import ParentOnDemand
from pipeline.grid.plan import check_prepared, evidence_settings, plan_grid, record_infeasible
from pipeline.grid.replication import replicate
from pipeline.grid.settings import write_run_settings
from pipeline.progress import console
from pipeline.runs.committed_evidence import evidence_dir, seed_from_evidence
from pipeline.runs.records import record_id
from pipeline.runs.shared_cache import shared_run_cache
from pipeline.specs.grid import GridSpec
from pipeline.stages.arguments import add_storage_options, jobs_value, stage_main
from pipeline.stages.checks import check_stores, grid_study
from pipeline.training.threads import fix_threads
from pipeline.workers.coordinator import StudyExecutor
from pipeline.workers.local import LocalJobs, job_count
from pipeline.workers.worker import WorkerSettings


def add_options(parser: argparse.ArgumentParser) -> None:
    add_storage_options(parser)
    parser.add_argument("--no-work", action="store_true",
                        help="with --storage: only enqueue and wait for other workers")
    parser.add_argument("--jobs", default=None, type=jobs_value, metavar="N|auto",
                        help="training processes on this machine (default: params `jobs`, "
                             "auto = one per core); results are the same for any N")
    parser.add_argument("--max-hours", type=float, default=None, metavar="HOURS",
                        help="train if the ETA is within HOURS (default: profile max_hours)")
    parser.add_argument("--force", action="store_true", help="train whatever the ETA")
    parser.add_argument("--in-process", action="store_true",
                        help="train here, one run after another, not in job processes "
                             "(debugging; memory grows about 9 MB a run)")


def run(project: Project, arguments: argparse.Namespace) -> None:
    fix_threads()  # before TensorFlow starts (the ETA's calibration may start it)
    write_run_settings(project)
    with shared_run_cache(project):
        folder = evidence_dir(project.reports_dir)
        if seeded := seed_from_evidence(folder, project.results_dir):
            console.print(f"evidence: {seeded} record(s) restored from {folder}")
        storage = arguments.storage or project.params.workers.storage
        check_stores(project, storage)
        executor = choose_executor(project, arguments, storage)
        eta = guard_training(project, plan_grid(project).pending, executor.jobs,
                             max_hours=arguments.max_hours, force=arguments.force)
        outcome = run_grid(project, executor, eta=eta)
    if outcome.failed:
        console.print(f"[yellow]{len(outcome.failed)} run(s) failed[/]; the report lists them. "
                      "Fix the cause, then `dvc repro -f -s train` retrains only those.")


def choose_executor(project: Project, arguments: argparse.Namespace,
                    storage: str | None) -> Executor:
    """A shared study when a storage is given; this process with --in-process; else N local
    job processes."""
    if arguments.in_process:
        return InProcess(project)
    if storage is not None:
        return StudyExecutor(project, storage, grid_study(project, arguments.study),
                             WorkerSettings.from_params(project.params.workers),
                             work_here=not arguments.no_work)
    return LocalJobs(project, job_count(arguments.jobs or project.params.jobs))


def run_grid(project: Project, executor: Executor | None = None,
             grid: GridSpec | None = None, eta: Eta | None = None) -> GridOutcome:
    """Plan, execute the pending runs with `executor` (default: this process), then ask the
    adaptive replication (a pure function of the stored records) for more seeds; until none
    is added. Every run is logged under one MLflow parent run, opened when the first trains;
    records are written one per run as each finishes, so a killed stage resumes. `eta`
    estimates the first look (its progress shows it until records measure better)."""
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
            if extra is not None:  # an adaptive look: its ETA from the records so far
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


if __name__ == "__main__":
    raise SystemExit(stage_main("train", add_options, run))
