"""The project's parameters (params.yaml): data location, training recipe, profiles, MLflow."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.specs.choices import DatasetName
from pipeline.specs.grid import GridSpec
from pipeline.specs.recipe import Budget, Optimization, TrainingRecipe
from pipeline.validation import ConfigError, Strict, load_yaml_model, parse_model, read_yaml

DATA_DIR_ENV = "CNN_LAB_DATA_DIR"
PARAMS_ENV = "CNN_LAB_PARAMS"
HOME_ENV = "CNN_LAB_HOME"  # the project checkout that owns data, stores and the run cache
DVC_TEMP_MARKER = "/.dvc/tmp/exps/"  # where `dvc exp run --queue/--temp` runs a stage
TRAIN_IMAGES = 60_000  # training images of each dataset; the validation split is carved from them


class DataConfig(Strict):
    """Where the IDX files are and how the validation split is carved from train."""

    dir: str | None = Field(default=None, description=f"overridden by ${DATA_DIR_ENV}")
    datasets: list[DatasetName] = ["mnist", "fashion_mnist"]
    validation_size: int = Field(default=5000, ge=1, lt=TRAIN_IMAGES, description=(
        f"carved from the {TRAIN_IMAGES:,} training images of MNIST and Fashion-MNIST"))
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
    max_hours: float = Field(
        default=12.0, gt=0.0, description="`train` refuses a grid whose ETA is longer "
        "(`train --max-hours N` or `--force` goes on)")


class EvidenceConfig(Strict):
    """How the report turns paired differences into verdicts."""

    smallest_effect: float = Field(
        default=0.002, gt=0.0, lt=1.0,
        description="a difference of test accuracy smaller than this does not matter: an "
                    "interval inside ±smallest_effect is called equivalent")
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)


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
    max_retries: int = Field(default=2, ge=1, description="workers that may die on one cell "
                             "(or sweep configuration) before it is recorded as failed")


class Params(Strict):
    """params.yaml, validated once at start."""

    profile: str
    data: DataConfig = DataConfig()
    training: Optimization = Optimization()
    profiles: dict[str, ProfileConfig] = Field(
        description="inline, or read from `profiles_file` when absent from params.yaml")
    profiles_file: str = "experiments/profiles.yaml"
    evidence: EvidenceConfig = EvidenceConfig()
    mlflow: MlflowConfig = MlflowConfig()
    workers: WorkersConfig = WorkersConfig()
    jobs: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        default="auto", description="training processes on this machine (`train --jobs`): "
        "auto = one per core, at most the pending runs; each a process of one thread")
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
        self.home = project_home(root)

    def home_path(self, relative: str) -> Path:
        """A path of the project's home (data, stores, run cache), not of a DVC temp copy."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.home / candidate

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

    @property
    def tracking_uri(self) -> str:
        """$MLFLOW_TRACKING_URI, else params `mlflow.tracking_uri`, else <home>/mlflow.db."""
        configured = os.environ.get("MLFLOW_TRACKING_URI") or self.params.mlflow.tracking_uri
        if configured:
            return configured
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    def data_dirs(self) -> list[tuple[str, Path]]:
        """The documented search's folders, labelled: $CNN_LAB_DATA_DIR, then `data.dir`."""
        folders = []
        if os.environ.get(DATA_DIR_ENV):
            folders.append((f"${DATA_DIR_ENV}", self.home_path(os.environ[DATA_DIR_ENV])))
        if self.params.data.dir:
            folders.append(("params data.dir", self.home_path(self.params.data.dir)))
        return folders

    def grid_path(self) -> Path:
        return self.path(self.params.active.grid)

    def load_grid(self) -> GridSpec:
        return load_grid(self.grid_path())


def project_home(root: Path) -> Path:
    """$CNN_LAB_HOME, else the checkout a DVC queued/temp experiment copy lives in, else root.

    `dvc exp run --queue` runs stages in <project>/.dvc/tmp/exps/<tmp>/, where relative paths
    such as ../shared/datasets and git-ignored stores (mlflow.db, results/runs) are missing.
    """
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).resolve()
    text = str(root.resolve())
    if DVC_TEMP_MARKER in text:
        return Path(text.split(DVC_TEMP_MARKER)[0])
    return root


def read_params(params_path: Path) -> object:
    """params.yaml, with `profiles:` read from `profiles_file` when params.yaml has none."""
    data = read_yaml(params_path)
    if isinstance(data, dict) and "profiles" not in data:
        relative = Path(data.get("profiles_file") or "experiments/profiles.yaml")
        profiles_path = relative if relative.is_absolute() else params_path.parent / relative
        profiles = read_yaml(profiles_path)
        if not isinstance(profiles, dict):
            raise ConfigError(f"{profiles_path}: expected a mapping of profile name -> settings")
        data = {**data, "profiles": profiles}
    return data


def load_grid(path: Path) -> GridSpec:
    return load_yaml_model(path, GridSpec)


def load_project(params_path: Path | None = None) -> Project:
    """Load params.yaml (or $CNN_LAB_PARAMS, or the given path) into a Project."""
    if params_path is None:
        params_path = Path(os.environ.get(PARAMS_ENV, "params.yaml"))
    params_path = params_path.resolve()
    params = parse_model(Params, read_params(params_path), str(params_path))
    return Project(params, params_path.parent, params_path)
