"""A worker: claim WAITING grid cells from the study, train each with a heartbeat, tell it.

Workers run on any machine that reaches the storage and has the same commit and prepared
data; they refuse a study enqueued with other training code or data. `python -m pipeline
worker` joins a study from the command line; each local job of the train stage
(pipeline.workers.local) is this module run as a process: `python -m pipeline.workers.worker`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from pipeline.config import Project, WorkersConfig, load_project
from pipeline.data.prepared import Splits, load_prepared
from pipeline.entry import run_command
from pipeline.progress import console
from pipeline.redaction import is_redacted, redact
from pipeline.runs.records import (
    DONE,
    EVIDENCE,
    code_fingerprint,
    encode_evidence,
    record_path,
    write_record,
)
from pipeline.specs.run import RunSpec
from pipeline.stores import check_store
from pipeline.training.threads import fix_threads
from pipeline.validation import ConfigError
from pipeline.workers.lost import RUN_ID_ATTR, reap_cells
from pipeline.workers.parent_watch import watch_parent
from pipeline.workers.queue import (
    Heartbeat,
    claim_waiting,
    count,
    open_storage,
    set_system_attr,
    set_user_attr,
    this_worker,
)


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


def join_study(url: str, name: str) -> optuna.Study:
    """The study `name` on `url` (a grid's or a sweep's); a one-line error when there is none."""
    try:
        return optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:
        raise ConfigError(f"no study {name!r} in {redact(url)}; start it with `python -m "
                          f"pipeline train --storage ...` or `python -m pipeline sweep`"
                          ) from None


def work_on_grid(project: Project, study: optuna.Study, max_runs: int | None = None,
                 wait_for_running: bool = True) -> WorkerOutcome:
    """Train the grid study's waiting cells (a heartbeat each) until none is left, or after
    `max_runs`; leave at once when the train stage that started this job is gone."""
    check_store(study_tracking_uri(study), "MLflow tracking store")
    watch_parent()
    settings = WorkerSettings.from_params(project.params.workers)
    settings.max_runs, settings.wait_for_running = max_runs, wait_for_running
    outcome = work(study, project, settings)
    console.print(f"worker done: {len(outcome.trained)} trained, {len(outcome.failed)} failed, "
                  f"{len(outcome.reaped)} lost trials re-queued")
    return outcome


def job_main(params: str, storage_url: str, study_name: str, max_runs: str) -> int:
    """One local job: `python -m pipeline.workers.worker PARAMS STORAGE STUDY MAX_RUNS` trains
    the study's waiting cells and leaves when none waits (or after MAX_RUNS); the stage starts
    it with exactly these four arguments."""

    def job() -> None:
        fix_threads()  # before TensorFlow starts: every run, alone or beside others, alike
        study = join_study(storage_url, study_name)
        work_on_grid(load_project(Path(params)), study, int(max_runs), wait_for_running=False)

    return run_command(job, Path(params))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: python -m pipeline.workers.worker PARAMS STORAGE STUDY MAX_RUNS "
                 "(a local job; `python -m pipeline worker --help` joins a study by hand)")
    raise SystemExit(job_main(*sys.argv[1:]))
