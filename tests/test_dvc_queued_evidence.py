"""A queued DVC experiment's records reach the project with their predictions, so a later
workspace run reuses them and reaches the same verdicts (real git, DVC and MLflow)."""

from __future__ import annotations

import json

import mlflow
import pytest

from tests.repository_copy import run
from tests.test_dvc_experiments import committed_repo, wait_for_queue  # noqa: F401 - fixture


def verdicts_of(metrics: dict) -> dict:
    return {dataset: metrics[dataset]["verdicts"] for dataset in ("mnist", "fashion_mnist")}


def child_runs(repo) -> int:
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cnn-ablation/smoke")
    return len(client.search_runs([experiment.experiment_id], "tags.kind = 'child'",
                                  max_results=1000))


@pytest.mark.slow
def test_queued_then_workspace_experiment_reach_the_same_verdicts(committed_repo):  # noqa: F811
    repo, env = committed_repo
    run(["dvc", "exp", "run", "--queue", "-S", "profile=smoke"], repo, env)
    run(["dvc", "queue", "start", "-j", "1"], repo, env)
    status = wait_for_queue(repo, env)
    assert "Success" in status and "Failed" not in status, status
    records = sorted((repo / "results/runs").glob("*.json"))
    done = [path for path in records if json.loads(path.read_text())["status"] == "done"]
    assert len(records) == 27 and len(done) == 25  # 26 grid runs (2 infeasible), 1 reference
    assert all(path.with_name(f"{path.stem}.predictions.npz").is_file() for path in done)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo, env).stdout)
    (queued,) = [revision["data"]["metrics"]["reports/metrics.json"]["data"]
                 for commit in shown for experiment in commit.get("experiments") or []
                 for revision in experiment["revs"]]
    trained = child_runs(repo)

    run(["dvc", "exp", "run", "-S", "profile=smoke"], repo, env)
    workspace = json.loads((repo / "reports/metrics.json").read_text())
    assert verdicts_of(workspace) == verdicts_of(queued)
    assert "no runs" not in json.dumps(verdicts_of(workspace))
    assert workspace["runs"] == queued["runs"] == {"done": 24, "infeasible": 2}
    assert child_runs(repo) == trained  # every run reused, none trained again
