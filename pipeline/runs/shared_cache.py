"""One run cache per project, also for DVC queued and temporary experiments.

`dvc exp run --queue` runs the train stage in a copy under .dvc/tmp/exps/, where the
git-ignored results/runs/ is empty. Before training, the copy is seeded with the home
project's records (so cached runs are reused); afterwards its new records are published back
(so the workspace and later experiments reuse them). In the home project both are no-ops.
Each record travels with its `.predictions.npz`: a record without its evidence is no answer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import Project
from pipeline.runs.records import (
    DONE,
    evidence_path,
    evidence_problem,
    finished,
    read_record,
    written_atomically,
)


def copy_file(source: Path, destination: Path) -> None:
    """Copy through a temporary file and a rename: an interrupted copy or a full disk leaves
    the old file (or none), never a truncated one."""
    with written_atomically(destination) as temporary:
        shutil.copy2(source, temporary)


def newer(source: Path, destination: Path) -> bool:
    return not destination.exists() or destination.stat().st_mtime < source.stat().st_mtime


def copy_record(path: Path, target: Path) -> bool:
    """Copy record `path` into `target` with its evidence (evidence first); a done record
    whose evidence is unusable is not copied, nor one that would replace a newer file, nor
    a failed one that would replace a finished record of the same run."""
    destination = target / path.name
    if not newer(path, destination):
        return False
    record = read_record(path)
    if record is None:
        return False
    if record.get("status") != DONE and finished(destination, record.get("cache_key")):
        return False
    if record.get("status") == DONE:
        if evidence_problem(path):
            return False
        copy_file(evidence_path(path), evidence_path(destination))
    copy_file(path, destination)
    return True


def copy_records(source: Path, target: Path) -> int:
    """Copy records (and their evidence) missing in `target` or older there; how many."""
    if not source.is_dir():
        return 0
    target.mkdir(parents=True, exist_ok=True)
    return sum(copy_record(path, target) for path in sorted(source.glob("*.json")))


@contextmanager
def shared_run_cache(project: Project) -> Iterator[None]:
    """Seed the experiment copy's results from home, and publish its new results on exit."""
    home_results = project.home_path(project.params.results_dir)
    if home_results.resolve() == project.results_dir.resolve():
        yield
        return
    copy_records(home_results, project.results_dir)
    try:
        yield
    finally:
        copy_records(project.results_dir, home_results)
