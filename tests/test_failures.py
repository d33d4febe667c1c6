"""Every failure ends in a clear message and a clean state: unreachable stores, bad levels,
corrupt or missing data, lost workers. Real processes, files, ports and storages."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest
import yaml
from optuna.trial import TrialState

from pipeline.cli import main
from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.data.prepared import load_prepared, prepared_paths
from pipeline.data.sources import DataNotFoundError
from pipeline.redaction import redact, redact_log_records
from pipeline.runs.records import read_record, record_path
from pipeline.specs.run import RunSpec
from pipeline.validation import ConfigError
from pipeline.workers.coordinator import collect_results
from pipeline.workers.lost import reap_cells
from pipeline.workers.queue import claim_waiting, open_storage
from pipeline.workers.worker import WorkerSettings, study_tracker, study_tracking_uri
from tests.conftest import REPO_ROOT, TINY_GRID, write_project
from tests.grid_study import enqueue_only
from tests.servers import free_port

SECRET = "secretpw"


def run_cli(*arguments: str, env: dict | None = None, timeout: float = 60):
    """`python -m pipeline ...` in a real process; returns (exit code, output, seconds)."""
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", *arguments], capture_output=True, text=True,
        timeout=timeout, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200", **(env or {})})
    return completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


# --- credentials -----------------------------------------------------------------------------

def test_redact_masks_every_password_and_keeps_the_rest():
    text = (f"postgresql://lab:{SECRET}@db:5432/optuna and http://u:{SECRET}@127.0.0.1:1, "
            "sqlite:///a/b.db, postgresql://lab@db/mlflow")
    assert redact(text) == ("postgresql://lab:***@db:5432/optuna and http://u:***@127.0.0.1:1, "
                            "sqlite:///a/b.db, postgresql://lab@db/mlflow")


def test_log_records_are_redacted(caplog):
    redact_log_records()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("mlflow.test").warning("retrying %s", f"http://u:{SECRET}@host:5000")
    assert SECRET not in caplog.text and "http://u:***@host:5000" in caplog.text


@pytest.mark.slow
def test_unreachable_mlflow_server_fails_fast_in_one_line(project):
    """The server's own share of the time is bounded: the same command against a refused
    PostgreSQL store (no HTTP retries) is the yardstick, so a loaded machine's slow start
    does not count."""
    url = f"http://u:{SECRET}@127.0.0.1:{free_port()}"
    code, output, seconds = run_cli("--params", str(project.params_path), "train",
                                    env={"MLFLOW_TRACKING_URI": url})
    refused = f"postgresql://u:{SECRET}@127.0.0.1:{free_port()}/mlflow"
    yardstick_code, _, yardstick = run_cli("--params", str(project.params_path), "train",
                                           env={"MLFLOW_TRACKING_URI": refused})
    assert code == 2 and yardstick_code == 2, output
    extra = seconds - yardstick
    assert extra < 10, f"the unreachable server added {extra:.1f} s ({seconds:.1f} s in all)"
    assert SECRET not in output
    assert error_lines(output) == [line for line in output.splitlines() if line.strip()]
    assert len(error_lines(output)) == 1
    assert "MLflow tracking store http://u:***@127.0.0.1:" in output
    assert "unreachable" in output


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_unreachable_optuna_storage_fails_fast_in_one_line(project, capsys, command):
    storage = f"postgresql://u:{SECRET}@127.0.0.1:{free_port()}/db"
    extra = ["sweep", str(REPO_ROOT / "experiments" / "sweep_smoke.yaml")] \
        if command == "sweep" else ["train"]
    started = time.monotonic()
    code = main(["--params", str(project.params_path), *extra, "--storage", storage])
    seconds = time.monotonic() - started
    output = capsys.readouterr()
    text = output.out + output.err
    assert code == 2 and seconds < 15
    assert SECRET not in text
    assert len(error_lines(text)) == 1 and len(text.strip().splitlines()) == 1, text
    assert "Optuna storage postgresql://u:***@127.0.0.1:" in text


def test_unreachable_postgresql_tracking_store_fails_fast(project, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI",
                       f"postgresql://u:{SECRET}@127.0.0.1:{free_port()}/mlflow")
    started = time.monotonic()
    assert main(["--params", str(project.params_path), "train"]) == 2
    assert time.monotonic() - started < 15
    text = capsys.readouterr().err
    assert SECRET not in text and "MLflow tracking store postgresql://u:***@" in text


def test_study_never_stores_a_password_and_workers_must_bring_theirs(project, tmp_path,
                                                                      monkeypatch):
    storage = f"sqlite:///{tmp_path / 'grid.db'}"
    study, _, _ = enqueue_only(project, storage)
    assert SECRET not in json.dumps(study.user_attrs)
    study.set_user_attr("mlflow_tracking_uri", "http://lab:***@tracking:5000")
    with pytest.raises(ConfigError, match="set MLFLOW_TRACKING_URI on this worker"):
        study_tracking_uri(study)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://lab:{SECRET}@tracking:5000")
    assert study_tracking_uri(study) == f"http://lab:{SECRET}@tracking:5000"


# --- bad levels ------------------------------------------------------------------------------

def write_grid_axes(tmp_path, synthetic_data_dir, axes: dict):
    grid = {**TINY_GRID, "cnn": {**TINY_GRID["cnn"], "axes": axes}}
    grid["cnn"].pop("crossed")
    return write_project(tmp_path / "project", synthetic_data_dir, grid=grid)


@pytest.mark.parametrize(("axes", "key", "value", "rule"), [
    ({"kernel_size": [0, 3]}, "cnn.axes.kernel_size.0", "= 0", "greater than or equal to 1"),
    ({"dropout": [0.0, 1.5]}, "cnn.axes.dropout.1", "= 1.5", "less than 1"),
    ({"filters": [[0, 8, 8]]}, "cnn.axes.filters.0.0", "= 0", "greater than or equal to 1"),
    ({"pooling": []}, "cnn.axes", "'pooling': []", "axis 'pooling' has no levels"),
])
def test_bad_grid_axis_level_stops_train_naming_file_key_value_rule(
        tmp_path, synthetic_data_dir, capsys, axes, key, value, rule):
    params = write_grid_axes(tmp_path, synthetic_data_dir, axes)
    assert main(["--params", str(params), "train"]) == 2
    text = " ".join(capsys.readouterr().err.split())
    for part in (str(params.parent / "grid.yaml"), key, value, rule):
        assert part in text, f"{part!r} not in {text!r}"
    assert not (params.parent / "results").exists(), "nothing may train"


def test_bad_sweep_level_fails_at_load(project, tmp_path, capsys):
    spec = yaml.safe_load((REPO_ROOT / "experiments" / "sweep_smoke.yaml").read_text())
    spec["space"]["kernel_size"] = [0, 3]
    path = tmp_path / "sweep_bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["--params", str(project.params_path), "sweep", str(path),
                 "--storage", f"sqlite:///{tmp_path / 'optuna.db'}"]) == 2
    text = " ".join(capsys.readouterr().err.split())
    for part in (str(path), "space.kernel_size.0 = 0", "greater than or equal to 1"):
        assert part in text
    assert not (tmp_path / "optuna.db").exists(), "no study may be created"


def test_unknown_profile_is_one_message_without_the_params_dump(tmp_path, synthetic_data_dir,
                                                                 capsys):
    path = write_project(tmp_path, synthetic_data_dir)
    params = yaml.safe_load(path.read_text())
    params["profile"] = "huge"
    path.write_text(yaml.safe_dump(params))
    assert main(["--params", str(path), "plan"]) == 2
    text = capsys.readouterr().err
    assert "profile 'huge' is not defined; choose one of ['tiny']" in " ".join(text.split())
    assert "validation_size" not in text and "Value error" not in text


# --- data ------------------------------------------------------------------------------------

def test_corrupt_prepared_file_says_to_prepare_again(project, capsys):
    array_path = prepared_paths(project.prepared_dir, "mnist")[0]
    array_path.write_bytes(array_path.read_bytes()[:1000])
    with pytest.raises(DataNotFoundError, match=r"re-run `dvc repro -f -s prepare`"):
        load_prepared(project.prepared_dir, "mnist")
    assert main(["--params", str(project.params_path), "train"]) == 2
    text = capsys.readouterr().err
    assert "Traceback" not in text and "dvc repro -f -s prepare" in " ".join(text.split())


def test_prepare_is_all_or_nothing(project, synthetic_data_dir, tmp_path):
    before = json.loads(prepared_paths(project.prepared_dir, "mnist")[1].read_text())
    broken = tmp_path / "broken-data"
    for name in ("mnist", "fashion-mnist"):
        (broken / name).mkdir(parents=True)
        for source in (synthetic_data_dir / name).iterdir():
            (broken / name / source.name).write_bytes(source.read_bytes())
    labels = broken / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:20])  # only the second dataset is bad
    params = yaml.safe_load(project.params_path.read_text())
    params["data"].update(dir=str(broken), split_seed=7)  # a rewrite would change mnist's digest
    project.params_path.write_text(yaml.safe_dump(params))
    with pytest.raises(Exception, match="t10k-labels"):
        prepare_all(load_project(project.params_path))
    after = json.loads(prepared_paths(project.prepared_dir, "mnist")[1].read_text())
    assert after == before, "the first dataset was rewritten although the second failed"


def test_missing_data_dir_variable_is_said_and_the_search_goes_on(project, capsys, monkeypatch,
                                                                  tmp_path):
    monkeypatch.setenv("CNN_LAB_DATA_DIR", str(tmp_path / "no-such-folder"))
    metas = prepare_all(project)
    assert [meta["dataset"] for meta in metas] == ["mnist", "fashion_mnist"]
    text = " ".join(capsys.readouterr().err.split())
    assert f"$CNN_LAB_DATA_DIR = {tmp_path / 'no-such-folder'}: folder is missing" in text


@pytest.mark.slow
def test_download_attempt_gives_up_within_seconds(tmp_path, synthetic_data_dir):
    """The download's own share of the time is bounded: the same command without a download
    attempt, plus importing Keras (which the download needs), is the yardstick, so a loaded
    machine's slow start does not count."""
    params = write_project(tmp_path / "project", tmp_path / "no-data")
    settings = yaml.safe_load(params.read_text())
    env = {"KERAS_HOME": str(tmp_path / "keras")}
    settings["data"]["allow_download"] = False
    params.write_text(yaml.safe_dump(settings))
    _, _, without_download = run_cli("--params", str(params), "prepare", env=env, timeout=120)
    settings["data"]["allow_download"] = True
    params.write_text(yaml.safe_dump(settings))
    code, output, seconds = run_cli("--params", str(params), "prepare", env=env, timeout=120)
    if code == 0:
        pytest.skip("this machine is online: the download succeeded")
    assert code == 2, output
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import keras.datasets"], check=True, env=os.environ
                   | {"TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, timeout=120)
    extra = seconds - without_download - (time.perf_counter() - started)
    assert extra < 25, f"a failing download added {extra:.0f} s"
    text = " ".join(output.split())
    assert "folder is missing" in text and "keras download" in text
    assert "Traceback" not in output


# --- lost workers ----------------------------------------------------------------------------

def lose_a_worker(study, grace_s: float) -> int:
    """Claim a cell for a worker that then never beats (as after kill -9); its number."""
    trial = claim_waiting(study, "ghost:1")
    time.sleep(grace_s + 0.5)
    return trial.number


@pytest.mark.slow
def test_cell_lost_max_retries_times_is_recorded_failed_not_requeued(project, tmp_path):
    storage = f"sqlite:///{tmp_path / 'grid.db'}"
    study, _, _ = enqueue_only(project, storage)
    settings = WorkerSettings(grace_s=0.5, max_retries=2)
    tracker = study_tracker(project, study)
    first = lose_a_worker(study, settings.grace_s)
    assert [t.number for t in reap_cells(study, settings, tracker, project)] == [first]
    retry = [t for t in study.get_trials(states=(TrialState.WAITING,))
             if t.system_attrs.get("failed_trial") == first]
    assert len(retry) == 1 and retry[0].system_attrs["retry_history"] == [first]
    assert retry[0].user_attrs["cache_key"] == study.trials[first].user_attrs["cache_key"]
    # The retry is claimed first when it is the oldest waiting trial; lose whichever is taken.
    second = lose_a_worker(study, settings.grace_s)
    while second != retry[0].number:
        study.tell(second, state=TrialState.FAIL)
        second = lose_a_worker(study, 0)
    assert [t.number for t in reap_cells(study, settings, tracker, project)] == [second]
    assert not [t for t in study.trials if len(t.system_attrs.get("retry_history", [])) > 1], \
        "a cell lost max_retries times must not be queued again"
    lost = study.trials[second]
    assert lost.state == TrialState.FAIL
    assert "not retried" in lost.user_attrs["failure_reason"]
    spec = RunSpec.model_validate_json(lost.user_attrs["spec"])
    record = read_record(record_path(project.results_dir, spec))
    assert record["status"] == "failed" and "worker lost" in record["reason"]
    assert "workers.max_retries = 2" in record["reason"]
    (record_path(project.results_dir, spec)).unlink()
    assert collect_results(study, project) == 1, "the coordinator collects the failed record"


def test_unsupported_storage_message_masks_the_password():
    with pytest.raises(ConfigError, match="not supported") as caught:
        open_storage(f"redis://u:{SECRET}@127.0.0.1:1/0")
    assert SECRET not in str(caught.value)
