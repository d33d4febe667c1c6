"""The benchmark's scratch projects: throw-away project folders beside the real data.

Every case that trains does it in a project of its own under one temporary folder, so the
benchmark never writes into the user's results, stores or data/prepared. The folder holds
the prepared data all of them read (prepared once, from the project's own IDX files) and an
empty MLflow store each project copies: creating the SQLite tables takes seconds that a
real stage, whose store exists, does not pay.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.config import Project, load_project

BASE = "base"
BASELINE_GRID = {"name": "bench", "description": "the benchmark's children",
                 "design": "one_at_a_time", "datasets": ["mnist"], "seeds": [0],
                 "cnn": {"baseline": {"arch": "cnn", "filters": [32, 64, 64],
                                      "dense_units": [64]}}}


def absolute_data(project: Project, prepared_dir: str | None) -> dict:
    """The project's `data` settings with its IDX folder absolute, and `prepared_dir`
    (absolute) when given, else the project default."""
    data = project.params.data.model_dump()
    if data["dir"]:
        data["dir"] = str(project.home_path(data["dir"]).resolve())
    data["prepared_dir"] = prepared_dir or "data/prepared"
    return data


@dataclass(frozen=True)
class Scratch:
    """A temporary folder of projects that share the prepared data and a fresh store."""

    root: Path
    data: dict  # the `data` settings every scratch project uses
    training: dict  # the project's `training` settings (batch, optimizer, learning rate)
    store: Path  # an empty MLflow SQLite store, copied into each project

    def project(self, name: str, grid: dict, profile: dict, log_models: bool = True,
                **settings) -> Path:
        """Write project `name` (params.yaml, grid.yaml, its own store); its params path.
        `settings` replace top-level params (`training`, `jobs`...)."""
        folder = self.root / name
        folder.mkdir(parents=True)
        (folder / "grid.yaml").write_text(yaml.safe_dump(grid, sort_keys=False))
        shutil.copy2(self.store, folder / "mlflow.db")
        params = {"profile": "bench", "data": self.data, "training": self.training,
                  "profiles": {"bench": {"grid": "grid.yaml", **profile}},
                  "mlflow": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
                             "log_models": log_models},
                  **settings}
        path = folder / "params.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        return path

    @property
    def base(self) -> Path:
        """The params of the project the speed children load their prepared data from."""
        return self.root / BASE / "params.yaml"


def empty_store(path: Path) -> Path:
    """An MLflow SQLite store with its tables and nothing else."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def make_scratch(project: Project, root: Path) -> Scratch:
    """Prepare the project's datasets under `root` and create the store every scratch
    project copies; the base project is the one the speed children read."""
    from pipeline.data.prepare import prepare_all

    prepared = root / "prepared"
    training = project.params.training.model_dump()
    bootstrap = Scratch(root, absolute_data(project, str(prepared)), training,
                        empty_store(root / "empty-mlflow.db"))
    profile = {"epochs": 1, "train_samples": 256, "val_samples": 128}
    base = load_project(bootstrap.project(BASE, BASELINE_GRID, profile))
    prepare_all(base)
    return bootstrap
