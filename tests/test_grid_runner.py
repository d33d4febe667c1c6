"""The train stage on tiny data with a real MLflow SQLite store: logging, caching, resuming."""

import json
import os
import signal
import subprocess
import sys
import time

import mlflow
import psutil
import pytest
import yaml

from pipeline.config import load_project
from pipeline.grid import executor
from pipeline.grid.executor import InProcess
from pipeline.grid.plan import plan_grid
from pipeline.runs.records import DONE, INFEASIBLE, read_record, write_record
from pipeline.stages.train import run_grid
from tests.conftest import REPO_ROOT


def record_of(project, record_id):
    return read_record(project.results_dir / f"{record_id}.json")


def child_runs(project):
    client = mlflow.MlflowClient(project.params.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name("cnn-ablation/tiny")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return [run for run in runs if run.data.tags.get("kind") == "child"], runs


@pytest.mark.slow
def test_grid_trains_logs_and_caches(project):
    outcome = run_grid(project)
    assert len(outcome.trained) == 5 and not outcome.failed
    assert len(outcome.plan.infeasible) == 1

    records = [read_record(path) for path in sorted(project.results_dir.glob("*.json"))]
    assert sorted(record["status"] for record in records) == [DONE] * 5 + [INFEASIBLE]
    infeasible = next(record for record in records if record["status"] == INFEASIBLE)
    assert "conv block 3 (kernel 5, padding valid)" in infeasible["reason"]

    children, all_runs = child_runs(project)
    assert len(children) == 5
    assert sum(1 for run in all_runs if run.data.tags.get("kind") == "parent") == 1
    run = next(run for run in children if run.data.tags["variant_name"] == "cnn f4-8-8 k3 max "
                                                                            "valid h8")
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == outcome.parent_run_id
    assert run.data.params["model.filters"] == "4-8-8"
    assert run.data.params["model.pooling"] == "max"
    assert run.data.params["training.epochs"] == "1"
    for metric in ("test/accuracy", "test/loss", "model/params", "model/flops", "time/train_s",
                   "val/accuracy", "train/loss"):
        assert metric in run.data.metrics, metric
    assert run.data.metrics["model/params"] == 40 + 296 + 584 + (3 * 3 * 8 + 1) * 8 + 9 * 10
    for tag in ("variant_id", "data_digest", "git_commit", "status"):
        assert tag in run.data.tags, tag
    client = mlflow.MlflowClient(project.params.mlflow.tracking_uri)
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert "model_summary.txt" in artifacts
    assert client.get_metric_history(run.info.run_id, "val/accuracy")[0].step == 1
    logged = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id],
                                         output_format="list")
    assert len(logged) == 5

    again = run_grid(project)
    assert again.trained == [] and again.parent_run_id is None
    assert len(again.plan.reused) == 5
    assert len(child_runs(project)[0]) == 5, "a cached variant must not be logged twice"


@pytest.mark.slow
def test_changing_one_kernel_size_retrains_only_its_variants(project):
    run_grid(project)
    grid_path = project.grid_path()
    grid = yaml.safe_load(grid_path.read_text())
    grid["cnn"]["axes"]["kernel_size"] = [3, 7]
    grid_path.write_text(yaml.safe_dump(grid))
    outcome = run_grid(project)
    trained = {key: record_of(project, key)["name"]
               for key in outcome.trained}
    assert sorted(trained.values()) == ["mnist cnn f4-8-8 k7 max same h8 seed0"]
    assert len(outcome.plan.reused) == 4
    infeasible = [run.spec.model.describe() for run in outcome.plan.infeasible]
    assert infeasible == ["cnn f4-8-8 k7 max valid h8"]


@pytest.mark.slow
def test_changing_training_recipe_retrains_everything(project, tmp_path):
    run_grid(project)
    params = yaml.safe_load(project.params_path.read_text())
    params["training"] = {"learning_rate": 0.002}
    project.params_path.write_text(yaml.safe_dump(params))
    changed = load_project(project.params_path)
    assert len(plan_grid(changed).pending) == 5
    params["training"] = {}
    project.params_path.write_text(yaml.safe_dump(params))
    assert plan_grid(load_project(project.params_path)).pending == [], "reverting finds the cache"


@pytest.mark.slow
def test_killed_train_stage_resumes_with_unfinished_runs_only(project):
    command = [sys.executable, "-m", "pipeline", "--params", str(project.params_path), "train"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, cwd=project.root, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            done = [path for path in project.results_dir.glob("*.json")
                    if json.loads(path.read_text())["status"] == DONE]
            if len(done) >= 2:
                break
            assert process.poll() is None, "train stage ended before it could be killed"
            time.sleep(0.05)
        jobs = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    _, alive = psutil.wait_procs(jobs, timeout=60)
    assert alive == [], "the jobs of a killed stage stop by themselves"
    finished_before = {path.stem: json.loads(path.read_text())["finished_at"]
                       for path in project.results_dir.glob("*.json")
                       if json.loads(path.read_text())["status"] == DONE}
    assert 2 <= len(finished_before) < 5

    outcome = run_grid(project)
    assert set(outcome.trained).isdisjoint(finished_before)
    assert len(outcome.trained) == 5 - len(finished_before)
    for key, finished_at in finished_before.items():
        assert record_of(project, key)["finished_at"] == finished_at
    children, all_runs = child_runs(project)
    assert [run.info.status for run in all_runs if run.info.status == "RUNNING"] == []
    assert sum(1 for run in children if run.info.status == "KILLED") <= max(1, len(jobs))
    finished = [run for run in children if run.info.status == "FINISHED"]
    keys = [run.data.tags["run_key"] for run in finished]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 5


@pytest.mark.slow
def test_an_interrupt_while_a_run_is_kept_lands_its_record_and_run_first(project, monkeypatch):
    """Ctrl-C arriving as the first finished run's record is written: the record and the
    FINISHED MLflow run both land before the stage stops, so the resume trains it only once."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    kept = []

    def interrupted_while_writing(path, record):
        if not kept:
            kept.append(path)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the signal arrives here, inside the write
        write_record(path, record)

    monkeypatch.setattr(executor, "write_record", interrupted_while_writing)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_grid(project, InProcess(project))
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    assert read_record(kept[0])["status"] == DONE
    assert [run.info.status for run in child_runs(project)[0]] == ["FINISHED"]
    assert len(run_grid(project).trained) == 4
    keys = [run.data.tags["run_key"] for run in child_runs(project)[0]
            if run.info.status == "FINISHED"]
    assert len(keys) == len(set(keys)) == 5


@pytest.mark.slow
def test_an_interrupt_that_surfaces_as_another_error_stops_the_stage(project, monkeypatch):
    """SIGTERM arriving inside TensorFlow's C++ code can come out as another error (CI saw a
    SystemError, then a ValueError from tf.data): the run is interrupted, not failed, and the
    stage (a local job, say) does not go on to the next run."""
    import contextlib
    import threading

    from pipeline import signals
    from pipeline.runs import execute

    monkeypatch.setattr(signals, "_ARRIVED", threading.Event())  # no flag leaks to other tests

    def mangled_interrupt(*args, **kwargs):
        with contextlib.suppress(KeyboardInterrupt):  # what TensorFlow's C++ code did
            signals.raise_interrupt(signal.SIGTERM, None)
        raise ValueError("Could not pack sequence. Argument `structure` had 2 elements")

    monkeypatch.setattr(execute, "train_run", mangled_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_grid(project, InProcess(project))
    children, _ = child_runs(project)
    assert [run.info.status for run in children] == ["KILLED"]
    assert children[0].data.tags["status"] == "interrupted"
    assert [read_record(path)["status"] for path in project.results_dir.glob("*.json")] == [
        INFEASIBLE], "no failed record: the run trains at the next start"


@pytest.mark.slow
def test_second_project_in_one_process_logs_to_its_own_store(project, tmp_path,
                                                             synthetic_data_dir):
    from pipeline.data.prepare import prepare_all
    from tests.conftest import write_project

    run_grid(project)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    other = load_project(write_project(tmp_path / "other", synthetic_data_dir))
    prepare_all(other)
    run_grid(other)
    assert len(child_runs(other)[0]) == 5
    assert len(child_runs(project)[0]) == 5


def test_planning_writes_nothing(project):
    plan = plan_grid(project)
    assert (len(plan.pending), len(plan.infeasible), len(plan.reused)) == (5, 1, 0)
    assert not list(project.results_dir.glob("*.json"))


def test_a_new_command_starts_with_no_interrupt_noted(monkeypatch):
    """An interrupt that ended one command in this process (a test, a notebook) must not turn
    a later command's failed run into an interrupt."""
    import contextlib
    import threading

    from pipeline import signals

    monkeypatch.setattr(signals, "_ARRIVED", threading.Event())
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.suppress(KeyboardInterrupt):
            signals.raise_interrupt(signal.SIGTERM, None)
        assert signals.interrupted()
        signals.handle_interrupts()
        assert not signals.interrupted()
        assert signal.getsignal(signal.SIGTERM) is signals.raise_interrupt
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
