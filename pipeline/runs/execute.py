"""Train one run and log it to MLflow as a child run: the step grids and sweeps share."""

from __future__ import annotations

import time

from pipeline.data.prepared import Splits
from pipeline.runs.records import DONE, EVIDENCE, FAILED, base_record, cache_key
from pipeline.runs.tracking import Tracker, store_locked
from pipeline.specs.run import RunSpec
from pipeline.training.device import check_precision, device_info
from pipeline.training.train import train_run


def execute_run(spec: RunSpec, splits: Splits, tracker: Tracker, parent_run_id: str | None,
                code_version: str, tags: dict[str, str] | None = None, log_model: bool = True,
                callbacks: list | tuple = (), stop_exceptions: tuple[type, ...] = (),
                evaluate_test: bool = True, on_start=None) -> dict:
    """Train `spec`, log params, per-epoch and final metrics, tags and artifacts; return record.

    A failure inside training (exception, NaN loss) is recorded as `failed` with its reason
    rather than raised, so a grid or sweep goes on. `stop_exceptions` (pruning) and
    interrupts end the MLflow run as KILLED and propagate. `on_start(run_id)` is called once
    the MLflow run exists (workers store the id so a dead worker's run can be closed).
    A precision this machine cannot run raises ConfigError before anything is logged.
    """
    check_precision(spec.training.precision)
    key = cache_key(spec, splits.digest, code_version)
    record = base_record(spec, key, splits.digest, code_version)
    record["device"] = device_info()
    run_tags = {"variant_id": spec.variant_id, "run_key": spec.run_key,
                "variant_name": spec.model.describe(), "dataset": spec.dataset,
                "data_digest": splits.digest, "code_version": code_version,
                **{f"device.{name}": value for name, value in device_info().items()},
                **(tags or {})}
    run_id = tracker.open_child(parent_run_id, spec.name, spec.flat_params(), run_tags)
    tracker.log_dataset(splits, spec.training)  # issue 10: the UI's Dataset column
    record["mlflow_run_id"] = run_id
    if on_start is not None:
        on_start(run_id)
    started = time.time()
    try:
        outcome = train_run(spec, splits, callbacks=[tracker.epoch_callback(), *callbacks],
                            evaluate_test=evaluate_test)
        tracker.log_outcome(outcome, log_model)
    except (KeyboardInterrupt, *stop_exceptions) as stop:
        reason = "pruned" if not isinstance(stop, KeyboardInterrupt) else "interrupted"
        tracker.close_child("KILLED", {"status": reason})
        raise
    except Exception as error:  # a failed run is data, not a crash
        if store_locked(error):
            raise  # the store's fault, not the run's: no failed record; it trains again
        reason = f"{type(error).__name__}: {error}"
        tracker.close_child("FAILED", {"status": FAILED, "failure_reason": reason[:4000]})
        record.update(status=FAILED, reason=reason, finished_at=time.time())
        return record
    tracker.close_child("FINISHED", {"status": DONE})
    record.update(status=DONE, reason=None, metrics=outcome.metrics, history=outcome.history,
                  started_at=started, finished_at=time.time())
    if outcome.predictions is not None:
        record[EVIDENCE] = {"predicted": outcome.predictions, "labels": outcome.labels}
    return record
