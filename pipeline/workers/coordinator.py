"""Several workers on one grid: cells go through an Optuna study on a shared storage.

The coordinator (the DVC train stage, given a storage) enqueues every pending cell once,
creates the MLflow experiment and parent run before fan-out, works as one worker among
others, waits until no cell is waiting or running, then writes every result into
results/runs. An adaptive grid then repeats that round for each look's added seeds, as the
single-process train stage does. `python -m pipeline worker` joins from any machine that
reaches the storage and has the prepared data.
"""

from __future__ import annotations

import json
import time

import optuna
from optuna.trial import TrialState

from pipeline.config import Project
from pipeline.grid.replication import ExtraSeeds, all_finished, replicate
from pipeline.grid.stage import (
    GridOutcome,
    GridPlan,
    evidence_settings,
    plan_grid,
    record_infeasible,
)
from pipeline.progress import console, summary_table
from pipeline.redaction import redact
from pipeline.runs.records import (
    EVIDENCE,
    decode_evidence,
    read_record,
    record_path,
    reusable,
    write_record,
)
from pipeline.specs.run import RunSpec
from pipeline.workers.queue import count, open_storage
from pipeline.workers.worker import (
    WorkerOutcome,
    WorkerSettings,
    reap_cells,
    work,
)

ACTIVE = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)


def grid_study_name(grid_name: str) -> str:
    return f"grid-{grid_name}"


def open_grid_study(storage_url: str, name: str) -> optuna.Study:
    return optuna.create_study(storage=open_storage(storage_url), study_name=name,
                               direction="maximize", load_if_exists=True)


def enqueue_cells(study: optuna.Study, plan: GridPlan) -> int:
    """Enqueue each pending cell once (a cell already waiting, running or done is skipped)."""
    known = {trial.user_attrs.get("cache_key") for trial in study.get_trials(states=ACTIVE)}
    enqueued = 0
    for run in plan.pending:
        key = plan.key_of(run)
        if key not in known:
            study.enqueue_trial({}, user_attrs={"run_key": run.spec.run_key, "cache_key": key,
                                                "spec": run.spec.model_dump_json()})
            enqueued += 1
    return enqueued


def publish(study: optuna.Study, plan: GridPlan, tracker, parent_run_id: str,
            log_models: bool) -> None:
    """What workers need to join: code version, data digests, the MLflow parent run."""
    for key, value in {"kind": "grid", "grid": plan.grid.name, "code_version": plan.code_version,
                       "digests": plan.digests, "mlflow_tracking_uri": redact(tracker.uri),
                       "mlflow_experiment": tracker.experiment_name,
                       "mlflow_parent_run_id": parent_run_id,
                       "log_models": log_models}.items():
        study.set_user_attr(key, value)


def enqueue_grid(project: Project, storage_url: str, study_name: str | None,
                 plan: GridPlan, tracker, parent_run_id: str) -> tuple[optuna.Study, int]:
    """Create or load the grid's study, enqueue its pending cells, publish the join info."""
    name = study_name or grid_study_name(plan.grid.name)
    study = open_grid_study(storage_url, name)
    enqueued = enqueue_cells(study, plan)
    publish(study, plan, tracker, parent_run_id, project.params.mlflow.log_models)
    console.print(f"study [bold]{name}[/]: enqueued {enqueued} cells "
                  f"({len(plan.pending) - enqueued} already queued or done)")
    return study, enqueued


def enqueue_only(project: Project, storage_url: str, study_name: str | None = None):
    """Enqueue the grid for workers started by someone else (benchmarks, tests): the parent
    run stays open for their child runs. Returns the study, the plan and the parent run id."""
    from pipeline.runs.tracking import Tracker, experiment_name

    plan = plan_grid(project)
    params = project.params
    tracker = Tracker(project, experiment_name(project, plan.grid.name),
                      description=plan.grid.description)
    parent = tracker.start_parent(f"grid {plan.grid.name} ({params.profile}, workers)",
                                  {"grid": plan.grid.name}, {"grid": plan.grid.name})
    study, _ = enqueue_grid(project, storage_url, study_name, plan, tracker, parent)
    return study, plan, parent


def collect_results(study: optuna.Study, project: Project) -> int:
    """Write the record of every finished cell of the study into results/runs."""
    written = 0
    for trial in study.get_trials(states=(TrialState.COMPLETE, TrialState.FAIL)):
        if "record" not in trial.user_attrs:
            continue
        record = json.loads(trial.user_attrs["record"])
        if "evidence" in trial.user_attrs:
            record[EVIDENCE] = decode_evidence(trial.user_attrs["evidence"])
        spec = RunSpec.model_validate(record["spec"])
        path = record_path(project.results_dir, spec)
        if not reusable(read_record(path), record["cache_key"]):
            write_record(path, record)
            written += 1
    return written


class Rounds:
    """Rounds of work on the study: enqueue cells, work here, wait for the others, collect.
    The initial seeds are the first round; each adaptive look adds one more."""

    def __init__(self, project: Project, study: optuna.Study, settings: WorkerSettings,
                 tracker, work_here: bool):
        self.project, self.study, self.settings = project, study, settings
        self.tracker, self.work_here = tracker, work_here
        self.mine, self.collected = WorkerOutcome(), 0

    def run(self) -> None:
        if self.work_here:
            done = work(self.study, self.project, self.settings, "coordinator")
            self.mine.trained += done.trained
            self.mine.failed += done.failed
        elif count(self.study, TrialState.WAITING):
            console.print("waiting for workers (`python -m pipeline worker --study "
                          f"{self.study.study_name} ...`) to take the queued cells")
        wait_for_workers(self.study, self.settings, self.tracker)
        self.collected += collect_results(self.study, self.project)

    def add_seeds(self, plan: GridPlan, extra: ExtraSeeds) -> None:
        added = plan_grid(self.project, plan.grid, extra)
        enqueued = enqueue_cells(self.study, added)
        console.print(f"adaptive seeds: {enqueued} more cell(s) where a comparison is still "
                      "undecided")
        self.run()


def nothing_to_train(project: Project, plan: GridPlan) -> bool:
    """No pending cell, and every adaptive seed the stored results call for is stored too."""
    if plan.pending:
        return False
    training = project.params.training_recipe()
    replay = replicate(plan.grid, training, project.results_dir,
                       evidence_settings(project, plan.grid))
    return all_finished(project.results_dir, plan.grid, training, replay.extra_seeds)


def run_grid_with_workers(project: Project, storage_url: str, study_name: str | None,
                          settings: WorkerSettings, work_here: bool = True) -> GridOutcome:
    """The train stage with a shared storage: enqueue, work, wait for the others, collect;
    then, for adaptive grids, the same for each look's added seeds."""
    from pipeline.runs.tracking import Tracker, experiment_name

    started = time.perf_counter()
    plan = plan_grid(project)
    record_infeasible(project, plan)
    outcome = GridOutcome(plan)
    if nothing_to_train(project, plan):
        console.print(f"grid {plan.grid.name}: every run is cached; nothing to enqueue")
        outcome.seconds = time.perf_counter() - started
        return outcome
    params = project.params
    tracker = Tracker(project, experiment_name(project, plan.grid.name),
                      description=plan.grid.description)
    name = study_name or grid_study_name(plan.grid.name)
    tags = {"grid": plan.grid.name, "profile": params.profile, "study": name}
    with tracker.parent_run(f"grid {plan.grid.name} ({params.profile}, workers)",
                            {**tags, "runs.total": len(plan.runs)}, tags) as parent:
        outcome.parent_run_id = parent.run_id
        study, _ = enqueue_grid(project, storage_url, name, plan, tracker, parent.run_id)
        rounds = Rounds(project, study, settings, tracker, work_here)
        rounds.run()
        replication = replicate(plan.grid, params.training_recipe(), project.results_dir,
                                evidence_settings(project, plan.grid),
                                train=lambda extra: rounds.add_seeds(plan, extra))
        still_pending = len(plan_grid(project, plan.grid, replication.extra_seeds).pending)
        parent.metrics = {"runs.trained_here": len(rounds.mine.trained),
                          "runs.collected": rounds.collected,
                          "runs.pending_after": still_pending}
        parent.failed = bool(still_pending)
    outcome.trained, outcome.failed = rounds.mine.trained, rounds.mine.failed
    outcome.seconds = time.perf_counter() - started
    console.print(summary_table(f"grid {plan.grid.name} via study {study.study_name}", [
        ("trained by this process", len(rounds.mine.trained)),
        ("results collected from workers", rounds.collected),
        ("adaptive seeds", replication.stopped),
        ("still pending (failed)", still_pending),
        ("wall time", f"{outcome.seconds:.1f} s")]))
    return outcome


def wait_for_workers(study: optuna.Study, settings: WorkerSettings, tracker) -> None:
    """Wait until no cell is waiting or running, reaping (and closing) dead workers' cells."""
    while count(study, TrialState.WAITING, TrialState.RUNNING):
        reap_cells(study, settings, tracker)
        time.sleep(settings.poll_s)
