"""Evidence integrity on a real tiny grid (real Keras training, real MLflow SQLite store):
committed evidence rebuilds the report byte for byte and seeds the run cache; bad or
missing predictions are named and retrained; a locked store waits, then says so in one line.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time

import numpy as np
import pytest
import yaml

from pipeline.cli import main
from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.grid.plan import plan_grid
from pipeline.report.stage import build_report
from pipeline.runs.committed_evidence import RECORDS_FILE, evidence_dir
from pipeline.runs.records import evidence_path, read_record
from pipeline.runs.tracking import Tracker
from pipeline.stages.train import run_grid
from pipeline.stores import BUSY_WAIT_ENV
from tests.conftest import TINY_GRID, write_project

pytestmark = pytest.mark.slow  # every test here trains the tiny grid first (module fixture)

GRID = {**TINY_GRID, "seeds": [0, 1],
        "cnn": {**TINY_GRID["cnn"], "axes": {"pooling": ["max", "avg"]}, "crossed": []}}
REPORT_FILES = ("ablation.md", "ablation.html", "comparisons.csv", "results.csv",
                "metrics.json")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_data_dir):
    """A tiny grid (CNN baseline, avg pooling, Dense; 2 seeds) trained and reported once."""
    root = tmp_path_factory.mktemp("trained") / "project"
    project = load_project(write_project(root, synthetic_data_dir, GRID))
    prepare_all(project)
    run_grid(project)
    build_report(project)
    return root


@pytest.fixture
def project(trained, tmp_path):
    """A fresh copy of the trained project (its MLflow store, records and report)."""
    root = tmp_path / "copy"
    shutil.copytree(trained, root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["mlflow"]["tracking_uri"] = f"sqlite:///{root / 'mlflow.db'}"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return load_project(root / "params.yaml")


def records_of(project) -> list:
    return sorted(project.results_dir.glob("*.json"))


def report_bytes(project) -> dict[str, bytes]:
    reports = project.reports_dir
    files = [reports / name for name in REPORT_FILES] + sorted((reports / "curves").glob("*"))
    files += sorted(evidence_dir(reports).glob("*"))
    return {str(path.relative_to(reports)): path.read_bytes() for path in files}


def test_report_rebuilds_byte_identically_from_committed_evidence(project):
    folder = evidence_dir(project.reports_dir)
    assert sorted(path.name for path in folder.iterdir()) == ["mnist.npz", RECORDS_FILE]
    lines = (folder / RECORDS_FILE).read_text().splitlines()
    assert len(lines) == len(records_of(project)) == 6
    with np.load(folder / "mnist.npz", allow_pickle=False) as packed:
        assert packed["labels"].dtype == np.uint8 and len(packed.files) == 7
        assert all(packed[name].dtype == np.uint8 for name in packed.files)
    before = report_bytes(project)
    shutil.rmtree(project.results_dir)
    build_report(project)
    assert report_bytes(project) == before
    shutil.rmtree(project.results_dir)
    assert main(["--params", str(project.params_path), "train"]) == 0
    assert len(records_of(project)) == 6
    assert not plan_grid(project).pending  # the clean clone retrains nothing


def test_garbage_and_pickled_predictions_are_named_then_retrained(project, capsys):
    garbage, pickled = records_of(project)[:2]

    def spoil() -> None:
        evidence_path(garbage).write_bytes(b"not an npz at all")
        np.savez(evidence_path(pickled), predicted=np.array([None, 1], dtype=object),
                 labels=np.array([None, 1], dtype=object))

    spoil()  # the committed evidence beside the report restores both
    assert main(["--params", str(project.params_path), "report"]) == 0
    assert "evidence: 2 record(s) restored" in capsys.readouterr().err
    spoil()
    shutil.rmtree(evidence_dir(project.reports_dir))
    assert main(["--params", str(project.params_path), "report"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and evidence_path(garbage).name in error[0], error
    assert "(and 1 more)" in error[0] and "retrain" in error[0]

    plan = plan_grid(project)
    assert sorted(run.spec.run_key for run in plan.pending) == sorted(
        read_record(path)["run_key"] for path in (garbage, pickled))
    warnings = capsys.readouterr().err
    assert evidence_path(pickled).name in warnings and "pickle" in warnings
    assert len(run_grid(project).trained) == 2
    assert main(["--params", str(project.params_path), "report"]) == 0


def test_predictions_of_the_wrong_length_name_the_file(project, capsys):
    short = records_of(project)[0]
    np.savez(evidence_path(short), predicted=np.zeros(100, np.uint8),
             labels=np.zeros(100, np.uint8))
    assert main(["--params", str(project.params_path), "report"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1, error
    assert f"{evidence_path(short)}: 100 predictions where the other runs of mnist have 300" \
        in error[0]


def test_a_locked_store_waits_then_fails_in_one_line_keeping_records(project, capsys,
                                                                       monkeypatch):
    store = project.root / "mlflow.db"
    holder = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(2.0, holder.execute, ["COMMIT"]).start()
    monkeypatch.setenv(BUSY_WAIT_ENV, "30")
    started = time.monotonic()
    Tracker(project, "cnn-ablation/waited")  # writes: creates and tags an experiment
    assert time.monotonic() - started >= 1.5

    shutil.rmtree(evidence_dir(project.reports_dir))  # else train restores the record
    kept = records_of(project)
    kept.pop().unlink()
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setenv(BUSY_WAIT_ENV, "1")
    try:
        assert main(["--params", str(project.params_path), "train"]) == 2
    finally:
        holder.execute("COMMIT")
        holder.close()
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"MLflow tracking store sqlite:///{store}" in error and "locked" in error
    assert "tracking server" in error
    assert records_of(project) == kept
    assert all(read_record(path)["status"] == "done" for path in kept)


def test_validation_size_of_all_training_images_is_a_config_error(project, capsys):
    params = yaml.safe_load(project.params_path.read_text())
    params["data"]["validation_size"] = 60000
    project.params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    assert main(["--params", str(project.params_path), "prepare"]) == 2
    error = capsys.readouterr().err
    assert "data.validation_size = 60000: Input should be less than 60000" in error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 2
