"""Several worker processes on one grid through a real shared storage (PostgreSQL, journal)."""

import json
import os
import signal
import subprocess
import sys
import time

import mlflow
import optuna
import pytest
import yaml
from optuna.trial import TrialState

from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.grid.expansion import expand
from pipeline.workers.coordinator import collect_results
from pipeline.workers.queue import open_storage
from tests.conftest import REPO_ROOT, TINY_GRID, write_project
from tests.grid_study import enqueue_only
from tests.servers import mlflow_server, postgres_server

GRID = {**TINY_GRID, "name": "workers", "seeds": [0, 1]}  # 10 trainable cells, 2 infeasible


def make_project(root, data_dir, tracking_uri, grid=GRID, **profile):
    path = write_project(root, data_dir, grid=grid, **profile)
    params = yaml.safe_load(path.read_text())
    params["mlflow"]["tracking_uri"] = tracking_uri
    params["workers"] = {"heartbeat_s": 0.5, "grace_s": 4.0}
    path.write_text(yaml.safe_dump(params))
    project = load_project(path)
    prepare_all(project)
    return project


def start_worker(project, storage, study, *extra):
    command = [sys.executable, "-m", "pipeline", "--params", str(project.params_path), "worker",
               "--storage", storage, "--study", study, *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (project.root / f"worker-{time.monotonic_ns()}.log").open("w")
    return subprocess.Popen(command, cwd=project.root, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_all(processes, timeout=600):
    deadline = time.time() + timeout
    for process in processes:
        process.wait(timeout=max(1, deadline - time.time()))


def expected_keys(project):
    return {run.spec.run_key for run in expand(project.load_grid(),
                                               project.params.training_recipe())
            if not run.infeasible}


def assert_each_cell_done_once(project, study):
    complete = [trial.user_attrs["run_key"] for trial in study.get_trials()
                if trial.state == TrialState.COMPLETE]
    assert sorted(complete) == sorted(set(complete)), "a cell was trained twice"
    assert set(complete) == expected_keys(project)
    assert not study.get_trials(states=(TrialState.WAITING, TrialState.RUNNING))
    for path in project.results_dir.glob("*.json"):  # as on a coordinator on another machine
        path.unlink()
    assert collect_results(study, project) == len(expected_keys(project))
    records = [json.loads(path.read_text()) for path in project.results_dir.glob("*.json")]
    assert {record["run_key"] for record in records if record["status"] == "done"} == \
        expected_keys(project)


def finished_child_keys(tracking_uri):
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("cnn-ablation/workers")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return [run.data.tags["run_key"] for run in runs
            if run.data.tags.get("kind") == "child" and run.info.status == "FINISHED"]


def two_workers_finish_grid(project, storage_url, tracking_uri):
    study, plan, _ = enqueue_only(project, storage_url)
    assert len(plan.pending) == 10
    # Each worker may take 6 of the 10 cells, so both must train some.
    workers = [start_worker(project, storage_url, study.study_name, "--max-runs", "6")
               for _ in range(2)]
    wait_all(workers)
    assert [worker.returncode for worker in workers] == [0, 0]
    study = optuna.load_study(study_name=study.study_name, storage=open_storage(storage_url))
    assert_each_cell_done_once(project, study)
    keys = finished_child_keys(tracking_uri)
    assert sorted(keys) == sorted(expected_keys(project)), "one MLflow child run per cell"
    trained_by = {trial.system_attrs["lab:worker"] for trial in study.get_trials()}
    assert len(trained_by) == 2, f"both workers must train cells, got {trained_by}"


@pytest.mark.slow
def test_two_workers_on_postgresql(tmp_path, synthetic_data_dir):
    with postgres_server(("optuna", "mlflow")) as urls:
        project = make_project(tmp_path / "project", synthetic_data_dir, urls["mlflow"])
        two_workers_finish_grid(project, urls["optuna"], urls["mlflow"])


@pytest.mark.slow
def test_two_workers_on_journal_file_with_mlflow_server(tmp_path, synthetic_data_dir):
    with mlflow_server(tmp_path) as url:
        project = make_project(tmp_path / "project", synthetic_data_dir, url)
        storage = f"journal:///{tmp_path / 'journal' / 'grid.log'}"
        two_workers_finish_grid(project, storage, url)


@pytest.mark.slow
def test_killed_worker_loses_no_cell(tmp_path, synthetic_data_dir):
    project = make_project(tmp_path / "project", synthetic_data_dir,
                           f"sqlite:///{tmp_path / 'mlflow.db'}", epochs=3, train_samples=600)
    storage = f"journal:///{tmp_path / 'grid.log'}"
    study, _, _ = enqueue_only(project, storage)
    victim, survivor = (start_worker(project, storage, study.study_name) for _ in range(2))
    victim_tag = f":{victim.pid}"
    deadline = time.time() + 300
    killed_trial = None
    while killed_trial is None and time.time() < deadline:
        for trial in study.get_trials(states=(TrialState.RUNNING,)):
            if str(trial.system_attrs.get("lab:worker", "")).endswith(victim_tag):
                victim.send_signal(signal.SIGKILL)
                killed_trial = trial.number
                break
        assert victim.poll() is None or killed_trial is not None, "victim ended early"
        time.sleep(0.05)
    assert killed_trial is not None, "the victim never started a cell"
    victim.wait(timeout=30)
    wait_all([survivor])
    assert survivor.returncode == 0
    study = optuna.load_study(study_name=study.study_name, storage=open_storage(storage))
    assert_each_cell_done_once(project, study)
    lost = study.trials[killed_trial]
    assert lost.state == TrialState.FAIL
    assert lost.user_attrs["failure_reason"].startswith("worker lost: no heartbeat")
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed_trial]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE


def wait_for_study(storage, name, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            study = optuna.load_study(study_name=name, storage=open_storage(storage))
        except KeyError:
            study = None
        if study is not None and "mlflow_parent_run_id" in study.user_attrs:
            return study
        time.sleep(0.2)
    raise AssertionError(f"study {name} never appeared in {storage}")


@pytest.mark.slow
def test_coordinator_trains_with_a_worker_and_collects_every_result(tmp_path,
                                                                     synthetic_data_dir):
    """`train --storage`: enqueue, train as one worker beside another, wait, collect, close."""
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    project = make_project(tmp_path / "project", synthetic_data_dir, tracking_uri)
    storage = f"journal:///{tmp_path / 'grid.log'}"
    command = [sys.executable, "-m", "pipeline", "--params", str(project.params_path), "train",
               "--storage", storage]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    coordinator = subprocess.Popen(command, cwd=project.root, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    study = wait_for_study(storage, "grid-workers")
    worker = start_worker(project, storage, study.study_name, "--max-runs", "6")
    output, _ = coordinator.communicate(timeout=600)
    wait_all([worker])
    assert coordinator.returncode == 0, output
    assert worker.returncode == 0
    records = [json.loads(path.read_text()) for path in project.results_dir.glob("*.json")]
    assert {r["run_key"] for r in records if r["status"] == "done"} == expected_keys(project)
    assert sum(r["status"] == "infeasible" for r in records) == 2
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("cnn-ablation/workers")
    assert experiment.tags["mlflow.note.content"] == GRID["description"]
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [run for run in runs if run.data.tags.get("kind") == "parent"]
    assert [parent.info.status for parent in parents] == ["FINISHED"]
    children = [run for run in runs if run.data.tags.get("kind") == "child"]
    assert len(children) == 10
    assert len({child.data.tags["worker"] for child in children}) == 2
    assert {child.data.tags["mlflow.parentRunId"] for child in children} == \
        {parents[0].info.run_id}


def test_unsupported_storage_url_is_a_clear_error(project, capsys):
    from pipeline.cli import main

    assert main(["--params", str(project.params_path), "train", "--storage", "redis://x"]) == 2
    message = capsys.readouterr().err.replace("\n", " ")
    assert "storage 'redis://x' is not supported" in message
    assert "journal:///abs/path.log" in message


@pytest.mark.slow
def test_coordinator_adds_adaptive_seeds_through_the_study(tmp_path, synthetic_data_dir):
    """An adaptive grid through `train --storage` adds the seeds the single-process stage
    would: one seed leaves every comparison undecided, so seed 1 goes to all three models."""
    from pipeline.cli import main

    grid = {**GRID, "name": "adaptive-workers", "seeds": {"initial": 1, "max": 2},
            "cnn": {**GRID["cnn"], "axes": {"pooling": ["max", "avg"]}, "crossed": []}}
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    project = make_project(tmp_path / "project", synthetic_data_dir, tracking_uri, grid=grid)
    storage = f"journal:///{tmp_path / 'grid.log'}"
    command = ["--params", str(project.params_path), "train", "--storage", storage]

    assert main(command) == 0
    records = {p.name: json.loads(p.read_text()) for p in project.results_dir.glob("*.json")}
    assert sorted((r["spec"]["model"]["pooling"] if r["spec"]["model"]["arch"] == "cnn"
                   else "dense", r["spec"]["seed"]) for r in records.values()) == [
        ("avg", 0), ("avg", 1), ("dense", 0), ("dense", 1), ("max", 0), ("max", 1)]
    assert all(r["status"] == "done" for r in records.values())
    study = optuna.load_study(study_name="grid-adaptive-workers", storage=open_storage(storage))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 6

    lost = next(p for p in project.results_dir.glob("*-s1-*.json"))
    lost.unlink()  # a later run collects it back from the study instead of training it again
    assert main(command) == 0
    assert lost.is_file()
    assert len(study.get_trials()) == 6
    assert main(command) == 0  # now nothing is missing: no new parent run, no new cell
    parents = [run for run in mlflow.MlflowClient(tracking_uri).search_runs(
        [mlflow.MlflowClient(tracking_uri).get_experiment_by_name(
            "cnn-ablation/adaptive-workers").experiment_id])
        if run.data.tags.get("kind") == "parent"]
    assert len(parents) == 2 and all(p.info.status == "FINISHED" for p in parents)
