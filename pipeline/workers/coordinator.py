"""The train stage's study executor: runs go through an Optuna study on a shared storage.

`StudyExecutor.execute` enqueues each pending run once, publishes what workers need to join
(code version, data digests, the MLflow parent run), works as one worker among others
unless told not to, waits until no cell is waiting or running, then writes every finished
cell's record into results/runs. `python -m pipeline worker` joins from any machine that
reaches the storage and has the prepared data; pipeline.workers.local starts such workers
as local processes.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from pipeline.config import Project
from pipeline.grid.plan import GridPlan, plan_grid
from pipeline.progress import console
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
from pipeline.workers.worker import WorkerSettings, reap_cells, work

if TYPE_CHECKING:
    from pipeline.grid.expansion import GridRun
    from pipeline.runs.execute import RunContext

ACTIVE = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)


def grid_study_name(grid_name: str) -> str:
    return f"grid-{grid_name}"


class StudyExecutor:
    """Train runs through the study `name` on `storage_url`: enqueue, work, wait, collect."""

    def __init__(self, project: Project, storage_url: str, name: str,
                 settings: WorkerSettings, work_here: bool = True):
        self.project, self.storage_url, self.name = project, storage_url, name
        self.settings, self.work_here = settings, work_here
        self.tags = {"study": name}

    def execute(self, plan: GridPlan, runs: list[GridRun], context: RunContext) -> None:
        study = open_grid_study(self.storage_url, self.name)
        enqueued = enqueue_cells(study, plan, runs)
        publish(study, plan, context, self.project.params.mlflow.log_models)
        console.print(f"study [bold]{self.name}[/]: enqueued {enqueued} cells "
                      f"({len(runs) - enqueued} already queued or done)")
        self.work(study, context)
        wait_for_workers(study, self.settings, context.tracker)
        collect_results(study, self.project)

    def work(self, study: optuna.Study, context: RunContext) -> None:
        """Take cells here too, or say what the others are waited for."""
        if self.work_here:
            work(study, self.project, self.settings, "coordinator")
        elif count(study, TrialState.WAITING):
            console.print("waiting for workers (`python -m pipeline worker --study "
                          f"{study.study_name} ...`) to take the queued cells")


def open_grid_study(storage_url: str, name: str) -> optuna.Study:
    return optuna.create_study(storage=open_storage(storage_url), study_name=name,
                               direction="maximize", load_if_exists=True)


def enqueue_cells(study: optuna.Study, plan: GridPlan, runs: list[GridRun]) -> int:
    """Enqueue each run once (a cell already waiting, running or done is skipped)."""
    known = {trial.user_attrs.get("cache_key") for trial in study.get_trials(states=ACTIVE)}
    enqueued = 0
    for run in runs:
        key = plan.key_of(run)
        if key not in known:
            study.enqueue_trial({}, user_attrs={"run_key": run.spec.run_key, "cache_key": key,
                                                "spec": run.spec.model_dump_json()})
            enqueued += 1
    return enqueued


def publish(study: optuna.Study, plan: GridPlan, context: RunContext, log_models: bool) -> None:
    """What workers need to join: code version, data digests, the MLflow parent run."""
    tracker = context.tracker
    for key, value in {"kind": "grid", "grid": plan.grid.name, "code_version": plan.code_version,
                       "digests": plan.digests, "mlflow_tracking_uri": redact(tracker.uri),
                       "mlflow_experiment": tracker.experiment_name,
                       "mlflow_parent_run_id": context.parent_run_id,
                       "log_models": log_models}.items():
        study.set_user_attr(key, value)


def enqueue_only(project: Project, storage_url: str, study_name: str | None = None):
    """Enqueue the grid for workers started by someone else (benchmarks, tests): the parent
    run stays open for their child runs. Returns the study, the plan and the parent run id."""
    from pipeline.grid.executor import experiment_name
    from pipeline.runs.execute import RunContext
    from pipeline.runs.tracking import Tracker

    plan = plan_grid(project)
    tracker = Tracker(project, experiment_name(project, plan.grid),
                      description=plan.grid.description)
    tags = {"grid": plan.grid.name}
    parent = tracker.start_parent(f"grid {plan.grid.name} ({project.params.profile}, workers)",
                                  tags, tags)
    study = open_grid_study(storage_url, study_name or grid_study_name(plan.grid.name))
    enqueue_cells(study, plan, plan.pending)
    publish(study, plan, RunContext(tracker, parent, plan.code_version),
            project.params.mlflow.log_models)
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


def wait_for_workers(study: optuna.Study, settings: WorkerSettings, tracker,
                     on_poll=None) -> None:
    """Wait until no cell is waiting or running, reaping (and closing) dead workers' cells;
    `on_poll()` runs at each poll (progress, checks on local workers)."""
    while count(study, TrialState.WAITING, TrialState.RUNNING):
        reap_cells(study, settings, tracker)
        if on_poll is not None:
            on_poll()
        time.sleep(settings.poll_s)
