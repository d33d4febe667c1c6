"""Optuna sweeps: TPE over the grid's model space, median pruning per epoch, MLflow runs.

Every trial is turned into the same RunSpec the grid uses and trained by the same function;
the objective is the last epoch's validation accuracy. The test set is touched once, for
the best trial's configuration, after the trials.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from pipeline.config import Project
from pipeline.data.prepared import load_prepared
from pipeline.progress import console, make_progress, summary_table
from pipeline.runs.records import DONE, EVIDENCE, code_fingerprint, encode_evidence
from pipeline.sweeps.against_grid import EVIDENCE_ATTR
from pipeline.sweeps.budget import TrialBudget
from pipeline.sweeps.spec import SweepSpec, spec_from_params, suggest_run
from pipeline.validation import ConfigError, load_yaml_model, parse_model
from pipeline.workers.lost import PARENT_RUN_ATTR, RUN_ID_ATTR, close_orphan_run
from pipeline.workers.queue import (
    Heartbeat,
    open_storage,
    reap_stale,
    set_system_attr,
    take_lease,
    this_worker,
)
from pipeline.workers.worker import WorkerSettings

if TYPE_CHECKING:
    from pipeline.runs.execute import RunContext

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class SweepOutcome:
    study: optuna.Study
    states: dict[str, int]
    best: dict | None
    seconds: float


def default_storage(project: Project) -> str:
    return f"sqlite:///{(project.home / 'optuna' / 'studies.db').resolve()}"


def load_sweep(path: Path) -> SweepSpec:
    return load_yaml_model(path, SweepSpec)


def open_study(project: Project, sweep: SweepSpec, storage_url: str | None,
               seed_offset: int = 0) -> optuna.Study:
    """Create or resume the sweep's study (seeded TPE, median pruning, maximize).

    The sampler seed is `sampler_seed` + trials already in the study (+ `seed_offset` for
    extra workers), so a resumed sweep does not replay the first sweep's random trials.
    """
    url = storage_url or sweep.storage or default_storage(project)
    storage = open_storage(url)
    existing = 0
    with contextlib.suppress(KeyError):
        existing = len(optuna.load_study(study_name=sweep.name, storage=storage).trials)
    sampler = optuna.samplers.TPESampler(seed=sweep.sampler_seed + existing + seed_offset,
                                         n_startup_trials=sweep.startup_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=sweep.pruner_startup_trials,
                                         n_warmup_steps=sweep.pruner_warmup_epochs)
    study = optuna.create_study(storage=storage, study_name=sweep.name, direction="maximize",
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    stored = study.user_attrs.get("sweep_spec")
    if stored and json.loads(stored) != json.loads(sweep.model_dump_json()):
        raise ConfigError(f"study {sweep.name!r} in {url} was created from a different sweep "
                          f"spec; rename the sweep (`name:`) or restore the original spec")
    study.set_user_attr("kind", "sweep")
    study.set_user_attr("sweep_spec", sweep.model_dump_json())
    return study


def run_sweep(project: Project, sweep: SweepSpec, trials: int | None,
              storage_url: str | None = None, evaluate_best: bool = True, seed_offset: int = 0,
              add_trials: int | None = None, timeout_s: float | None = None) -> SweepOutcome:
    """Run trials until the study holds `trials` (or `add_trials` more, or `timeout_s` passed),
    then test the best configuration once."""
    from pipeline.runs.execute import RunContext
    from pipeline.runs.tracking import Tracker, experiment_name

    started = time.perf_counter()
    study = open_study(project, sweep, storage_url, seed_offset)
    splits = load_prepared(project.prepared_dir, sweep.dataset)
    code_version = code_fingerprint()
    tracker = Tracker(project, experiment_name(project, f"sweep-{sweep.name}"),
                      description=sweep.description)
    settings = WorkerSettings.from_params(project.params.workers)
    reap_lost_trials(study, settings, tracker)  # even when the budget is spent: a clean state
    budget = TrialBudget.for_study(study, trials, add_trials, timeout_s)  # issue 10: budget
    best = None
    with tracker.parent_run(f"sweep {sweep.name} ({budget.describe()})",
                            {"study": sweep.name, "trials.budget": budget.total,
                             "dataset": sweep.dataset},
                            {"study_name": sweep.name}) as parent:
        study.set_user_attr("mlflow_parent_run_id", parent.run_id)
        with make_progress() as progress:
            task = progress.add_task(f"sweep {sweep.name}", total=budget.remaining(study))
            while budget.allows_another(study):
                reap_lost_trials(study, settings, tracker)
                run_trial(study, sweep, splits, RunContext(tracker, parent.run_id, code_version),
                          progress, task, settings)
                progress.advance(task)
        if evaluate_best:
            best = evaluate_best_trial(study, sweep, splits, tracker, parent.run_id,
                                       code_version)
        parent.metrics = {"trials.total": len(study.trials)}
    outcome = SweepOutcome(study, _state_counts(study), best, time.perf_counter() - started)
    print_sweep_summary(sweep, outcome)
    return outcome


def reap_lost_trials(study: optuna.Study, settings: WorkerSettings, tracker) -> None:
    """Fail the trials of dead sweep processes (`worker lost`), close their MLflow runs and
    retry each configuration until `workers.max_retries` processes died on it."""
    reap_stale(study, settings.grace_s, max_retries=settings.max_retries,
               on_reaped=lambda trial, retried: close_orphan_run(tracker, trial, retried))


def run_trial(study: optuna.Study, sweep: SweepSpec, splits, context: RunContext, progress,
              task, settings: WorkerSettings) -> TrialState:
    """Ask for one trial (a retried one first), train it with pruning under a heartbeat, tell
    its outcome and tag its MLflow run."""
    from optuna_integration import KerasPruningCallback

    from pipeline.runs.execute import RunOptions, execute_run

    trial = study.ask()
    take_lease(study, trial, this_worker())
    set_system_attr(study, trial, PARENT_RUN_ATTR, context.parent_run_id)
    spec = suggest_run(trial, sweep)
    progress.update(task, description=f"trial {trial.number}: {spec.model.describe()}")
    run_ids: list[str] = []

    def remember(run_id: str) -> None:
        run_ids.append(run_id)
        trial.set_user_attr("mlflow_run_id", run_id)
        set_system_attr(study, trial, RUN_ID_ATTR, run_id)

    try:
        with Heartbeat(study, trial, settings.heartbeat_s):
            record = execute_run(
                spec, splits,
                context.tagged(study_name=sweep.name, trial_number=str(trial.number)),
                RunOptions(log_model=False, evaluate_test=False,
                           callbacks=(KerasPruningCallback(trial, "val_accuracy"),),
                           stop_exceptions=(optuna.TrialPruned,), on_start=remember))
    except optuna.TrialPruned:
        state = TrialState.PRUNED
        study.tell(trial, state=state)
    else:
        trial.set_user_attr("run_key", spec.run_key)
        if record["status"] == DONE:
            state = TrialState.COMPLETE
            study.tell(trial, record["history"]["val_accuracy"][-1])
        else:
            state = TrialState.FAIL
            trial.set_user_attr("failure_reason", record["reason"][:2000])
            study.tell(trial, state=state)
    context.tracker.client.set_tag(run_ids[0], "trial_state", state.name)
    return state


def print_sweep_summary(sweep: SweepSpec, outcome: SweepOutcome) -> None:
    rows = [(state.lower(), number) for state, number in outcome.states.items()]
    best = outcome.best
    if best:
        rows += [("best trial", best["trial_number"]),
                 ("best val accuracy", f"{best['val_accuracy']:.4f}"),
                 ("its test accuracy", f"{best['test_accuracy']:.4f}")]
    rows.append(("wall time", f"{outcome.seconds:.1f} s"))
    console.print(summary_table(
        f"sweep {sweep.name}: {len(outcome.study.trials)} trials in study", rows))


def _state_counts(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def evaluate_best_trial(study, sweep, splits, tracker, parent, code_version) -> dict | None:
    """Retrain the best trial's configuration and score it on the test set (once per best)."""
    from pipeline.runs.execute import RunContext, execute_run

    try:
        best = study.best_trial
    except ValueError:
        return None
    stored = study.user_attrs.get("best_evaluation")
    if stored and stored["trial_number"] == best.number:
        return stored
    spec = spec_from_params(best.params, sweep)
    record = execute_run(spec, splits, RunContext(
        tracker, parent, code_version, {"study_name": sweep.name,
                                        "trial_number": str(best.number),
                                        "role": "best-trial-test-evaluation"}))
    if record["status"] != DONE:
        return None
    result = {"trial_number": best.number, "val_accuracy": best.value,
              "test_accuracy": record["metrics"]["test/accuracy"],
              "params": best.params, "variant": spec.model.describe(),
              "mlflow_run_id": record["mlflow_run_id"]}
    study.set_user_attr("best_evaluation", result)
    if EVIDENCE in record:
        study.set_user_attr(EVIDENCE_ATTR, encode_evidence(record[EVIDENCE]))
    return result


def sweep_from_study(study: optuna.Study) -> SweepSpec:
    """The spec a sweep study was created with (workers joining by study name use it)."""
    if study.user_attrs.get("kind") != "sweep":
        raise ConfigError(f"study {study.study_name!r} is not a sweep study")
    return parse_model(SweepSpec, json.loads(study.user_attrs["sweep_spec"]),
                       f"study {study.study_name} user attribute sweep_spec")
