"""The project's parameters (params.yaml): data location, training recipe, profiles, MLflow."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from pipeline.specs.choices import DatasetName
from pipeline.specs.grid import GridSpec
from pipeline.specs.recipe import Budget, Optimization, TrainingRecipe
from pipeline.validation import Strict, load_yaml_model

DATA_DIR_ENV = "CNN_LAB_DATA_DIR"
PARAMS_ENV = "CNN_LAB_PARAMS"


class DataConfig(Strict):
    """Where the IDX files are and how the validation split is carved from train."""

    dir: str | None = Field(default=None, description=f"overridden by ${DATA_DIR_ENV}")
    datasets: list[DatasetName] = ["mnist", "fashion_mnist"]
    validation_size: int = Field(default=5000, ge=1)
    split_seed: int = 0
    verify_digests: bool = True
    allow_download: bool = True
    prepared_dir: str = "data/prepared"


class ProfileConfig(Budget):
    """How much to train: the grid to run and the data and epoch budget of each run."""

    grid: str
    baseline_floors: dict[DatasetName, float] = Field(
        default={}, description="test accuracy the baseline CNN must reach; checked in the report")
    description: str = ""


class MlflowConfig(Strict):
    tracking_uri: str | None = Field(default=None, description="overridden by MLFLOW_TRACKING_URI")
    experiment_prefix: str = "cnn-ablation"
    log_models: bool = True


class WorkersConfig(Strict):
    """Shared Optuna storage for several workers on one grid (null: train in this process)."""

    storage: str | None = Field(default=None, description="journal:///abs/path.log, "
                                "sqlite:///abs/path.db or postgresql://user:pw@host/db")
    study: str | None = Field(default=None, description="default grid-<grid name>")
    heartbeat_s: float = Field(default=10.0, gt=0)
    grace_s: float = Field(default=60.0, gt=0)


class Params(Strict):
    """params.yaml, validated once at start."""

    profile: str
    data: DataConfig = DataConfig()
    training: Optimization = Optimization()
    profiles: dict[str, ProfileConfig]
    mlflow: MlflowConfig = MlflowConfig()
    workers: WorkersConfig = WorkersConfig()
    results_dir: str = "results/runs"
    reports_dir: str = "reports"

    @model_validator(mode="after")
    def _known_profile(self) -> Params:
        if self.profile not in self.profiles:
            raise ValueError(
                f"profile {self.profile!r} is not defined; choose one of {sorted(self.profiles)}"
            )
        return self

    @property
    def active(self) -> ProfileConfig:
        return self.profiles[self.profile]

    def training_recipe(self) -> TrainingRecipe:
        """The training recipe of the active profile, as every run of the grid uses it."""
        return TrainingRecipe.combine(self.active, self.training)


class Project:
    """Params plus the directory they are relative to; resolves every path the lab writes."""

    def __init__(self, params: Params, root: Path, params_path: Path):
        self.params = params
        self.root = root
        self.params_path = params_path

    def path(self, relative: str) -> Path:
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def prepared_dir(self) -> Path:
        return self.path(self.params.data.prepared_dir)

    @property
    def results_dir(self) -> Path:
        return self.path(self.params.results_dir)

    @property
    def reports_dir(self) -> Path:
        return self.path(self.params.reports_dir)

    def data_dir(self) -> Path | None:
        """The IDX directory: $CNN_LAB_DATA_DIR, else params `data.dir`, else none."""
        configured = os.environ.get(DATA_DIR_ENV) or self.params.data.dir
        return self.path(configured) if configured else None

    def grid_path(self) -> Path:
        return self.path(self.params.active.grid)

    def load_grid(self) -> GridSpec:
        return load_grid(self.grid_path())


def load_grid(path: Path) -> GridSpec:
    return load_yaml_model(path, GridSpec)


def load_project(params_path: Path | None = None) -> Project:
    """Load params.yaml (or $CNN_LAB_PARAMS, or the given path) into a Project."""
    if params_path is None:
        params_path = Path(os.environ.get(PARAMS_ENV, "params.yaml"))
    params_path = params_path.resolve()
    params = load_yaml_model(params_path, Params)
    return Project(params, params_path.parent, params_path)
