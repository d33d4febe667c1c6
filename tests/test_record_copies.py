"""Paths that copy or overwrite records never drop a finished one: the shared run cache of
DVC experiment copies carries each record's predictions, skips a record without them, and
a failed result never replaces a finished record of the same run."""

from __future__ import annotations

import numpy as np

from pipeline.grid.expansion import expand
from pipeline.grid.plan import plan_grid
from pipeline.runs.records import (
    DONE,
    FAILED,
    evidence_path,
    read_evidence,
    read_record,
    record_path,
    write_record,
)
from pipeline.runs.shared_cache import copy_records
from tests.synthetic_records import finished_record, write_finished


def grid_specs(project) -> list:
    return [run.spec for run in expand(project.load_grid(), project.params.training_recipe())]


def test_copies_carry_evidence_and_skip_records_without_it(project, tmp_path):
    first, second = grid_specs(project)[:2]
    write_finished(project, first, np.arange(300) % 3 > 0)
    write_finished(project, second, np.arange(300) % 4 > 0)
    evidence_path(record_path(project.results_dir, second)).unlink()
    target = tmp_path / "home-runs"
    assert copy_records(project.results_dir, target) == 1
    copied = record_path(target, first)
    assert read_record(copied)["status"] == DONE
    expected = read_evidence(record_path(project.results_dir, first))
    assert np.array_equal(read_evidence(copied)["predicted"], expected["predicted"])
    assert not record_path(target, second).exists()
    assert not list(target.glob(".*"))  # no temporary file left behind
    assert copy_records(project.results_dir, target) == 0  # up to date: nothing copied


def test_a_done_record_without_evidence_trains_again(project, capsys):
    first = grid_specs(project)[0]
    write_finished(project, first, np.arange(300) % 3 > 0)
    assert first.run_key not in {run.spec.run_key for run in plan_grid(project).pending}
    evidence_path(record_path(project.results_dir, first)).unlink()
    assert first.run_key in {run.spec.run_key for run in plan_grid(project).pending}
    warning = capsys.readouterr().err
    assert "missing; this run trains again" in warning


def test_a_failed_result_never_replaces_a_finished_record(project):
    spec = grid_specs(project)[0]
    path = record_path(project.results_dir, spec)
    finished = finished_record(project, spec, np.arange(300) % 3 > 0)
    write_record(path, finished)
    failed = {key: value for key, value in finished.items() if key != "evidence"}
    failed.update(status=FAILED, reason="worker lost")
    write_record(path, failed)
    assert read_record(path)["status"] == DONE and read_evidence(path) is not None
    write_record(path, {**failed, "cache_key": "another-key"})  # a changed run: replaced
    assert read_record(path)["status"] == FAILED
