"""The ETA (issue 17 #4): costs counted independently, rates from stored records, calibration
with real Keras, and the budget that refuses a 48,000-cell factorial grid before training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.grid.eta import (
    STARTUP_S,
    Eta,
    duration_text,
    estimate,
    guard_training,
    longest_first,
    remaining_text,
)
from pipeline.grid.plan import plan_grid
from pipeline.grid.throughput import TRAIN_PASSES, throughput_from_records
from pipeline.model.shapes import count_flops
from pipeline.runs.records import DONE, base_record, record_id, record_path, write_record
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec
from tests.conftest import write_project

BASELINE = {"arch": "cnn", "filters": [32, 64, 64], "kernel_size": 3, "pooling": "max",
            "padding": "valid", "dense_units": [64]}
BIG_GRID = {  # 3 x 5 x 2 x 8 x 10 x 5 = 12,000 CNNs x 2 datasets x 2 seeds = 48,000 cells
    "name": "big", "design": "factorial", "datasets": ["mnist", "fashion_mnist"],
    "seeds": [0, 1],
    "cnn": {"baseline": BASELINE, "axes": {
        "pooling": ["max", "avg", "none"], "kernel_size": [3, 5, 7, 9, 11],
        "padding": ["valid", "same"],
        "filters": [[8], [16], [32], [16, 32], [32, 64], [16, 32, 32], [32, 64, 64],
                    [64, 64, 64]],
        "dense_units": [[16], [32], [64], [128], [256], [32, 16], [64, 32], [128, 64],
                        [256, 128], []],
        "dropout": [0.0, 0.1, 0.2, 0.3, 0.5]}},
}


def spec_of(model: dict, seed: int = 0, **budget) -> RunSpec:
    recipe = TrainingRecipe(**{"epochs": 3, "train_samples": 20000, "val_samples": 2000,
                               **budget})
    return RunSpec(dataset="mnist", seed=seed, model=ModelSpec(**model), training=recipe)


def write_measured(project, spec: RunSpec, samples_per_s: float, overhead_s: float) -> None:
    """A finished record as the train stage writes it, trained at `samples_per_s`."""
    images, epochs = spec.training.train_samples, spec.training.epochs
    train_s = images * epochs / samples_per_s
    record = base_record(spec, "key", "digest", "code")
    record.update(status=DONE, started_at=1000.0, finished_at=1000.0 + train_s + overhead_s,
                  metrics={"model/flops": float(count_flops(spec.model)),
                           "data/train_samples": float(images), "train/epochs": float(epochs),
                           "time/train_s": train_s})
    write_record(record_path(project.results_dir, spec), record)


def test_cost_is_three_passes_per_training_image_plus_validation(project):
    spec = spec_of(BASELINE)
    write_measured(project, spec, samples_per_s=4000.0, overhead_s=2.0)
    throughput = throughput_from_records(project)
    flops = 2 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 3 * 3 * 64 * 9 * 64
                 + 576 * 64 + 64 * 10)  # 2 x multiply-accumulates, counted by hand
    assert flops == count_flops(spec.model) == 5_588_480
    # the tiny project's split holds 1,000 train and 200 validation images (caps 20,000, 2,000)
    expected_rate = flops * 3 * (TRAIN_PASSES * 20000 + 200) / (3 * 20000 / 4000.0)
    assert throughput.rate(spec.model, flops) == pytest.approx(expected_rate)
    assert throughput.overhead_s == pytest.approx(2.0)
    eta = estimate(project, plan_runs([spec]), jobs=1, throughput=throughput)
    assert eta.seconds == pytest.approx(
        STARTUP_S + flops * 3 * (3 * 1000 + 200) / expected_rate + 2.0)
    assert "1 stored record" in eta.line()


def plan_runs(specs):
    from pipeline.grid.expansion import GridRun

    return [GridRun(spec) for spec in specs]


def test_rates_are_per_architecture_and_interpolated_in_log_flops(project):
    small = {**BASELINE, "filters": [8]}
    large = {**BASELINE, "pooling": "none"}
    write_measured(project, spec_of(small), samples_per_s=30000.0, overhead_s=1.0)
    write_measured(project, spec_of(large), samples_per_s=500.0, overhead_s=3.0)
    write_measured(project, spec_of({"arch": "dense", "dense_units": [128]}), 20000.0, 2.0)
    throughput = throughput_from_records(project)
    rate = {name: throughput.rate(ModelSpec(**model), count_flops(ModelSpec(**model)))
            for name, model in (("small", small), ("large", large))}
    middle = ModelSpec(**BASELINE)
    low, high = (np.log(count_flops(ModelSpec(**model))) for model in (small, large))
    weight = (np.log(count_flops(middle)) - low) / (high - low)
    expected = np.exp((1 - weight) * np.log(rate["small"]) + weight * np.log(rate["large"]))
    assert throughput.rate(middle, count_flops(middle)) == pytest.approx(expected)
    assert set(throughput.points) == {"cnn", "dense"}
    assert throughput.overhead_s == pytest.approx(2.0)  # the median of 1, 2 and 3 s


def test_jobs_divide_the_work_but_not_the_longest_run():
    eta = Eta({"a": 100.0, "b": 10.0, "c": 10.0}, jobs=2, source="test")
    assert eta.seconds == pytest.approx(STARTUP_S + 100.0)  # a 100 s run cannot be shared
    assert Eta({"a": 30.0, "b": 30.0, "c": 30.0}, 2, "t").seconds == pytest.approx(STARTUP_S + 45)
    assert Eta({}, 2, "nothing").seconds == 0.0
    assert eta.remaining({"a"}) == pytest.approx(10.0)
    assert eta.left_text({"b"}) == "eta 2 min" and eta.left_text({"a"}) == "eta 10 s"


def test_parallel_jobs_take_the_longest_runs_first(project):
    """Without an ETA the order is by FLOPs x images; with one, by its seconds."""
    dense, baseline = spec_of({"arch": "dense", "dense_units": [128]}), spec_of(BASELINE)
    no_pooling, longer = spec_of({**BASELINE, "pooling": "none"}), spec_of(BASELINE, epochs=30)
    runs = plan_runs([dense, baseline, no_pooling, longer])
    assert [run.spec for run in longest_first(project, runs)] == [
        no_pooling, longer, baseline, dense]
    seconds = {record_id(dense): 9, record_id(baseline): 1, record_id(no_pooling): 5,
               record_id(longer): 3}
    assert [run.spec for run in longest_first(project, runs, Eta(seconds, 2, "t"))] == [
        dense, no_pooling, longer, baseline]


def test_references_sharing_a_run_key_keep_their_own_estimate():
    grid_run, reference = spec_of(BASELINE), spec_of(BASELINE, epochs=5)
    assert grid_run.run_key == reference.run_key and record_id(grid_run) != record_id(reference)
    assert record_id(reference) == record_path(Path("results"), reference).stem


def big_project(tmp_path, synthetic_data_dir):
    project = load_project(write_project(tmp_path / "big", synthetic_data_dir, grid=BIG_GRID,
                                         epochs=3, train_samples=20000, val_samples=2000))
    prepare_all(project)
    write_measured(project, spec_of(BASELINE), samples_per_s=4000.0, overhead_s=2.0)
    write_measured(project, spec_of({**BASELINE, "pooling": "none"}), 500.0, 2.0)
    return project


def test_a_48000_cell_grid_is_summarised_and_refused(tmp_path, synthetic_data_dir, capsys):
    project = big_project(tmp_path, synthetic_data_dir)
    params = ["--params", str(project.params_path)]
    assert main([*params, "plan"]) == 0
    shown = capsys.readouterr().err
    assert "grid big: 48,000 runs:" in shown and "summary (48,000 runs; --all lists each)" in shown
    assert len(shown.splitlines()) < 30, "a summary, not one row per run"
    assert "calibrated on 3 network(s)" in " ".join(shown.split())

    assert main([*params, "train"]) == 2
    refusal = " ".join(capsys.readouterr().err.split())
    pending = len(plan_grid(project).pending)
    assert f"{pending:,} run(s) to train, expected" in refusal
    assert "over the 12 h budget (max_hours of profile 'tiny'" in refusal
    assert "`train --max-hours N` or `train --force`" in refusal
    assert len(list(project.results_dir.glob("*.json"))) == 2, "nothing trained"


def test_max_hours_on_the_command_line_replaces_the_profiles(project, capsys):
    for spec in plan_grid(project).pending:
        write_measured(project, spec.spec.model_copy(update={"seed": 99}), 1000.0, 1.0)
    assert main(["--params", str(project.params_path), "train", "--max-hours", "0.0001"]) == 2
    refusal = " ".join(capsys.readouterr().err.split())
    assert "5 run(s) to train, expected" in refusal and "from 5 stored record(s)" in refusal
    assert "over the 0.0001 h budget (--max-hours 0.0001)" in refusal
    assert not list(project.results_dir.glob("*-s0-t*.json")), "nothing trained"


def test_a_small_grid_outside_the_records_trains_without_calibrating(project, capsys):
    """Records of the full-size baseline only: the tiny grid's networks are far outside them,
    but even a pessimistic rate keeps its runs under 5 minutes, so no few-seconds calibration
    (longer than the grid's own training) runs; the line says it gives an upper bound."""
    write_measured(project, spec_of(BASELINE), samples_per_s=4000.0, overhead_s=2.0)
    runs = plan_grid(project).pending
    throughput = throughput_from_records(project)
    assert throughput is not None and not any(
        throughput.covers(run.spec.model, count_flops(run.spec.model)) for run in runs)
    assert guard_training(project, runs) is None
    shown = " ".join(capsys.readouterr().err.split())
    assert f"{len(runs)} run(s) to train, expected" in shown
    assert "not measured yet: an upper bound" in shown and "calibrated" not in shown


def test_max_hours_in_the_profile_is_validated(tmp_path, synthetic_data_dir, capsys):
    path = write_project(tmp_path, synthetic_data_dir, max_hours=0)
    assert main(["--params", str(path), "plan"]) == 2
    assert "profiles.tiny.max_hours = 0" in capsys.readouterr().err.replace("\n", " ")


@pytest.mark.slow
def test_calibration_without_records_predicts_the_tiny_grid(project, capsys):
    """No records: the ETA comes from a few seconds of real training, then the grid trains.
    Both estimates are compared with the runs' own recorded wall times, not the stage's: the
    stage also opens its MLflow store and writes the summary, which a loaded machine slows."""
    pending = plan_grid(project).pending
    eta = estimate(project, pending)
    assert eta.source.startswith("calibrated on") and eta.runs == len(pending) == 5
    # in the stage's process, as the estimate (jobs=1) assumes: no job process to start
    assert main(["--params", str(project.params_path), "train", "--in-process"]) == 0
    assert "5 run(s) to train, expected" in capsys.readouterr().err
    records = [json.loads(record_path(project.results_dir, run.spec).read_text())
               for run in pending]
    recorded = sum(record["finished_at"] - record["started_at"] for record in records)
    assert 0.2 * recorded < eta.remaining(set()) < 5 * recorded, (eta.remaining(set()), recorded)
    measured = estimate(project, pending, throughput=throughput_from_records(project))
    assert measured.source == "from 5 stored record(s)"
    assert 0.5 * recorded < measured.remaining(set()) < 2 * recorded, \
        (measured.remaining(set()), recorded)


def test_the_progress_eta_follows_the_records_as_they_accrue(project):
    """The train stage's progress line: the stage's estimate before any record, then the
    records' measured FLOP/s for the runs still to train."""
    runs = plan_grid(project).pending
    assert remaining_text(project, runs, 1) == "eta after the first run"
    first = Eta({record_id(run.spec): 60.0 for run in runs}, jobs=1, source="test")
    assert remaining_text(project, runs, 1, first) == f"eta {len(runs)} min"
    assert remaining_text(project, runs[2:], 1, first) == f"eta {len(runs) - 2} min"
    write_measured(project, runs[0].spec, samples_per_s=1000.0, overhead_s=1.0)
    measured = estimate(project, runs[1:], 1, throughput_from_records(project))
    assert remaining_text(project, runs[1:], 1, first) == \
        f"eta {duration_text(measured.remaining(set()))}"


def test_networks_far_outside_the_records_are_calibrated(project):
    """Records of the no-pooling CNN alone, at an impossible rate: extrapolated, the baseline
    would be priced at that rate; the printed ETA calibrates it with real Keras instead."""
    large = spec_of({**BASELINE, "pooling": "none"})
    write_measured(project, large, samples_per_s=50_000.0, overhead_s=1.0)
    throughput = throughput_from_records(project)
    runs = [run for run in plan_grid(project).pending if run.spec.model.arch == "cnn"]
    assert runs and not any(throughput.covers(run.spec.model, count_flops(run.spec.model))
                            for run in runs)
    assert throughput.covers(large.model, 1.5 * count_flops(large.model))
    extrapolated = estimate(project, runs, 1, throughput)
    calibrated = estimate(project, runs, 1, throughput, calibrate_outside=True)
    assert extrapolated.source == "from 1 stored record(s)"
    assert calibrated.source.startswith("from 1 stored record(s) and calibrated on ")
    training_s = {name: sum(seconds - throughput.overhead_s for seconds in eta.per_run.values())
                  for name, eta in (("calibrated", calibrated), ("extrapolated", extrapolated))}
    assert training_s["calibrated"] > 3 * training_s["extrapolated"] > 0
