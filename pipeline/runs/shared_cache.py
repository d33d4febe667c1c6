"""One run cache per project, also for DVC queued and temporary experiments.

`dvc exp run --queue` runs the train stage in a copy under .dvc/tmp/exps/, where the
git-ignored results/runs/ is empty. Before training, the copy is seeded with the home
project's records (so cached runs are reused); afterwards its new records are published back
(so the workspace and later experiments reuse them). In the home project both are no-ops.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import Project


def copy_records(source: Path, target: Path) -> int:
    """Copy result files missing in `target` or older there; returns how many were copied."""
    if not source.is_dir():
        return 0
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in source.glob("*.json"):
        destination = target / path.name
        if not destination.exists() or destination.stat().st_mtime < path.stat().st_mtime:
            shutil.copy2(path, destination)
            copied += 1
    return copied


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
