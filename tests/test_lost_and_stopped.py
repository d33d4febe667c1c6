"""Processes that die or are stopped leave a clean state: a sweep worker killed with -9, a
grid worker killed under a `train --no-work` coordinator, and `ui` stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import mlflow
import optuna
import psutil
import pytest
import yaml
from optuna.trial import TrialState

from pipeline.cli import main
from pipeline.workers.queue import open_storage
from tests.conftest import REPO_ROOT
from tests.servers import free_port
from tests.test_workers import (
    assert_each_cell_done_once,
    make_project,
    start_worker,
    wait_all,
    wait_for_study,
)

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def wait_for_running_trial(study, process, timeout=300):
    """The first RUNNING trial of `process` that has its MLflow run; fails if none comes."""
    tag = f":{process.pid}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        for trial in study.get_trials(states=(TrialState.RUNNING,)):
            attrs = trial.system_attrs
            if str(attrs.get("lab:worker", "")).endswith(tag) and "lab:mlflow_run_id" in attrs:
                return trial
        assert process.poll() is None, f"process {process.pid} ended before training"
        time.sleep(0.05)
    raise AssertionError(f"process {process.pid} never started a trial")


def sweep_spec(tmp_path):
    spec = yaml.safe_load((REPO_ROOT / "experiments" / "sweep_smoke.yaml").read_text())
    spec.update(name="lost", epochs=3, train_samples=600, pruner_startup_trials=100)
    spec["space"].update(arch=["cnn"], padding=["same"])
    path = tmp_path / "sweep_lost.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_killed_sweep_worker_trial_fails_is_retried_and_its_runs_end_killed(tmp_path,
                                                                           synthetic_data_dir):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    project = make_project(tmp_path / "project", synthetic_data_dir, tracking_uri)
    storage = f"journal:///{tmp_path / 'sweep.log'}"
    command = [sys.executable, "-m", "pipeline", "--params", str(project.params_path), "sweep",
               str(sweep_spec(tmp_path)), "--trials", "3", "--storage", storage, "--no-best"]
    victim = subprocess.Popen(command, cwd=project.root, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    study = wait_for_study(storage, "lost")
    lost = wait_for_running_trial(study, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    time.sleep(project.params.workers.grace_s + 1)
    assert main(["--params", str(project.params_path), "sweep", str(sweep_spec(tmp_path)),
                 "--add-trials", "1", "--storage", storage, "--no-best"]) == 0
    study = optuna.load_study(study_name="lost", storage=open_storage(storage))
    failed = study.trials[lost.number]
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs["failure_reason"].startswith("worker lost: no heartbeat")
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == lost.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == lost.params
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    client = mlflow.MlflowClient(tracking_uri)
    child = client.get_run(lost.system_attrs["lab:mlflow_run_id"])
    assert (child.info.status, child.data.tags["status"]) == ("KILLED", "worker lost")
    parent = client.get_run(lost.system_attrs["lab:mlflow_parent_run_id"])
    assert parent.info.status == "KILLED"


@pytest.mark.slow
def test_no_work_coordinator_closes_a_dead_workers_run(tmp_path, synthetic_data_dir):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    project = make_project(tmp_path / "project", synthetic_data_dir, tracking_uri, epochs=3,
                           train_samples=600)
    storage = f"journal:///{tmp_path / 'grid.log'}"
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--params", str(project.params_path), "train",
         "--storage", storage, "--no-work"], cwd=project.root, env=ENV,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    study = wait_for_study(storage, "grid-workers")
    victim = start_worker(project, storage, study.study_name)
    lost = wait_for_running_trial(study, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    deadline = time.time() + 60  # the coordinator alone reaps it (no other worker runs yet)
    while study.trials[lost.number].state == TrialState.RUNNING and time.time() < deadline:
        time.sleep(0.2)
    assert study.trials[lost.number].state == TrialState.FAIL
    survivor = start_worker(project, storage, study.study_name)
    output, _ = coordinator.communicate(timeout=600)
    wait_all([survivor])
    assert coordinator.returncode == 0 and survivor.returncode == 0, output
    assert f"reaped trial {lost.number}" in " ".join(output.split())
    run = mlflow.MlflowClient(tracking_uri).get_run(lost.system_attrs["lab:mlflow_run_id"])
    assert (run.info.status, run.data.tags["status"]) == ("KILLED", "worker lost")
    assert_each_cell_done_once(project, optuna.load_study(study_name=study.study_name,
                                                          storage=open_storage(storage)))


def port_is_free(port: int) -> bool:
    """True when nothing listens on the port. SO_REUSEADDR, as every server sets it, so a
    closed connection's TIME_WAIT (not a listener) does not count as taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_http(url: str, process, timeout=120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert process.poll() is None, "the server process ended"
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


@pytest.mark.slow
def test_sigterm_stops_the_whole_ui_process_tree(project):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--params", str(project.params_path), "ui",
         "--port", str(port)], cwd=project.root, env=ENV, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    wait_until_http(f"http://127.0.0.1:{port}/health", process)
    time.sleep(2)  # let the job runner and its consumers start too
    descendants = psutil.Process(process.pid).children(recursive=True)
    assert descendants, "the UI runs in child processes"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    _gone, alive = psutil.wait_procs(descendants, timeout=5)
    assert not alive, f"left behind: {[p.pid for p in alive]}"
    assert port_is_free(port)
    assert time.monotonic() - started < 30
