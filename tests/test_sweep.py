"""Optuna sweeps end to end: real SQLite storage, real MLflow store, resumable studies."""

import os
import subprocess
import sys

import mlflow
import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from pipeline.cli import main
from tests.conftest import REPO_ROOT


def sweep_runs(project, name):
    client = mlflow.MlflowClient(project.params.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name(f"cnn-ablation/sweep-{name}")
    return client.search_runs([experiment.experiment_id], max_results=1000)


@pytest.mark.slow
def test_smoke_sweep_runs_and_resumes(project):
    storage = f"sqlite:///{project.root / 'optuna.db'}"
    command = ["--params", str(project.params_path), "sweep",
               str(REPO_ROOT / "experiments" / "sweep_smoke.yaml"), "--trials", "6",
               "--storage", storage]
    assert main(command) == 0
    study = optuna.load_study(study_name="smoke", storage=storage)
    assert len(study.trials) == 6
    assert all(trial.state != TrialState.RUNNING for trial in study.trials)
    best = study.user_attrs["best_evaluation"]
    assert 0.0 <= best["test_accuracy"] <= 1.0
    assert best["trial_number"] == study.best_trial.number

    runs = sweep_runs(project, "smoke")
    trials = [run for run in runs if run.data.tags.get("kind") == "child"
              and "role" not in run.data.tags]
    assert sorted(int(run.data.tags["trial_number"]) for run in trials) == list(range(6))
    for run in trials:
        assert run.data.tags["study_name"] == "smoke"
        assert "model.arch" in run.data.params and "training.learning_rate" in run.data.params
        assert "test/accuracy" not in run.data.metrics, "trials must not see the test set"
    states = {str(t.number): t.state.name for t in study.trials}
    assert {r.data.tags["trial_number"]: r.data.tags["trial_state"] for r in trials} == states
    pruned = [t.number for t in study.trials if t.state == TrialState.PRUNED]
    assert sorted(int(r.data.tags["trial_number"]) for r in trials
                  if r.data.tags["status"] == "pruned") == pruned
    assert sum(1 for run in runs if run.data.tags.get("kind") == "parent") == 1

    report = (project.reports_dir / "sweeps" / "smoke.md").read_text()
    assert "## Best trial" in report and "Parameter importances" in report
    assert "| model.arch |" in report
    for kind in ("history", "parallel", "slice", "intermediate"):
        assert (project.reports_dir / "sweeps" / "figures" / f"smoke-{kind}.png").is_file()
    trials_csv = pd.read_csv(project.reports_dir / "sweeps" / "smoke-trials.csv")
    assert len(trials_csv) == 6 and "params_model.arch" in trials_csv.columns
    assert f"COMPLETE {(trials_csv['state'] == 'COMPLETE').sum()}" in report

    assert main(command) == 0, "--trials is study-wide: a second run adds none"
    assert len(optuna.load_study(study_name="smoke", storage=storage).trials) == 6
    assert main([*command[:-4], "--add-trials", "6", *command[-2:]]) == 0
    study = optuna.load_study(study_name="smoke", storage=storage)
    assert len(study.trials) == 12
    assert sum(1 for run in sweep_runs(project, "smoke")
               if run.data.tags.get("kind") == "parent") == 3

    worker = ["--params", str(project.params_path), "worker", "--storage", storage,
              "--study", "smoke", "--add-trials", "2"]
    assert main(worker) == 0, "a worker joins a sweep study by name"
    assert len(optuna.load_study(study_name="smoke", storage=storage).trials) == 14


@pytest.mark.slow
def test_failing_trials_are_recorded_and_the_sweep_goes_on(project, tmp_path):
    spec = yaml.safe_load((REPO_ROOT / "experiments" / "sweep_smoke.yaml").read_text())
    spec["name"] = "broken"
    spec["space"].update(arch=["cnn"], kernel_size=[5], padding=["valid"], pooling=["max"])
    path = tmp_path / "sweep_broken.yaml"
    path.write_text(yaml.safe_dump(spec))
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert main(["--params", str(project.params_path), "sweep", str(path), "--trials", "2",
                 "--storage", storage]) == 0
    study = optuna.load_study(study_name="broken", storage=storage)
    assert [trial.state for trial in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    assert "InfeasibleSpec: conv block 3" in study.trials[0].user_attrs["failure_reason"]
    statuses = [run.info.status for run in sweep_runs(project, "broken")
                if run.data.tags.get("kind") == "child"]
    assert statuses == ["FAILED", "FAILED"]


@pytest.mark.slow
def test_changed_spec_under_the_same_name_is_refused(project, tmp_path, capsys):
    spec = yaml.safe_load((REPO_ROOT / "experiments" / "sweep_smoke.yaml").read_text())
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    base = ["--params", str(project.params_path), "sweep", str(path), "--storage", storage,
            "--no-best"]
    assert main([*base, "--trials", "1"]) == 0
    spec["epochs"] = 3
    path.write_text(yaml.safe_dump(spec))
    assert main([*base, "--trials", "1"]) == 2
    assert "created from a different sweep spec" in capsys.readouterr().err.replace("\n", " ")


@pytest.mark.slow
def test_sweep_best_is_compared_with_the_grid_best_paired(project, tmp_path):
    """The sweep report pairs its best with the grid's best on the same test images."""
    grid = yaml.safe_load((project.root / "grid.yaml").read_text())
    grid.update(seeds=[0, 1], dense=None)
    grid["cnn"]["axes"] = {"pooling": ["max", "avg"]}
    (project.root / "grid.yaml").write_text(yaml.safe_dump(grid))
    params = ["--params", str(project.params_path)]
    assert main([*params, "train"]) == 0
    assert main([*params, "report"]) == 0
    spec = yaml.safe_load((REPO_ROOT / "experiments" / "sweep_smoke.yaml").read_text())
    spec.update(name="paired", dataset="mnist", epochs=1, train_samples=300, val_samples=100)
    spec.pop("test_samples", None)
    path = tmp_path / "sweep_paired.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main([*params, "sweep", str(path), "--trials", "2", "--storage",
                 f"sqlite:///{tmp_path / 'optuna.db'}"]) == 0
    report = (project.reports_dir / "sweeps" / "paired.md").read_text()
    assert "Against the grid: sweep best − grid best" in report
    assert "paired on the same 300 test images and seed 0" in report


@pytest.mark.slow
def test_a_sweep_and_the_train_stage_share_one_project(project):
    """Both log to the project's SQLite MLflow store at once: neither loses a record, a run
    or a trial to the other (busy writers wait, pipeline.stores)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    base = [sys.executable, "-m", "pipeline", "--params", str(project.params_path)]
    sweep = subprocess.Popen([*base, "sweep", str(REPO_ROOT / "experiments" / "sweep_smoke.yaml"),
                              "--trials", "4", "--storage",
                              f"sqlite:///{project.root / 'optuna.db'}"],
                             env=env, cwd=project.root, stderr=subprocess.PIPE, text=True)
    train = subprocess.run([*base, "train", "--jobs", "1"], env=env, cwd=project.root,
                           capture_output=True, text=True, timeout=900)
    sweep_errors = sweep.communicate(timeout=900)[1]
    assert (train.returncode, sweep.returncode) == (0, 0), train.stderr[-2000:] + sweep_errors
    assert "database is locked" not in train.stderr + sweep_errors
    from pipeline.grid.plan import plan_grid

    assert plan_grid(project).pending == [], "every grid run has its record"
    client = mlflow.MlflowClient(project.params.mlflow.tracking_uri)
    grid = client.get_experiment_by_name("cnn-ablation/tiny")
    grid_runs = client.search_runs([grid.experiment_id])
    assert sum(run.data.tags.get("kind") == "child" for run in grid_runs) == 5
    assert {run.info.status for run in grid_runs} == {"FINISHED"}
    study = optuna.load_study(study_name="smoke",
                              storage=f"sqlite:///{project.root / 'optuna.db'}")
    assert len(study.trials) == 4 and "RUNNING" not in {
        run.info.status for run in sweep_runs(project, "smoke")}
    failed = [trial for trial in study.trials if trial.state == TrialState.FAIL]
    assert all("below 1x1" in trial.user_attrs["failure_reason"] for trial in failed), \
        "only infeasible trials may fail, none for a busy store"
