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

import optuna
from optuna.trial import TrialState

from pipeline.config import Project
from pipeline.datasets import load_prepared
from pipeline.progress import console, make_progress, summary_table
from pipeline.records import DONE, code_fingerprint
from pipeline.studies import open_storage
from pipeline.sweep_spec import SweepSpec, spec_from_params, suggest_run
from pipeline.validation import ConfigError, load_yaml_model, parse_model

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class SweepOutcome:
    study: optuna.Study
    states: dict[str, int]
    best: dict | None
    seconds: float


def default_storage(project: Project) -> str:
    return f"sqlite:///{(project.root / 'optuna' / 'studies.db').resolve()}"


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
    study.set_user_attr("storage_hint", url.split("@")[-1])
    return study


def run_sweep(project: Project, sweep: SweepSpec, trials: int, storage_url: str | None = None,
              evaluate_best: bool = True, seed_offset: int = 0) -> SweepOutcome:
    """Add `trials` trials to the sweep's study, then test the best configuration once."""
    from optuna_integration import KerasPruningCallback

    from pipeline.execute import execute_run
    from pipeline.tracking import Tracker

    started = time.perf_counter()
    study = open_study(project, sweep, storage_url, seed_offset)
    splits = load_prepared(project.prepared_dir, sweep.dataset)
    code_version = code_fingerprint()
    tracker = Tracker(project, f"{project.params.mlflow.experiment_prefix}/sweep-{sweep.name}")
    parent = tracker.start_parent(f"sweep {sweep.name} (+{trials} trials)",
                                  {"study": sweep.name, "trials.requested": trials,
                                   "dataset": sweep.dataset},
                                  {"study_name": sweep.name, "kind_detail": "sweep"})
    study.set_user_attr("mlflow_parent_run_id", parent)
    status = "FAILED"
    try:
        with make_progress() as progress:
            task = progress.add_task(f"sweep {sweep.name}", total=trials)
            for _ in range(trials):
                trial = study.ask()
                spec = suggest_run(trial, sweep)
                progress.update(task, description=f"trial {trial.number}: {spec.model.describe()}")
                tags = {"study_name": sweep.name, "trial_number": str(trial.number)}
                run_ids: list[str] = []

                def remember(run_id: str, trial=trial, run_ids=run_ids) -> None:
                    run_ids.append(run_id)
                    trial.set_user_attr("mlflow_run_id", run_id)

                try:
                    record = execute_run(
                        spec, splits, tracker, parent, code_version, tags=tags,
                        log_model=False, evaluate_test=False,
                        callbacks=[KerasPruningCallback(trial, "val_accuracy")],
                        stop_exceptions=(optuna.TrialPruned,), on_start=remember)
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
                tracker.client.set_tag(run_ids[0], "trial_state", state.name)
                progress.advance(task)
        best = evaluate_best_trial(study, sweep, splits, tracker, parent, code_version) \
            if evaluate_best else None
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.finish_parent(parent, {"trials.total": len(study.trials)}, status)
    states = _state_counts(study)
    outcome = SweepOutcome(study, states, best, time.perf_counter() - started)
    rows = [(state.lower(), number) for state, number in states.items()]
    if best:
        rows += [("best trial", best["trial_number"]),
                 ("best val accuracy", f"{best['val_accuracy']:.4f}"),
                 ("its test accuracy", f"{best['test_accuracy']:.4f}")]
    rows.append(("wall time", f"{outcome.seconds:.1f} s"))
    console.print(summary_table(f"sweep {sweep.name}: {len(study.trials)} trials in study", rows))
    return outcome


def _state_counts(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def evaluate_best_trial(study, sweep, splits, tracker, parent, code_version) -> dict | None:
    """Retrain the best trial's configuration and score it on the test set (once per best)."""
    from pipeline.execute import execute_run

    try:
        best = study.best_trial
    except ValueError:
        return None
    stored = study.user_attrs.get("best_evaluation")
    if stored and stored["trial_number"] == best.number:
        return stored
    spec = spec_from_params(best.params, sweep)
    record = execute_run(spec, splits, tracker, parent, code_version,
                         tags={"study_name": sweep.name, "trial_number": str(best.number),
                               "role": "best-trial-test-evaluation"}, log_model=True)
    if record["status"] != DONE:
        return None
    result = {"trial_number": best.number, "val_accuracy": best.value,
              "test_accuracy": record["metrics"]["test/accuracy"],
              "params": best.params, "variant": spec.model.describe(),
              "mlflow_run_id": record["mlflow_run_id"]}
    study.set_user_attr("best_evaluation", result)
    return result


def sweep_from_study(study: optuna.Study) -> SweepSpec:
    """The spec a sweep study was created with (workers joining by study name use it)."""
    if study.user_attrs.get("kind") != "sweep":
        raise ConfigError(f"study {study.study_name!r} is not a sweep study")
    return parse_model(SweepSpec, json.loads(study.user_attrs["sweep_spec"]),
                       f"study {study.study_name} user attribute sweep_spec")
