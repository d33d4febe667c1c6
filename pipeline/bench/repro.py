"""Case 5: a no-op `dvc repro` and one after a level is added to the grid, timed for real.

In a scratch copy of the repository (code, experiments, dvc.yaml; git and DVC initialised)
that trains the smoke profile, so that the first repro, which only sets the case up, fits in
the benchmark's minutes: a no-op repro of the default profile would first need its whole
15-minute study. The smoke grid keeps every stage and code path; the quick benchmark cuts it
to two cells on one dataset, in the stage's own process.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.bench.cases import Sizes
from pipeline.bench.children import REPO_ROOT, child_environment, run_timed
from pipeline.bench.overhead import records_sums
from pipeline.bench.scratch import Scratch
from pipeline.config import Project

COPIED = ("pipeline", "experiments", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore")
SMOKE_GRID = Path("experiments") / "grids" / "smoke.yaml"
UP_TO_DATE = "Data and pipelines are up to date"
TINY_GRID = {"name": "smoke", "description": "the quick benchmark's two cells",
             "design": "one_at_a_time", "datasets": ["mnist"], "seeds": [0],
             "cnn": {"baseline": {"arch": "cnn", "filters": [8, 16, 16], "dense_units": [16]},
                     "axes": {"pooling": ["max", "avg"]}}}


@dataclass(frozen=True)
class ReproTimes:
    """Seconds of the three repros, and what the grid and the changed repro held."""

    first_s: float
    noop_s: float
    noop_up_to_date: bool
    changed_s: float
    runs_before: int
    new_runs: int
    new_work_s: float  # fit + test seconds of the runs the changed repro trained
    grid: str
    command: str  # `dvc repro`, or with the stages it was given


def copy_repository(target: Path) -> Path:
    """The code, experiments and DVC files of this checkout (no data, stores or caches)."""
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, target / name)
    return target


def write_params(repo: Path, project: Project, scratch: Scratch, sizes: Sizes) -> None:
    """params.yaml of the copy: the smoke profile on the project's data, its own store; the
    quick sizes cut its grid to two cells trained in the stage's own process."""
    quick = sizes.repro_grid == "tiny"
    params = yaml.safe_load((repo / "params.yaml").read_text())
    shutil.copy2(scratch.store, repo / "mlflow.db")
    params.update(profile="smoke", data={**scratch.data, "prepared_dir": "data/prepared"},
                  jobs=1 if quick else project.params.jobs)
    params["mlflow"] = {**params.get("mlflow", {}), "tracking_uri": f"sqlite:///{repo}/mlflow.db",
                        "log_models": sizes.log_models}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if quick:
        (repo / SMOKE_GRID).write_text(yaml.safe_dump(TINY_GRID, sort_keys=False))


def add_level(repo: Path) -> str:
    """Add one variant to the copy's grid: filters at half the baseline's; its words."""
    path = repo / SMOKE_GRID
    grid = yaml.safe_load(path.read_text())
    filters = grid["cnn"]["baseline"]["filters"]
    half = [max(1, count // 2) for count in filters]
    grid["cnn"].setdefault("axes", {})["filters"] = [filters, half]
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    return f"filters {'-'.join(map(str, half))}"


def repro_environment(repo: Path) -> dict[str, str]:
    """The children's environment, with the copy importable and this Python's tools first."""
    environment = child_environment()
    return {**environment, "PYTHONPATH": str(repo),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), environment["PATH"]])}


def measure_repro(project: Project, scratch: Scratch, sizes: Sizes, step) -> ReproTimes:
    """Set the copy up (git, DVC, a first repro), then time the no-op and changed repros."""
    repo = copy_repository(scratch.root / "repro")
    quick = sizes.repro_grid == "tiny"
    write_params(repo, project, scratch, sizes)
    environment = repro_environment(repo)
    dvc = [str(Path(sys.executable).parent / "dvc"), "repro", *sizes.repro_stages]
    with step("5. dvc repro: first, every run trains", "first repro"):
        for command in (["git", "init", "-q"], [dvc[0], "init", "-q"]):
            run_timed(command, repo, environment, " ".join(command[:2]))
        first = run_timed(dvc, repo, environment, "first dvc repro")
    with step("5. dvc repro: no-op", "no-op repro"):
        noop = run_timed(dvc, repo, environment, "no-op dvc repro")
    results = repo / "results" / "runs"
    before, fit_before, test_before = records_sums(results)
    added = add_level(repo)
    with step(f"5. dvc repro: {added} added", "changed repro"):
        changed = run_timed(dvc, repo, environment, "changed dvc repro")
    after, fit_after, test_after = records_sums(results)
    grid = "two cells on MNIST (quick)" if quick else f"the smoke grid ({SMOKE_GRID})"
    return ReproTimes(first.seconds, noop.seconds, UP_TO_DATE in noop.stdout, changed.seconds,
                      before, after - before, fit_after + test_after - fit_before - test_before,
                      f"{grid}; {added} added", " ".join(["dvc", *dvc[1:]]))
