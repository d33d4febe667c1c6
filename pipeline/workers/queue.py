"""Optuna storage as the shared work queue: open a storage, claim cells, keep leases alive.

Grid cells are enqueued once as WAITING trials; a worker claims one by moving it to RUNNING
through the storage's own compare-and-set (`set_trial_state_values` returns False when
another worker got there first), the same step `Study.ask` uses. Running trials carry a
heartbeat; a trial whose heartbeat is older than the grace period belonged to a dead
worker: it is failed and a WAITING copy is enqueued, so another worker trains the cell.
Optuna 5's JournalStorage has no heartbeat of its own, so the lease lives in a trial
system attribute and works the same on SQLite, PostgreSQL and journal files.

This is the only module that touches Optuna's private attributes (`study._storage`,
`trial._trial_id`); `storage_of` and `trial_id_of` are the two places, and a test pins them.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from pipeline.validation import ConfigError

HEARTBEAT_ATTR = "lab:heartbeat"
WORKER_ATTR = "lab:worker"
JOURNAL_PREFIX = "journal:///"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """`journal:///path` (JournalFileBackend), `sqlite:///path` or `postgresql://...`."""
    if url.startswith(JOURNAL_PREFIX):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = Path("/" + url[len(JOURNAL_PREFIX):].lstrip("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    if url.startswith(("postgresql", "mysql")):
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    raise ConfigError(
        f"storage {url!r} is not supported: use journal:///abs/path.log, "
        f"sqlite:///abs/path.db or postgresql://user:password@host/db"
    )


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The study's storage (private in Optuna 5: `Study._storage`)."""
    return study._storage


def trial_id_of(trial: FrozenTrial) -> int:
    """The storage id of a trial (private in Optuna 5: `FrozenTrial._trial_id`)."""
    return trial._trial_id


def set_system_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: object) -> None:
    storage_of(study).set_trial_system_attr(trial_id_of(trial), key, value)


def set_user_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: object) -> None:
    storage_of(study).set_trial_user_attr(trial_id_of(trial), key, value)


def claim_waiting(study: optuna.Study, worker: str) -> FrozenTrial | None:
    """Take one WAITING trial for `worker` (atomic in the storage), or None if none is left."""
    storage = storage_of(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if storage.set_trial_state_values(trial_id_of(trial), state=TrialState.RUNNING):
            beat(study, trial)
            set_system_attr(study, trial, WORKER_ATTR, worker)
            return storage.get_trial(trial_id_of(trial))
    return None


def beat(study: optuna.Study, trial: FrozenTrial) -> None:
    set_system_attr(study, trial, HEARTBEAT_ATTR, time.time())


class Heartbeat:
    """Context manager: refresh a trial's heartbeat every `interval_s` from a thread."""

    def __init__(self, study: optuna.Study, trial: FrozenTrial, interval_s: float):
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


def reap_stale(study: optuna.Study, grace_s: float, on_reaped=None) -> list[FrozenTrial]:
    """Fail RUNNING trials whose heartbeat is older than `grace_s` and enqueue their cells again.

    Only the worker whose state change succeeds re-enqueues, so a cell is never queued twice.
    """
    now, reaped = time.time(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        silent_s = now - last_beat(trial)
        if silent_s <= grace_s:
            continue
        try:
            set_user_attr(study, trial, "failure_reason",
                          f"worker lost: no heartbeat for {silent_s:.0f} s")
            changed = storage_of(study).set_trial_state_values(trial_id_of(trial),
                                                               state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            changed = False
        if not changed:
            continue
        retry = optuna.trial.create_trial(
            state=TrialState.WAITING,
            user_attrs={k: v for k, v in trial.user_attrs.items() if k != "failure_reason"},
            system_attrs={"lab:retry_of": trial.number})
        study.add_trial(retry)
        reaped.append(trial)
        if on_reaped is not None:
            on_reaped(trial)
    return reaped


def count(study: optuna.Study, *states: TrialState) -> int:
    return len(study.get_trials(deepcopy=False, states=states))
