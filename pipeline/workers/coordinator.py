"""The train stage's study executor: enqueue the runs on a shared Optuna study, publish what
workers need to join, work as one of them, wait for the others, collect every record.
`python -m pipeline worker` joins from any machine that reaches the storage.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from pipeline.config import Project
from pipeline.grid.eta import Eta
from pipeline.grid.plan import GridPlan
from pipeline.progress import console
from pipeline.redaction import redact
from pipeline.runs.records import (
    EVIDENCE,
    decode_evidence,
    record_path,
    reusable_at,
    write_record,
)
from pipeline.specs.run import RunSpec
from pipeline.workers.lost import reap_cells
from pipeline.workers.queue import count, open_storage
from pipeline.workers.worker import WorkerSettings, work

if TYPE_CHECKING:
    from pipeline.grid.expansion import GridRun
    from pipeline.runs.execute import RunContext

ACTIVE = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)


class StudyExecutor:
    """Train runs through the study `name` on `storage_url`: enqueue, work, wait, collect."""

    def __init__(self, project: Project, storage_url: str, name: str,
                 settings: WorkerSettings, work_here: bool = True):
        self.project, self.storage_url, self.name = project, storage_url, name
        self.settings, self.work_here = settings, work_here
        self.tags = {"study": name}
        self.jobs = 1  # runs trained at once here; other workers add to the study's pace

    def execute(self, plan: GridPlan, runs: list[GridRun], context: RunContext,
                eta: Eta | None = None) -> None:
        """`eta` is not shown: other workers set the study's pace (`optuna-dashboard`)."""
        study = open_grid_study(self.storage_url, self.name)
        enqueued = enqueue_cells(study, plan, runs)
        publish(study, plan, context, self.project.params.mlflow.log_models)
        console.print(f"study [bold]{self.name}[/]: enqueued {enqueued} cells "
                      f"({len(runs) - enqueued} already queued or done)")
        if self.work_here:
            work(study, self.project, self.settings, "coordinator")
        elif count(study, TrialState.WAITING):
            console.print("waiting for workers (`python -m pipeline worker --study "
                          f"{study.study_name} ...`) to take the queued cells")
        wait_for_workers(study, self.settings, context.tracker)
        collect_results(study, self.project)


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
        if not reusable_at(path, record["cache_key"]):
            write_record(path, record)
            written += 1
    return written


def wait_for_workers(study: optuna.Study, settings: WorkerSettings, tracker) -> None:
    """Wait until no cell is waiting or running, reaping (and closing) dead workers' cells."""
    while count(study, TrialState.WAITING, TrialState.RUNNING):
        reap_cells(study, settings, tracker)
        time.sleep(settings.poll_s)
