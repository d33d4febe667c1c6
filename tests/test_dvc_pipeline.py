"""End to end: `dvc repro` of the smoke profile in a temporary copy of the repository."""

import json
import os
import shutil
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT, require_shared_datasets
from tests.repository_copy import copy_repository, run


@pytest.fixture
def dvc_repo(tmp_path, synthetic_data_dir):
    repo = copy_repository(tmp_path / "lab")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["profile"] = "smoke"
    params["data"].update(dir=str(synthetic_data_dir), verify_digests=False,
                          allow_download=False, validation_size=200)
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(repo)}
    run(["git", "init", "-q"], repo, env)
    run(["dvc", "init", "-q"], repo, env)
    run(["dvc", "config", "core.analytics", "false"], repo, env)
    shutil.copytree(REPO_ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")
    return repo, env, params["mlflow"]["tracking_uri"]


@pytest.mark.slow
def test_dvc_repro_smoke_end_to_end(dvc_repo):
    repo, env, uri = dvc_repo
    first = run(["dvc", "repro"], repo, env)
    assert "Running stage 'train'" in first.stdout

    results = pd.read_csv(repo / "reports" / "results.csv")
    # 2 datasets x 7 variants x 1 seed; one seed leaves every comparison undecided, so the
    # adaptive seeds add a 2nd to the 6 trainable variants of each dataset
    assert len(results) == 2 * 7 + 12
    assert (results["status"] == "done").sum() == 24
    assert (results["status"] == "infeasible").sum() == 2
    report = (repo / "reports" / "ablation.md").read_text()
    for text in ("## Answers at a glance", "## How to read the verdicts", "### Pooling",
                 "### Kernel size × Padding", "### CNN vs Dense", "## Ledger",
                 "### Infeasible and failed cells", "conv block 3 (kernel 5, padding valid)",
                 "tensorflow 2.21.0", "## mnist against fashion_mnist",
                 "## Textbook references", "| smoke-dense (smoke test) | mnist | 12,730 |",
                 "0.9700 (a made-up figure)", "## Layer shapes", "## Learning curves",
                 "## Where the errors are", "## Size against accuracy (Pareto fronts)"):
        assert text in report, text
    figures = sorted(path.name for path in (repo / "reports" / "figures").glob("*.png"))
    assert figures == ["accuracy_vs_params.png", "curves_fashion_mnist.png", "curves_mnist.png",
                       "effects.png", "pareto.png"]
    comparisons = pd.read_csv(repo / "reports" / "comparisons.csv")
    assert list(comparisons.columns) == ["dataset", "factor", "variant", "baseline", "seeds",
                                         "delta", "ci_low", "ci_high", "p_value",
                                         "p_adjusted", "verdict", "adj_level", "adj_low",
                                         "adj_high"]
    assert len(comparisons) == 2 * 5  # 4 feasible CNN variants + 1 Dense, per dataset
    assert set(comparisons["verdict"]) <= {"better", "worse", "equivalent", "undecided"}

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("cnn-ablation/smoke")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert sum(1 for r in runs if r.data.tags.get("kind") == "child") == 25  # + 1 reference
    parent = next(r for r in runs if r.data.tags.get("kind") == "parent")
    logged = {item.path for item in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/ablation.md", "report/ablation.html", "report/figures"} <= logged

    second = run(["dvc", "repro"], repo, env)
    assert "Data and pipelines are up to date" in second.stdout, second.stdout
    assert len(client.search_runs([experiment.experiment_id], max_results=1000)) == len(runs)

    metrics = run(["dvc", "metrics", "show", "--json"], repo, env)
    assert "baseline_test_accuracy" in metrics.stdout
    written = json.loads((repo / "reports" / "metrics.json").read_text())
    assert len(written["mnist"]["verdicts"]) == 5 and "best_variant" not in written["mnist"]
    assert set(written["mnist"]["verdicts"].values()) <= {"better", "worse", "equivalent",
                                                         "undecided"}
    plots = json.loads(run(["dvc", "plots", "show", "--json"], repo, env).stdout)["data"]
    curves = plots["reports/curves/mnist_pooling.csv"][0]["content"]
    assert curves["encoding"]["color"]["field"] == "line", "the learning_curves template"
    lines = {point["line"] for point in curves["data"]["values"]}
    assert {"max val", "max train", "avg val", "none val"} <= lines
    html = (repo / "reports" / "ablation.html").read_text()
    assert "data:image/png;base64," in html and "https://" not in html


def locked_outs(lock: Path, stage: str) -> list[dict]:
    return yaml.safe_load(lock.read_text())["stages"][stage]["outs"]


@pytest.mark.slow
def test_a_fresh_clone_prepares_the_data_the_committed_lock_names(tmp_path):
    """A clone beside `shared/`, as the README lays it out: `dvc repro prepare` writes
    exactly the files whose hash the committed dvc.lock holds, so a fresh clone's
    `./lab repro` leaves dvc.lock unchanged (no clone path inside the prepared files)."""
    datasets = require_shared_datasets()
    repo = copy_repository(tmp_path / "clone" / "main")
    (tmp_path / "clone" / "shared").mkdir()
    (tmp_path / "clone" / "shared" / "datasets").symlink_to(datasets)
    shutil.copy2(REPO_ROOT / "dvc.lock", repo / "dvc.lock")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(repo), "DVC_NO_ANALYTICS": "1"}
    run(["dvc", "init", "--no-scm", "-q"], repo, env)
    run(["dvc", "repro", "prepare"], repo, env)
    assert locked_outs(repo / "dvc.lock", "prepare") == \
        locked_outs(REPO_ROOT / "dvc.lock", "prepare")
