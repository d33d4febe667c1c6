"""A worker: claim WAITING grid cells from the study, train each with a heartbeat, tell it.

Workers run on any machine that reaches the storage and has the same commit and prepared
data; they refuse a study enqueued with other training code or data.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from pipeline.config import Project, WorkersConfig
from pipeline.data.prepared import Splits, load_prepared
from pipeline.progress import console
from pipeline.redaction import is_redacted
from pipeline.runs.records import (
    DONE,
    EVIDENCE,
    FAILED,
    base_record,
    code_fingerprint,
    encode_evidence,
    record_path,
    write_record,
)
from pipeline.specs.run import RunSpec
from pipeline.validation import ConfigError
from pipeline.workers.queue import (
    WORKER_ATTR,
    Heartbeat,
    claim_waiting,
    count,
    reap_stale,
    set_system_attr,
    set_user_attr,
    this_worker,
)

RUN_ID_ATTR = "lab:mlflow_run_id"
# Set only where the parent run belongs to the worker's process (sweeps), never for a grid's
# shared parent: a dead sweep process's parent run is closed with its lost trial.
PARENT_RUN_ATTR = "lab:mlflow_parent_run_id"


@dataclass
class WorkerSettings:
    """Lease timing and stopping rules of a worker (defaults: params `workers`)."""

    heartbeat_s: float = WorkersConfig().heartbeat_s
    grace_s: float = WorkersConfig().grace_s
    poll_s: float = 2.0
    max_retries: int = WorkersConfig().max_retries
    wait_for_running: bool = True
    max_runs: int | None = None

    @classmethod
    def from_params(cls, workers: WorkersConfig) -> WorkerSettings:
        return cls(workers.heartbeat_s, workers.grace_s, max_retries=workers.max_retries)


@dataclass
class WorkerOutcome:
    trained: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reaped: list[int] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return len(self.trained) + len(self.failed)


def check_study(study: optuna.Study) -> str:
    """The study's code version, after checking it is a grid study of this very code."""
    attrs = study.user_attrs
    if attrs.get("kind") != "grid":
        raise ConfigError(f"study {study.study_name!r} is not a grid study (kind "
                          f"{attrs.get('kind')!r}); `pipeline worker` joins both kinds")
    code_version = code_fingerprint()
    if attrs["code_version"] != code_version:
        raise ConfigError(
            f"study {study.study_name!r} was enqueued by training code {attrs['code_version']}, "
            f"this worker runs {code_version}: check out the same commit on every worker")
    return code_version


def study_tracking_uri(study: optuna.Study) -> str:
    """$MLFLOW_TRACKING_URI, else the study's; a study stores a password-protected URI
    masked, so its workers must bring the credentials in their environment."""
    published = study.user_attrs["mlflow_tracking_uri"]
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    if is_redacted(published):
        raise ConfigError(f"study {study.study_name!r} tracks to {published} (password not "
                          f"stored in the study): set MLFLOW_TRACKING_URI on this worker")
    return published


def study_tracker(project: Project, study: optuna.Study):
    """The MLflow tracker of the study's experiment ($MLFLOW_TRACKING_URI wins)."""
    from pipeline.runs.tracking import Tracker

    return Tracker(project, study.user_attrs["mlflow_experiment"], uri=study_tracking_uri(study))


def close_orphan_run(tracker, trial: FrozenTrial, retried: bool = True) -> None:
    """End the MLflow run of a trial whose worker died as KILLED (`worker lost`), and the
    dead process's own parent run (sweeps) if it is still open."""
    run_id = trial.system_attrs.get(RUN_ID_ATTR)
    label = trial.user_attrs.get("run_key") or trial.params
    then = "enqueued again" if retried else "recorded as failed, not retried"
    console.print(f"[yellow]reaped[/] trial {trial.number} ({label}): its worker stopped "
                  f"beating; {then}", highlight=False)
    if run_id:
        tracker.client.set_tag(run_id, "status", "worker lost")
        tracker.client.set_terminated(run_id, status="KILLED")
    parent_id = trial.system_attrs.get(PARENT_RUN_ATTR)
    if parent_id and tracker.client.get_run(parent_id).info.status == "RUNNING":
        tracker.client.set_tag(parent_id, "status", "worker lost")
        tracker.client.set_terminated(parent_id, status="KILLED")


def lost_cell_record(study: optuna.Study, trial: FrozenTrial, reason: str) -> dict:
    """The failed record of a grid cell given up after `max_retries` lost workers; stored on
    the trial (the coordinator collects it into results/runs)."""
    spec = RunSpec.model_validate_json(trial.user_attrs["spec"])
    attrs = study.user_attrs
    record = base_record(spec, trial.user_attrs["cache_key"], attrs["digests"][spec.dataset],
                         attrs["code_version"])
    record.update(status=FAILED, reason=reason, finished_at=time.time(),
                  worker=trial.system_attrs.get(WORKER_ATTR))
    set_user_attr(study, trial, "record", json.dumps(record))
    return record


def reap_cells(study: optuna.Study, settings: WorkerSettings, tracker, project=None,
               on_reaped=None) -> list[FrozenTrial]:
    """Reap lost cells: close their MLflow runs; a cell given up gets its failed record
    (written into `project`'s results/runs too when a project is given)."""

    def give_up(trial: FrozenTrial, reason: str) -> None:
        record = lost_cell_record(study, trial, reason)
        if project is not None:
            spec = RunSpec.model_validate(record["spec"])
            write_record(record_path(project.results_dir, spec), record)

    def reaped(trial: FrozenTrial, retried: bool) -> None:
        close_orphan_run(tracker, trial, retried)
        if on_reaped is not None:
            on_reaped(trial)

    return reap_stale(study, settings.grace_s, on_reaped=reaped,
                      max_retries=settings.max_retries, on_give_up=give_up)


def work(study: optuna.Study, project: Project, settings: WorkerSettings,
         progress_label: str = "worker") -> WorkerOutcome:
    """Claim and train cells until none is waiting (and, if asked, none is running)."""
    code_version = check_study(study)
    tracker = study_tracker(project, study)
    worker = this_worker()
    data: dict[str, Splits] = {}
    outcome = WorkerOutcome()

    while settings.max_runs is None or outcome.finished < settings.max_runs:
        reap_cells(study, settings, tracker, project,
                   on_reaped=lambda trial: outcome.reaped.append(trial.number))
        trial = claim_waiting(study, worker)
        if trial is None:
            if settings.wait_for_running and count(study, TrialState.RUNNING):
                time.sleep(settings.poll_s)
                continue
            break
        spec = RunSpec.model_validate_json(trial.user_attrs["spec"])
        console.print(f"{progress_label}: trial {trial.number} {spec.name}")
        splits = data.get(spec.dataset) or data.setdefault(
            spec.dataset, load_checked(project, study, spec.dataset))
        record = train_cell(study, trial, spec, splits, tracker, code_version, worker, settings,
                            record_path(project.results_dir, spec))
        if record["status"] == DONE:
            study.tell(trial.number, record["history"]["val_accuracy"][-1])
            outcome.trained.append(spec.run_key)
        else:
            study.tell(trial.number, state=TrialState.FAIL)
            outcome.failed.append(spec.run_key)
    return outcome


def load_checked(project: Project, study: optuna.Study, dataset: str) -> Splits:
    """The prepared dataset, refused when its digest differs from the one enqueued."""
    splits = load_prepared(project.prepared_dir, dataset)
    expected = study.user_attrs["digests"][dataset]
    if splits.digest != expected:
        raise ConfigError(
            f"{project.prepared_dir}: prepared {dataset} has digest {splits.digest}, the study "
            f"expects {expected}; prepare the same data (same params `data`) on this worker")
    return splits


def train_cell(study: optuna.Study, trial: FrozenTrial, spec: RunSpec, splits: Splits, tracker,
               code_version: str, worker: str, settings: WorkerSettings,
               record_file: Path) -> dict:
    """Train one claimed cell under a heartbeat; write its record to `record_file`, then store
    it on the trial, both before its MLflow run is closed."""
    from pipeline.runs.execute import RunContext, RunOptions, execute_run

    attrs = study.user_attrs
    context = RunContext(tracker, attrs["mlflow_parent_run_id"], code_version,
                         {"study_name": study.study_name, "trial_number": str(trial.number),
                          "worker": worker})

    def remember(run_id: str) -> None:
        set_system_attr(study, trial, RUN_ID_ATTR, run_id)

    def store(record: dict) -> None:
        record["worker"] = worker
        write_record(record_file, record)
        stored = {key: value for key, value in record.items() if key != EVIDENCE}
        set_user_attr(study, trial, "record", json.dumps(stored))
        if EVIDENCE in record:
            set_user_attr(study, trial, "evidence", encode_evidence(record[EVIDENCE]))

    with Heartbeat(study, trial, settings.heartbeat_s):
        return execute_run(spec, splits, context,
                           RunOptions(log_model=attrs.get("log_models", True),
                                      on_start=remember, keep=store))


