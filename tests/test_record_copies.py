"""Paths that copy or overwrite records never drop a finished one: the shared run cache of
DVC experiment copies carries each record's predictions, skips a record without them, and
a failed result never replaces a finished record of the same run."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.grid.expansion import expand
from pipeline.grid.plan import plan_grid
from pipeline.runs.committed_evidence import export_evidence, unpack
from pipeline.runs.records import (
    DONE,
    FAILED,
    DiskFull,
    EvidenceError,
    evidence_path,
    read_evidence,
    read_record,
    record_path,
    write_record,
)
from pipeline.runs.shared_cache import copy_records
from pipeline.validation import USER_ERRORS
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


def test_a_failed_copy_never_replaces_a_finished_record(project, tmp_path):
    """Publishing a queued experiment's failed run must not drop home's finished one."""
    spec = grid_specs(project)[0]
    home = tmp_path / "home-runs"
    write_record(record_path(home, spec), finished_record(project, spec, np.arange(300) % 3 > 0))
    failed = finished_record(project, spec, np.arange(300) % 3 > 0)
    failed.pop("evidence")
    failed.update(status=FAILED, reason="worker lost")
    write_record(record_path(project.results_dir, spec), failed)  # newer than home's record
    assert copy_records(project.results_dir, home) == 0
    assert read_record(record_path(home, spec))["status"] == DONE


def test_an_interrupted_copy_leaves_the_old_record(project, tmp_path, monkeypatch):
    spec = grid_specs(project)[0]
    home = tmp_path / "home-runs"
    write_finished(project, spec, np.arange(300) % 3 > 0)
    copy_records(project.results_dir, home)
    before = record_path(home, spec).read_bytes()
    write_finished(project, spec, np.arange(300) % 5 > 0)  # a newer result to publish

    def cut_short(source, destination):
        Path(destination).write_bytes(Path(source).read_bytes()[:10])
        raise KeyboardInterrupt  # killed half-way through the copy

    monkeypatch.setattr(shutil, "copy2", cut_short)
    with pytest.raises(KeyboardInterrupt):
        copy_records(project.results_dir, home)
    assert record_path(home, spec).read_bytes() == before
    assert read_evidence(record_path(home, spec)) is not None
    assert not list(home.glob(".*")), "no half-written temporary file left"


def test_a_full_disk_names_the_file_and_keeps_every_stored_record(project, monkeypatch):
    spec = grid_specs(project)[0]
    path = record_path(project.results_dir, spec)
    write_finished(project, spec, np.arange(300) % 3 > 0)
    before = path.read_bytes(), evidence_path(path).read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", no_space)
    with pytest.raises(DiskFull, match=f"{path.stem}.*no space left.*stored result is intact"):
        write_finished(project, spec, np.arange(300) % 5 > 0)
    assert (path.read_bytes(), evidence_path(path).read_bytes()) == before
    assert not list(project.results_dir.glob(".*")), "no temporary file left"
    assert DiskFull in USER_ERRORS, "a full disk ends in one line, exit status 2"


def test_an_interrupted_evidence_export_keeps_the_committed_files(project, tmp_path,
                                                                  monkeypatch):
    specs = grid_specs(project)[:2]
    for spec in specs:
        write_finished(project, spec, np.arange(300) % 3 > 0)
    folder = tmp_path / "evidence"
    paths = [record_path(project.results_dir, spec) for spec in specs]
    export_evidence(paths, folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}

    def cut_short(self, text, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(DiskFull, match=r"records\.jsonl"):
        export_evidence(paths[:1], folder)
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in folder.iterdir()
            if path.name in before} == before
    (folder / "records.jsonl").write_text("{not json\n")
    with pytest.raises(EvidenceError, match=r"records\.jsonl: unreadable"):
        unpack(folder)
