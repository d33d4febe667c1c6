"""DVC experiments end to end: two queued runs of the smoke profile, then a workspace run.

Real DVC in a temporary git repository. Queued runs execute in .dvc/tmp/exps/, so this also
checks that data, the MLflow store and the run cache resolve to the project, and that a queued
run's records come home with their predictions: the workspace run reuses every one of them
and reaches the same verdicts.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import psutil
import pytest
import yaml

from tests.repository_copy import copy_repository, run


@pytest.fixture
def committed_repo(tmp_path, synthetic_data_dir):
    """A git + DVC copy of the project, data beside it as ../idx, the default MLflow store."""
    repo = copy_repository(tmp_path / "lab")
    shutil.copytree(synthetic_data_dir, tmp_path / "idx")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"].update(dir="../idx", verify_digests=False, allow_download=False,
                          validation_size=200)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("PYTHONPATH", None)
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"],
                    ["dvc", "config", "core.analytics", "false"], ["git", "add", "-A"],
                    ["git", "commit", "-qm", "lab"]):
        run(command, repo, env)
    return repo, env


def start_queue(repo: Path, env: dict) -> None:
    """`dvc queue start -j 1`. Its worker is a detached process that inherits the command's
    output, so that output goes to a file: pipes would stay open as long as the worker."""
    log = repo.parent / "queue-start.log"
    with log.open("w") as output:
        result = subprocess.run(["dvc", "queue", "start", "-j", "1"], cwd=repo, env=env,
                                stdout=output, stderr=subprocess.STDOUT, timeout=300)
    assert result.returncode == 0, log.read_text()


def stop_queue_workers(repo: Path) -> None:
    """End the queue's worker processes. DVC's worker normally leaves once the queue is empty,
    but a half-written broker message can kill the thread that decides so, and the idle worker
    then stays forever (treeverse/dvc#10398, seen in CI: both experiments "Success")."""
    workers = []
    for pid_file in (repo / ".dvc/tmp/exps/celery").glob("dvc-exp-worker-*.pid"):
        pid = int(pid_file.read_text().strip() or 0)
        if pid and psutil.pid_exists(pid):
            worker = psutil.Process(pid)
            workers += [worker, *worker.children(recursive=True)]
            if worker.parent() is not None and "queue" in " ".join(worker.parent().cmdline()):
                workers.append(worker.parent())  # the detached `dvc queue start`
    for process in workers:
        process.terminate()
    _gone, alive = psutil.wait_procs(workers, timeout=15)
    for process in alive:
        process.kill()


def wait_for_queue(repo: Path, env: dict, timeout_s: float = 900) -> str:
    """Poll `dvc queue status` until nothing is queued or running; returns the last status.
    A status call that fails is asked again: it can read a broker message half-written by the
    worker (treeverse/dvc-task#73)."""
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        result = subprocess.run(["dvc", "queue", "status"], cwd=repo, env=env,
                                capture_output=True, text=True, timeout=120)
        status = result.stdout if result.returncode == 0 else result.stdout + result.stderr
        if result.returncode == 0 and "Queued" not in status and "Running" not in status:
            return status
        time.sleep(3)
    raise AssertionError(f"queue still busy after {timeout_s} s:\n{status}")


def experiments_by_learning_rate(shown: list[dict]) -> dict[float, dict]:
    """`dvc exp show --json` flattened: learning rate -> {params, metrics, name}."""
    found = {}
    for commit in shown:
        for experiment in commit.get("experiments") or []:
            for revision in experiment["revs"]:
                data = revision["data"]
                params = data["params"]["params.yaml"]["data"]
                metrics = {path: value["data"] for path, value in data["metrics"].items()}
                found[params["training"]["learning_rate"]] = {
                    "params": params, "metrics": metrics, "name": revision["name"]}
    return found


def verdicts_of(metrics: dict) -> dict:
    return {dataset: metrics[dataset]["verdicts"] for dataset in ("mnist", "fashion_mnist")}


def child_runs(repo: Path) -> int:
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cnn-ablation/smoke")
    return len(client.search_runs([experiment.experiment_id], "tags.kind = 'child'",
                                  max_results=1000))


def check_queued_evidence(repo: Path, env: dict, queued: dict) -> None:
    """Every done record the queue brought home has its predictions, and a workspace run of
    the same experiment reuses all of them and reaches the same verdicts."""
    records = [path for path in (repo / "results/runs").glob("*.json")
               if json.loads(path.read_text())["spec"]["training"]["learning_rate"] == 0.001]
    done = [path for path in records if json.loads(path.read_text())["status"] == "done"]
    assert len(records) == 27 and len(done) == 25  # 26 grid runs (2 infeasible), 1 reference
    assert all(path.with_name(f"{path.stem}.predictions.npz").is_file() for path in done)
    trained = child_runs(repo)
    run(["dvc", "exp", "run", "-S", "profile=smoke"], repo, env)
    workspace = json.loads((repo / "reports/metrics.json").read_text())
    assert verdicts_of(workspace) == verdicts_of(queued)
    assert "no runs" not in json.dumps(verdicts_of(workspace))
    assert workspace["runs"] == queued["runs"] == {"done": 24, "infeasible": 2}
    assert child_runs(repo) == trained  # every run reused, none trained again


@pytest.mark.slow
def test_queued_and_workspace_experiments(committed_repo):
    repo, env = committed_repo
    run(["dvc", "exp", "run", "--queue", "-S", "profile=smoke"], repo, env)
    run(["dvc", "exp", "run", "--queue", "-S", "profile=smoke",
         "-S", "training.learning_rate=0.002"], repo, env)
    started = time.monotonic()
    start_queue(repo, env)
    try:
        status = wait_for_queue(repo, env)
    finally:
        stop_queue_workers(repo)
    print(f"two queued smoke runs: {time.monotonic() - started:.1f} s")
    assert "Success" in status and "Failed" not in status, status

    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo, env).stdout)
    experiments = experiments_by_learning_rate(shown)
    assert set(experiments) == {0.001, 0.002}, experiments.keys()
    for experiment in experiments.values():
        settings = experiment["metrics"]["reports/run.json"]["run"]
        assert settings["profile"] == "smoke" and settings["grid"] == "smoke"
        assert settings["epochs"] == 1 and settings["train_images"] == 256
        assert settings["seeds"] == "1-2"
        assert experiment["metrics"]["reports/metrics.json"]["mnist"]["baseline_test_accuracy"]
        assert "profiles" not in experiment["params"]
    recipes = {experiment["metrics"]["reports/run.json"]["run"]["recipe"]
               for experiment in experiments.values()}
    assert len(recipes) == 2, recipes  # the learning rate is part of the grid runs' recipe tag
    header = run(["dvc", "exp", "show", "--csv"], repo, env).stdout.splitlines()[0]
    columns = next(csv.reader([header]))
    print(f"dvc exp show: {len(columns)} columns")
    assert not any(column.startswith("profiles.") for column in columns), columns
    check_queued_evidence(repo, env, experiments[0.001]["metrics"]["reports/metrics.json"])

    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cnn-ablation/smoke")
    queued = client.search_runs([experiment.experiment_id],
                                "params.`training.learning_rate` = '0.002'")
    assert len(queued) == 24  # the queued run logged to the project's store
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db"))
    records = [json.loads(path.read_text()) for path in (repo / "results/runs").glob("*.json")]
    assert sum(r["spec"]["training"]["learning_rate"] == 0.002 for r in records) == 26

    run(["dvc", "exp", "apply", experiments[0.002]["name"]], repo, env)
    assert "lr 0.002" in (repo / "reports" / "ablation.md").read_text()
    print(run(["dvc", "status"], repo, env).stdout)
    run(["dvc", "repro"], repo, env)  # at most re-plans: every run is in the shared cache
    assert len(client.search_runs([experiment.experiment_id], max_results=1000)) == len(
        client.search_runs([experiment.experiment_id], max_results=1000,
                           filter_string="attributes.status != 'RUNNING'"))
    assert sum(1 for _ in (repo / "results/runs").glob("*.json")) == 53  # 26 + 26 + 1 reference
    started = time.monotonic()
    noop = run(["dvc", "repro"], repo, env)
    print(f"no-op dvc repro: {time.monotonic() - started:.1f} s")
    assert "Data and pipelines are up to date" in noop.stdout, noop.stdout
    assert time.monotonic() - started <= 10
