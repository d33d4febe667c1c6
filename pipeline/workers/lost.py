"""Lost cells: a worker that stopped beating has its trial reaped, its MLflow run closed as
KILLED (`worker lost`), and, after `workers.max_retries` lost workers, a failed record.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial

from pipeline.progress import console
from pipeline.runs.records import FAILED, base_record, record_path, write_record
from pipeline.specs.run import RunSpec
from pipeline.workers.queue import WORKER_ATTR, reap_stale, set_user_attr

if TYPE_CHECKING:
    from pipeline.workers.worker import WorkerSettings

RUN_ID_ATTR = "lab:mlflow_run_id"
# Set only where the parent run belongs to the worker's process (sweeps), never for a grid's
# shared parent: a dead sweep process's parent run is closed with its lost trial.
PARENT_RUN_ATTR = "lab:mlflow_parent_run_id"


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
