"""The one train stage with real training on tiny data: its summary counts on fresh, cached
and adaptive runs, and local parallel jobs that train exactly what one process trains."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.grid.executor import InProcess
from pipeline.runs.records import DONE, read_record
from pipeline.stages.train import run_grid
from pipeline.workers.local import RUNS_PER_PROCESS, LocalJobs, job_count
from tests.conftest import REPO_ROOT, TINY_GRID, write_project

ADAPTIVE_GRID = {"name": "adaptive", "datasets": ["mnist"], "seeds": {"initial": 1, "max": 2},
                 "cnn": {"baseline": {"arch": "cnn", "filters": [4, 8, 8], "dense_units": [8]},
                         "axes": {"pooling": ["max", "avg"]}}}


def make(root, data_dir, grid, **profile):
    project = load_project(write_project(root, data_dir, grid=grid, **profile))
    prepare_all(project)
    return project


def summary_rows(text: str) -> dict[str, str]:
    """The name -> value rows of the summary table printed last."""
    table = text[text.rindex(": summary"):]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def records(project) -> dict[str, dict]:
    found = (read_record(path) for path in project.results_dir.glob("*.json"))
    return {record["run_key"]: record for record in found}


@pytest.mark.slow
def test_summary_counts_are_right_on_fresh_cached_and_adaptive_runs(tmp_path,
                                                                     synthetic_data_dir,
                                                                     capsys):
    project = make(tmp_path / "adaptive", synthetic_data_dir, ADAPTIVE_GRID)
    fresh = run_grid(project)  # seed 0 (one seed: undecided), then seed 1 for both variants
    rows = summary_rows(capsys.readouterr().err)
    assert (len(fresh.trained), len(fresh.reused), len(fresh.failed)) == (4, 0, 0)
    assert rows["trained"] == "4" and rows["reused from cache"] == "0"
    assert rows["adaptive seeds"] == "max 2 seeds reached"

    cached = run_grid(project)
    rows = summary_rows(capsys.readouterr().err)
    assert (len(cached.trained), len(cached.reused)) == (0, 4)
    assert rows["trained"] == "0" and rows["reused from cache"] == "4"
    assert cached.parent_run_id is None and "MLflow parent run" not in rows

    seed1 = next(path for path in project.results_dir.glob("*-s1-*.json"))
    seed1.unlink()  # one adaptive run lost: only it trains; the rest is counted as cached
    partly = run_grid(project)
    rows = summary_rows(capsys.readouterr().err)
    assert (len(partly.trained), len(partly.reused)) == (1, 3)
    assert rows["trained"] == "1" and rows["reused from cache"] == "3"
    assert len(partly.plan.runs) == 4


@pytest.mark.slow
def test_counts_are_right_when_a_reference_trains_a_grid_network(tmp_path, synthetic_data_dir,
                                                                  capsys):
    """A reference training the baseline network and seed with its own recipe shares the
    grid run's run key; each is one run of its own (counted, enqueued and shown once)."""
    baseline = TINY_GRID["cnn"]["baseline"]
    grid = {**TINY_GRID, "name": "shared", "references": {"runs": [{
        "name": "book", "source": "a book", "dataset": "mnist", "model": baseline,
        "recipe": {"optimizer": "rmsprop", "epochs": 1, "train_samples": 300},
        "expected": [0.0, 1.0]}]}}
    project = make(tmp_path / "shared", synthetic_data_dir, grid)
    outcome = run_grid(project, LocalJobs(project, 2))
    rows = summary_rows(capsys.readouterr().err)
    assert (len(outcome.trained), outcome.unfinished) == (6, []), "5 grid runs + 1 reference"
    assert rows["trained"] == "6" and "unfinished (no record)" not in rows
    again = run_grid(project)
    assert (again.trained, len(again.reused)) == ([], 6)


@pytest.mark.slow
def test_one_job_and_two_jobs_give_the_same_accuracies(tmp_path, synthetic_data_dir, capsys):
    grid = {**TINY_GRID, "name": "jobs"}  # 5 trainable runs, 1 infeasible
    alone = make(tmp_path / "alone", synthetic_data_dir, grid)
    beside = make(tmp_path / "beside", synthetic_data_dir, grid)
    run_grid(alone, InProcess(alone))
    outcome = run_grid(beside, LocalJobs(beside, 2))
    assert len(outcome.trained) == 5 and not outcome.failed and not outcome.unfinished
    one, two = records(alone), records(beside)
    assert one.keys() == two.keys()
    for key, record in one.items():
        if record["status"] == DONE:
            assert two[key]["metrics"]["test/accuracy"] == record["metrics"]["test/accuracy"]
            assert two[key]["history"] == record["history"], key
    workers = {two[key]["worker"] for key in two if two[key]["status"] == DONE}
    assert len(workers) == 2, "both jobs trained"
    logs = [path.read_text() for path in (beside.root / "results" / "jobs").glob("job-*.log")]
    assert len(logs) == 2 and not [log for log in logs if "locked" in log]
    client = mlflow.MlflowClient(beside.params.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name("cnn-ablation/jobs")
    runs = client.search_runs([experiment.experiment_id])
    children = [run for run in runs if run.data.tags.get("kind") == "child"]
    assert sorted(run.info.status for run in children) == ["FINISHED"] * 5
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {outcome.parent_run_id}


def test_auto_jobs_is_one_per_core(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert job_count("auto") == 3
    assert job_count(2) == 2


def running_workers(journal) -> set[str]:
    """The `host:pid` of each job holding a running cell, read from the local journal."""
    import optuna

    from pipeline.workers.queue import WORKER_ATTR, open_storage

    try:
        (study,) = optuna.get_all_study_summaries(open_storage(f"journal:///{journal}"))
        loaded = optuna.load_study(study_name=study.study_name,
                                   storage=open_storage(f"journal:///{journal}"))
    except (ValueError, KeyError):
        return set()
    return {trial.system_attrs.get(WORKER_ATTR) for trial in loaded.get_trials(
        states=(optuna.trial.TrialState.RUNNING,)) if WORKER_ATTR in trial.system_attrs}


def running_children(client) -> list:
    """The RUNNING child runs of the tiny grid's experiment (none before it exists)."""
    experiment = client.get_experiment_by_name("cnn-ablation/tiny")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id],
                              "tags.kind = 'child' and attributes.status = 'RUNNING'")


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_stops_every_job_and_closes_their_runs(tmp_path, synthetic_data_dir):
    import psutil

    # runs long enough (500 epochs, minutes each) that both jobs are still in their first run
    # when the stage is stopped, however late a loaded machine starts the second job
    project = make(tmp_path / "stop", synthetic_data_dir, {**TINY_GRID, "seeds": [0, 1]},
                   epochs=500)
    command = [sys.executable, "-m", "pipeline", "--params", str(project.params_path), "train",
               "--jobs", "2", "--force"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # as from a terminal: a shell's background job (CI run with `&`) inherits SIGINT ignored
    stage = subprocess.Popen(command, cwd=project.root, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=default_sigint)
    journal = project.root / "results" / "jobs" / "journal.log"
    deadline, workers = time.time() + 300, set()
    while len(workers) < 2 and time.time() < deadline:
        assert stage.poll() is None, "the stage ended before both jobs ran"
        time.sleep(1)
        workers = running_workers(journal) if journal.exists() else set()
    assert len(workers) == 2
    client = mlflow.MlflowClient(project.params.mlflow.tracking_uri)
    while len(running_children(client)) < 2 and time.time() < deadline:
        assert stage.poll() is None, "the stage ended before both jobs trained"
        time.sleep(0.5)  # both jobs are inside training once their MLflow runs exist
    assert len(running_children(client)) == 2
    stage.send_signal(signal.SIGINT)
    assert stage.wait(timeout=120) == 130
    pids = [int(worker.rsplit(":", 1)[1]) for worker in workers]
    time.sleep(1)
    alive = [pid for pid in pids if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], "every job stops with the stage"
    experiment = client.get_experiment_by_name("cnn-ablation/tiny")
    statuses = [run.info.status for run in client.search_runs([experiment.experiment_id])]
    assert sorted(statuses) == ["KILLED"] * 3, statuses  # the 2 jobs' runs and the parent


@pytest.mark.slow
def test_a_job_process_grows_by_less_than_100_mb():
    """A job leaves after RUNS_PER_PROCESS runs; the benchmark measures that many in one."""
    script = REPO_ROOT / "benchmarks" / "memory_long_grid.py"
    done = subprocess.run([sys.executable, str(script), "--runs", str(RUNS_PER_PROCESS)],
                          capture_output=True, text=True, timeout=900)
    grown = re.search(r"a\s+job\s+process\s+\(at\s+most\s+\d+\s+runs\)\s+grows\s+([+-]\d+)\s+MB",
                      done.stderr)
    assert grown, done.stderr[-2000:]
    assert float(grown.group(1)) < 100 and done.returncode == 0
