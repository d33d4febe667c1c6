"""The training recipe's precision, the one test pass and the device record: real Keras
training on tiny synthetic digits, a real MLflow store, the real report."""

from __future__ import annotations

from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
import yaml

from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.data.prepared import load_prepared
from pipeline.grid.expansion import expand
from pipeline.report.stage import build_report
from pipeline.runs.records import cache_key, read_record, record_path
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec
from pipeline.stages.train import run_grid
from pipeline.training import device
from pipeline.training.inputs import make_dataset
from pipeline.training.train import evaluate_on_test, train_run
from pipeline.validation import ConfigError
from tests.conftest import TINY_GRID, write_project

SMALL_CNN = ModelSpec(arch="cnn", filters=[4, 8], dense_units=[8])


def tiny_spec(precision: str = "float32", model: ModelSpec = SMALL_CNN) -> RunSpec:
    recipe = TrainingRecipe(epochs=1, train_samples=300, val_samples=100, precision=precision)
    return RunSpec(dataset="mnist", seed=3, model=model, training=recipe)


def test_one_predict_pass_gives_the_numbers_keras_evaluate_gives(project, monkeypatch):
    splits = load_prepared(project.prepared_dir, "mnist")
    outcome = train_run(tiny_spec(model=SMALL_CNN.model_copy(update={"dropout": 0.3})), splits,
                        evaluate_test=False)
    calls = []
    original = keras.Model.predict
    monkeypatch.setattr(keras.Model, "predict",
                        lambda self, *a, **k: calls.append("predict") or original(self, *a, **k))
    monkeypatch.setattr(keras.Model, "evaluate", lambda *a, **k: pytest.fail("evaluate ran"))
    evaluate_on_test(outcome, splits.x_test, splits.y_test)
    assert calls == ["predict"]
    monkeypatch.undo()

    test_data = make_dataset(splits.x_test, splits.y_test, 256, shuffle_seed=None)
    loss, accuracy = outcome.model.evaluate(test_data, verbose=0)
    assert outcome.metrics["test/accuracy"] == accuracy  # the same float32 bits
    assert outcome.metrics["test/loss"] == pytest.approx(loss, rel=1e-5)
    assert 0.0 < accuracy < 1.0 and len(outcome.predictions) == len(splits.y_test) == 300
    for label in range(10):
        members = splits.y_test == label
        expected = np.mean(outcome.predictions[members] == label)
        assert outcome.metrics[f"test/class_accuracy/{label}"] == pytest.approx(expected)
    assert outcome.metrics["time/test_s"] > 0


def test_default_precision_keeps_the_record_name_and_other_precisions_get_their_own():
    default = tiny_spec()
    assert default.training.precision == "float32"
    # The name this spec had before `precision` existed (computed on the previous commit).
    assert record_path(Path("r"), default).name == "d827ace52f-s3-t40697f.json"
    assert record_path(Path("r"), tiny_spec("mixed_bfloat16")).name != \
        record_path(Path("r"), default).name
    assert cache_key(tiny_spec("mixed_float16"), "data", "code") != \
        cache_key(default, "data", "code")
    assert default.flat_params()["training.precision"] == "float32"


def test_mixed_float16_builds_and_trains_on_the_cpu(project):
    splits = load_prepared(project.prepared_dir, "mnist")
    outcome = train_run(tiny_spec("mixed_float16"), splits)
    hidden = outcome.model.get_layer("conv1")
    assert hidden.compute_dtype == "float16" and hidden.variable_dtype == "float32"
    assert outcome.model.get_layer("output").compute_dtype == "float32"
    assert isinstance(outcome.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(outcome.metrics["test/loss"]) and outcome.metrics["test/accuracy"] > 0.1


CPUINFO = """processor\t: 0
model name\t: Test CPU 9000
flags\t\t: fpu sse2 fma avx2 avx512f {extra}

processor\t: 1
model name\t: Other
"""


@pytest.mark.parametrize(("extra", "extensions", "bf16"), [
    ("", ["fma", "avx2", "avx512f"], False),
    ("avx512_bf16 amx_tile amx_bf16", ["fma", "avx2", "avx512f", "avx512_bf16", "amx_bf16",
                                       "amx_tile"], True),
])
def test_cpu_extensions_and_bf16_come_from_the_first_processor(extra, extensions, bf16):
    fields = device.cpu_fields(CPUINFO.format(extra=extra))
    assert fields["model name"] == "Test CPU 9000"
    assert device.cpu_extensions(fields) == extensions
    assert device.cpu_has_bf16(fields) is bf16


def test_bfloat16_is_refused_in_one_line_on_a_cpu_without_it(tmp_path, monkeypatch):
    fake = tmp_path / "cpuinfo"
    fake.write_text(CPUINFO.format(extra=""))
    monkeypatch.setattr(device, "CPUINFO", fake)
    monkeypatch.setattr(device, "device_info", lambda: {"gpu_count": "0", "cpu": "Test CPU"})
    with pytest.raises(ConfigError) as refused:
        device.check_precision("mixed_bfloat16")
    assert str(refused.value) == (
        "training.precision = 'mixed_bfloat16': this CPU (Test CPU) has no bf16 instructions "
        "(avx512_bf16 or amx_bf16); use float32")
    device.check_precision("mixed_float16")
    device.check_precision("float32")
    fake.write_text(CPUINFO.format(extra="avx512_bf16"))
    device.check_precision("mixed_bfloat16")


def test_this_machine_is_described_as_tensorflow_sees_it():
    import tensorflow as tf

    info = device.device_info()
    gpus = tf.config.list_physical_devices("GPU")
    assert info["gpu_count"] == str(len(gpus))
    build = tf.sysconfig.get_build_info()
    kind = f"CUDA {build['cuda_version']}" if build.get("is_cuda_build") else "CPU"
    assert info["tensorflow_build"] == f"TensorFlow {tf.__version__} {kind} build"
    if not gpus:
        assert info["device"].startswith(f"CPU {info['cpu']}")
        assert all(flag in info["device"] for flag in info["cpu_extensions"].split())


@pytest.mark.slow
def test_precision_and_device_reach_record_mlflow_and_report(tmp_path, synthetic_data_dir):
    grid = {**TINY_GRID, "cnn": None, "dense": {"baseline": {"arch": "dense",
                                                              "dense_units": [16]}}}
    params_path = write_project(tmp_path / "project", synthetic_data_dir, grid)
    params = yaml.safe_load(params_path.read_text())
    params_path.write_text(yaml.safe_dump({**params, "training": {"precision": "mixed_float16"}}))
    project = load_project(params_path)
    prepare_all(project)
    run_grid(project)
    (run,) = expand(project.load_grid(), project.params.training_recipe())
    record = read_record(record_path(project.results_dir, run.spec))
    assert record["status"] == "done" and record["device"] == device.device_info()

    client = mlflow.MlflowClient(project.tracking_uri)
    child = client.get_run(record["mlflow_run_id"])
    assert child.data.params["training.precision"] == "mixed_float16"
    assert child.data.tags["device.device"] == device.device_info()["device"]
    assert child.data.tags["device.tensorflow_build"] == device.device_info()["tensorflow_build"]

    build_report(project)
    text = (project.reports_dir / "ablation.md").read_text()
    assert "precision mixed_float16" in text
    info = device.device_info()
    assert f"- **Device**: {info['device']}, {info['tensorflow_build']} (1 runs)" in text
