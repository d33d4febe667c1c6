"""Optuna storage as the shared work queue: open a storage, claim cells, keep leases alive.

Grid cells are enqueued once as WAITING trials; a worker claims one by moving it to RUNNING
through the storage's own compare-and-set (`set_trial_state_values` returns False when
another worker got there first), the same step `Study.ask` uses. Running trials carry a
heartbeat; a trial whose heartbeat is older than the grace period belonged to a dead
worker: it is failed (`worker lost`) and a WAITING copy is enqueued, linked the way Optuna's
RetryFailedTrialCallback links retries, until `max_retries` workers died on the same cell.
Optuna 5's JournalStorage has no heartbeat of its own, so the lease lives in a trial
system attribute and works the same on SQLite, PostgreSQL and journal files.

This is the only module that touches Optuna's private attributes (`study._storage`,
`trial._trial_id`); `storage_of` and `trial_id_of` are the two places, and a test pins them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from pipeline.redaction import redact
from pipeline.stores import StoreUnreachable, check_store, first_line
from pipeline.validation import ConfigError

HEARTBEAT_ATTR = "lab:heartbeat"
WORKER_ATTR = "lab:worker"
JOURNAL_PREFIX = "journal:///"
# Optuna's own names (optuna.storages.RetryFailedTrialCallback), so its helpers read our links.
FAILED_TRIAL_ATTR = "failed_trial"
RETRY_HISTORY_ATTR = "retry_history"
NOT_COPIED_USER_ATTRS = ("failure_reason", "record", "evidence", "mlflow_run_id")


def grid_study_name(grid_name: str) -> str:
    """The default study of a grid's cells (`worker` and `train --storage` join it)."""
    return f"grid-{grid_name}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """`journal:///path` (JournalFileBackend), `sqlite:///path` or `postgresql://...`.

    A storage that cannot be opened is one line naming it (password masked), not a traceback.
    """
    try:
        return _open(url)
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - SQLAlchemy, driver and file errors alike
        raise StoreUnreachable(f"Optuna storage {redact(url)} cannot be opened "
                               f"({first_line(error)})") from None


def journal_path(url: str) -> Path:
    """The file of a `journal:///abs/file.log` storage URL."""
    return Path("/" + url[len(JOURNAL_PREFIX):].lstrip("/"))


def _open(url: str) -> optuna.storages.BaseStorage:
    if url.startswith(JOURNAL_PREFIX):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = journal_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    if url.startswith(("postgresql", "mysql")):
        check_store(url, "Optuna storage")
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    raise ConfigError(
        f"storage {redact(url)!r} is not supported: use journal:///abs/path.log, "
        f"sqlite:///abs/path.db or postgresql://user:password@host/db"
    )


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The study's storage (private in Optuna 5: `Study._storage`)."""
    return study._storage


def trial_id_of(trial: FrozenTrial | optuna.Trial) -> int:
    """The storage id of a trial (private in Optuna 5: `FrozenTrial._trial_id`, and the same
    attribute on the live `optuna.Trial` that `Study.ask` returns)."""
    return trial._trial_id


def set_system_attr(study: optuna.Study, trial: FrozenTrial | optuna.Trial, key: str,
                    value: object) -> None:
    storage_of(study).set_trial_system_attr(trial_id_of(trial), key, value)


def set_user_attr(study: optuna.Study, trial: FrozenTrial | optuna.Trial, key: str,
                  value: object) -> None:
    storage_of(study).set_trial_user_attr(trial_id_of(trial), key, value)


def claim_waiting(study: optuna.Study, worker: str) -> FrozenTrial | None:
    """Take one WAITING trial for `worker` (atomic in the storage), or None if none is left."""
    storage = storage_of(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if storage.set_trial_state_values(trial_id_of(trial), state=TrialState.RUNNING):
            take_lease(study, trial, worker)
            return storage.get_trial(trial_id_of(trial))
    return None


def this_worker() -> str:
    """`host:pid`, the name a lease records for the process holding it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(study: optuna.Study, trial: FrozenTrial | optuna.Trial, worker: str) -> None:
    """Mark a RUNNING trial as `worker`'s, with a first heartbeat (sweeps call it after ask)."""
    beat(study, trial)
    set_system_attr(study, trial, WORKER_ATTR, worker)


def beat(study: optuna.Study, trial: FrozenTrial | optuna.Trial) -> None:
    set_system_attr(study, trial, HEARTBEAT_ATTR, time.time())


class Heartbeat:
    """Context manager: refresh a trial's heartbeat every `interval_s` from a thread."""

    def __init__(self, study: optuna.Study, trial: FrozenTrial | optuna.Trial,
                 interval_s: float):
        self.study, self.trial, self.interval_s = study, trial, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                beat(self.study, self.trial)
            except Exception:  # noqa: BLE001 - finished trials reject updates; stop beating
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def last_beat(trial: FrozenTrial) -> float:
    started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    return float(trial.system_attrs.get(HEARTBEAT_ATTR, started))


def retry_history(trial: FrozenTrial) -> list[int]:
    """Numbers of the earlier lost trials of the same cell or configuration (Optuna's attr)."""
    return list(trial.system_attrs.get(RETRY_HISTORY_ATTR, []))


def retry_copy(trial: FrozenTrial) -> FrozenTrial:
    """A WAITING copy of a lost trial, linked as `optuna.storages.RetryFailedTrialCallback`
    links it: `failed_trial` (the first lost trial) and `retry_history`, same params."""
    system_attrs = {key: value for key, value in trial.system_attrs.items()
                    if not key.startswith("lab:")}
    system_attrs[FAILED_TRIAL_ATTR] = trial.system_attrs.get(FAILED_TRIAL_ATTR, trial.number)
    system_attrs[RETRY_HISTORY_ATTR] = [*retry_history(trial), trial.number]
    user_attrs = {key: value for key, value in trial.user_attrs.items()
                  if key not in NOT_COPIED_USER_ATTRS}
    return optuna.trial.create_trial(state=TrialState.WAITING, params=trial.params,
                                     distributions=trial.distributions, user_attrs=user_attrs,
                                     system_attrs=system_attrs)


def fail_lost(study: optuna.Study, trial: FrozenTrial, reason: str, before=None) -> bool:
    """Fail a lost trial with `reason`; False when another process already ended it.

    `before(trial, reason)` runs first, while the trial still accepts attributes."""
    try:
        set_user_attr(study, trial, "failure_reason", reason)
        if before is not None:
            before(trial, reason)
        return storage_of(study).set_trial_state_values(trial_id_of(trial),
                                                        state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def reap_stale(study: optuna.Study, grace_s: float, on_reaped=None, max_retries: int = 2,
               on_give_up=None) -> list[FrozenTrial]:
    """Fail RUNNING trials whose heartbeat is older than `grace_s` (`worker lost`).

    A lost trial is enqueued again until its cell's workers died `max_retries` times; then
    `on_give_up(trial, reason)` records it as failed. Only the process whose state change
    succeeds re-enqueues, so a cell is never queued twice. `on_reaped(trial, retried)`
    follows (closing MLflow runs, say).
    """
    now, reaped = time.time(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        silent_s = now - last_beat(trial)
        if silent_s <= grace_s:
            continue
        deaths = len(retry_history(trial)) + 1
        retried = deaths < max_retries
        reason = f"worker lost: no heartbeat for {silent_s:.0f} s"
        if not retried:
            reason += (f"; its workers died {deaths} time(s), workers.max_retries = "
                       f"{max_retries}: not retried")
        if not fail_lost(study, trial, reason, None if retried else on_give_up):
            continue
        if retried:
            study.add_trial(retry_copy(trial))
        reaped.append(trial)
        if on_reaped is not None:
            on_reaped(trial, retried)
    return reaped


def count(study: optuna.Study, *states: TrialState) -> int:
    return len(study.get_trials(deepcopy=False, states=states))
