"""Several workers on one grid: cells go through an Optuna study on a shared storage.

The coordinator (the DVC train stage, given a storage) enqueues every pending cell once,
creates the MLflow experiment and parent run before fan-out, works as one worker among
others, waits until no cell is waiting or running, then writes every result into
results/runs. `python -m pipeline worker` joins from any machine that reaches the storage
and has the prepared data.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from pipeline.config import Project
from pipeline.datasets import Splits, load_prepared
from pipeline.progress import console, summary_table
from pipeline.records import (
    DONE,
    code_fingerprint,
    read_record,
    record_path,
    reusable,
    write_record,
)
from pipeline.runner import GridOutcome, GridPlan, plan_grid, record_infeasible
from pipeline.specs import RunSpec
from pipeline.studies import Heartbeat, claim_waiting, count, open_storage, reap_stale
from pipeline.validation import ConfigError

ACTIVE = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)


@dataclass
class WorkerSettings:
    """Lease timing and stopping rules of a worker."""

    heartbeat_s: float = 10.0
    grace_s: float = 60.0
    poll_s: float = 2.0
    wait_for_running: bool = True
    max_runs: int | None = None


@dataclass
class WorkerOutcome:
    trained: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reaped: list[int] = field(default_factory=list)


def grid_study_name(grid_name: str) -> str:
    return f"grid-{grid_name}"


def enqueue_grid(project: Project, storage_url: str, study_name: str | None = None,
                 plan: GridPlan | None = None):
    """Create or load the grid's study, enqueue each pending cell once, open the parent run."""
    from pipeline.tracking import Tracker

    plan = plan or plan_grid(project)
    params = project.params
    name = study_name or grid_study_name(plan.grid.name)
    study = optuna.create_study(storage=open_storage(storage_url), study_name=name,
                                direction="maximize", load_if_exists=True)
    tracker = Tracker(project, f"{params.mlflow.experiment_prefix}/{plan.grid.name}")
    known = {trial.user_attrs.get("cache_key") for trial in study.get_trials(states=ACTIVE)}
    enqueued = 0
    for run in plan.pending:
        key = plan.key_of(run)
        if key not in known:
            study.enqueue_trial({}, user_attrs={"run_key": run.spec.run_key, "cache_key": key,
                                                "spec": run.spec.model_dump_json()})
            enqueued += 1
    parent = tracker.start_parent(
        f"grid {plan.grid.name} ({params.profile}, workers)",
        {"grid": plan.grid.name, "profile": params.profile, "runs.total": len(plan.runs),
         "runs.enqueued": enqueued, "study": name},
        {"grid": plan.grid.name, "profile": params.profile, "study": name})
    for key, value in {"kind": "grid", "grid": plan.grid.name, "code_version": plan.code_version,
                       "digests": plan.digests, "mlflow_tracking_uri": tracker.uri,
                       "mlflow_experiment": tracker.experiment_name,
                       "mlflow_parent_run_id": parent,
                       "log_models": params.mlflow.log_models}.items():
        study.set_user_attr(key, value)
    console.print(f"study [bold]{name}[/]: enqueued {enqueued} cells "
                  f"({len(plan.pending) - enqueued} already queued or done)")
    return study, plan, parent


def work(study: optuna.Study, project: Project, settings: WorkerSettings,
         progress_label: str = "worker") -> WorkerOutcome:
    """Claim and train cells until none is waiting (and, if asked, none is running)."""
    from pipeline.execute import execute_run
    from pipeline.tracking import Tracker

    attrs = study.user_attrs
    if attrs.get("kind") != "grid":
        raise ConfigError(f"study {study.study_name!r} is not a grid study (kind "
                          f"{attrs.get('kind')!r}); sweeps are joined with `pipeline sweep`")
    code_version = code_fingerprint()
    if attrs["code_version"] != code_version:
        raise ConfigError(
            f"study {study.study_name!r} was enqueued by training code {attrs['code_version']}, "
            f"this worker runs {code_version}: check out the same commit on every worker")
    tracker = Tracker(project, attrs["mlflow_experiment"],
                      uri=os.environ.get("MLFLOW_TRACKING_URI") or attrs["mlflow_tracking_uri"])
    worker = f"{socket.gethostname()}:{os.getpid()}"
    data: dict[str, Splits] = {}
    outcome = WorkerOutcome()
    storage = study._storage

    def close_orphan(trial) -> None:
        run_id = trial.system_attrs.get("lab:mlflow_run_id")
        outcome.reaped.append(trial.number)
        console.print(f"[yellow]reaped[/] trial {trial.number} "
                      f"({trial.user_attrs.get('run_key')}): its worker stopped beating")
        if run_id:
            tracker.client.set_tag(run_id, "status", "worker lost")
            tracker.client.set_terminated(run_id, status="KILLED")

    while settings.max_runs is None or len(outcome.trained) + len(outcome.failed) < \
            settings.max_runs:
        reap_stale(study, settings.grace_s, on_reaped=close_orphan)
        trial = claim_waiting(study, worker)
        if trial is None:
            if settings.wait_for_running and count(study, TrialState.RUNNING):
                time.sleep(settings.poll_s)
                continue
            break
        spec = RunSpec.model_validate_json(trial.user_attrs["spec"])
        splits = data.get(spec.dataset)
        if splits is None:
            splits = data[spec.dataset] = load_prepared(project.prepared_dir, spec.dataset)
            if splits.digest != attrs["digests"][spec.dataset]:
                raise ConfigError(
                    f"{project.prepared_dir}: prepared {spec.dataset} has digest "
                    f"{splits.digest}, the study expects {attrs['digests'][spec.dataset]}; "
                    f"prepare the same data (same params `data`) on this worker")
        console.print(f"{progress_label}: trial {trial.number} {spec.name}")

        def remember(run_id: str, trial_id: int = trial._trial_id) -> None:
            storage.set_trial_system_attr(trial_id, "lab:mlflow_run_id", run_id)

        with Heartbeat(study, trial._trial_id, settings.heartbeat_s):
            record = execute_run(spec, splits, tracker, attrs["mlflow_parent_run_id"],
                                 code_version,
                                 tags={"study_name": study.study_name,
                                       "trial_number": str(trial.number), "worker": worker},
                                 log_model=attrs.get("log_models", True), on_start=remember)
        record["worker"] = worker
        write_record(record_path(project.results_dir, spec), record)
        storage.set_trial_user_attr(trial._trial_id, "record", json.dumps(record))
        if record["status"] == DONE:
            study.tell(trial.number, record["history"]["val_accuracy"][-1])
            outcome.trained.append(spec.run_key)
        else:
            study.tell(trial.number, state=TrialState.FAIL)
            outcome.failed.append(spec.run_key)
    return outcome


def collect_results(study: optuna.Study, project: Project) -> int:
    """Write the record of every finished cell of the study into results/runs."""
    written = 0
    for trial in study.get_trials(states=(TrialState.COMPLETE, TrialState.FAIL)):
        if "record" not in trial.user_attrs:
            continue
        record = json.loads(trial.user_attrs["record"])
        spec = RunSpec.model_validate(record["spec"])
        path = record_path(project.results_dir, spec)
        if not reusable(read_record(path), record["cache_key"]):
            write_record(path, record)
            written += 1
    return written


def run_grid_with_workers(project: Project, storage_url: str, study_name: str | None,
                          settings: WorkerSettings, work_here: bool = True) -> GridOutcome:
    """The train stage with a shared storage: enqueue, work, wait for the others, collect."""
    started = time.perf_counter()
    plan = plan_grid(project)
    record_infeasible(project, plan)
    if not plan.pending:
        outcome = GridOutcome(plan, seconds=time.perf_counter() - started)
        console.print(f"grid {plan.grid.name}: every run is cached; nothing to enqueue")
        return outcome
    study, plan, parent = enqueue_grid(project, storage_url, study_name, plan)
    outcome = GridOutcome(plan, parent_run_id=parent)
    mine = WorkerOutcome()
    if work_here:
        mine = work(study, project, settings, "coordinator")
    while count(study, TrialState.WAITING, TrialState.RUNNING):
        reap_stale(study, settings.grace_s)
        time.sleep(settings.poll_s)
    collected = collect_results(study, project)
    final = plan_grid(project, plan.grid)
    outcome.trained, outcome.failed = mine.trained, mine.failed
    from pipeline.tracking import Tracker

    tracker = Tracker(project, study.user_attrs["mlflow_experiment"],
                      uri=study.user_attrs["mlflow_tracking_uri"])
    tracker.finish_parent(parent, {"runs.trained_here": len(mine.trained),
                                   "runs.collected": collected,
                                   "runs.pending_after": len(final.pending)},
                          "FINISHED" if not final.pending else "FAILED")
    outcome.seconds = time.perf_counter() - started
    console.print(summary_table(f"grid {plan.grid.name} via study {study.study_name}", [
        ("trained by this process", len(mine.trained)),
        ("results collected from workers", collected),
        ("still pending (failed)", len(final.pending)),
        ("wall time", f"{outcome.seconds:.1f} s")]))
    return outcome
