"""Train one run and log it to MLflow as a child run: the step grids and sweeps share.

Every caller passes a `RunContext` (where the run is logged: tracker, parent run, code
version, tags) and `RunOptions` (how it trains: model logging, test evaluation, callbacks,
pruning), so a new setting is one field, not a new parameter on four call paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pipeline.data.prepared import Splits
from pipeline.runs.interrupts import interrupts_held
from pipeline.runs.records import DONE, EVIDENCE, FAILED, base_record, cache_key
from pipeline.runs.tracking import Tracker
from pipeline.signals import interrupted
from pipeline.specs.run import RunSpec
from pipeline.stores import store_locked
from pipeline.training.device import check_precision, device_info
from pipeline.training.threads import fix_threads
from pipeline.training.train import train_run


@dataclass(frozen=True)
class RunContext:
    """Where a run is logged: the MLflow tracker, its parent run, the code version, tags."""

    tracker: Tracker
    parent_run_id: str | None
    code_version: str
    tags: dict[str, str] = field(default_factory=dict)

    def tagged(self, **tags: str) -> RunContext:
        """The same context with more tags (a worker's trial number, say)."""
        return replace(self, tags={**self.tags, **tags})


@dataclass(frozen=True)
class RunOptions:
    """How a run trains. `stop_exceptions` (pruning) end the MLflow run as KILLED and
    propagate; `on_start(run_id)` is called once the MLflow run exists; `keep(record)` stores
    the finished or failed record before its MLflow run is closed (pipeline.runs.interrupts)."""

    log_model: bool = True
    evaluate_test: bool = True
    callbacks: tuple = ()
    stop_exceptions: tuple[type, ...] = ()
    on_start: Callable[[str], None] | None = None
    keep: Callable[[dict], None] | None = None


def execute_run(spec: RunSpec, splits: Splits, context: RunContext,
                options: RunOptions = RunOptions()) -> dict:
    """Train `spec`, log params, per-epoch and final metrics, tags and artifacts; return record.

    A failure inside training (exception, NaN loss) is recorded as `failed` with its reason
    rather than raised, so a grid or sweep goes on; interrupts end the MLflow run as KILLED.
    A precision this machine cannot run raises ConfigError before anything is logged.
    """
    check_precision(spec.training.precision)
    fix_threads()  # the count is part of the training code, so of the cache key
    tracker, code_version = context.tracker, context.code_version
    key = cache_key(spec, splits.digest, code_version)
    record = base_record(spec, key, splits.digest, code_version)
    record["device"] = device_info()
    run_tags = {"variant_id": spec.variant_id, "run_key": spec.run_key,
                "variant_name": spec.model.describe(), "dataset": spec.dataset,
                "data_digest": splits.digest, "code_version": code_version,
                **{f"device.{name}": value for name, value in device_info().items()},
                **context.tags}
    run_id = tracker.open_child(context.parent_run_id, spec.name, spec.flat_params(), run_tags)
    tracker.log_dataset(splits, spec.training)  # issue 10: the UI's Dataset column
    record["mlflow_run_id"] = run_id
    if options.on_start is not None:
        options.on_start(run_id)
    started = time.time()
    try:
        outcome = train_run(spec, splits, callbacks=[tracker.epoch_callback(), *options.callbacks],
                            evaluate_test=options.evaluate_test)
        tracker.log_outcome(outcome, options.log_model)
    except (KeyboardInterrupt, *options.stop_exceptions) as stop:
        reason = "pruned" if not isinstance(stop, KeyboardInterrupt) else "interrupted"
        tracker.close_child("KILLED", {"status": reason})
        raise
    except Exception as error:  # a failed run is data, not a crash
        if store_locked(error):
            raise  # the store's fault, not the run's: no failed record; it trains again
        if interrupted():  # the interrupt, come out of TensorFlow's C++ code as another error
            tracker.close_child("KILLED", {"status": "interrupted"})
            raise KeyboardInterrupt from error
        reason = f"{type(error).__name__}: {error}"
        record.update(status=FAILED, reason=reason, finished_at=time.time())
        return finish(record, context, options,
                      ("FAILED", {"status": FAILED, "failure_reason": reason[:4000]}))
    record.update(status=DONE, reason=None, metrics=outcome.metrics, history=outcome.history,
                  started_at=started, finished_at=time.time())
    if outcome.predictions is not None:
        record[EVIDENCE] = {"predicted": outcome.predictions, "labels": outcome.labels}
    return finish(record, context, options, ("FINISHED", {"status": DONE}))


def finish(record: dict, context: RunContext, options: RunOptions,
           closing: tuple[str, dict[str, str]]) -> dict:
    """Keep the record, then close its MLflow run (status, tags), interrupts held back in
    between: an interrupted stage never leaves a closed run whose record is missing."""
    with interrupts_held():
        if options.keep is not None:
            options.keep(record)
        context.tracker.close_child(*closing)
    return record
