"""Shared fixtures: synthetic IDX datasets and throw-away projects with a real MLflow store."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.config import Project, load_project
from pipeline.data.idx import encode
from pipeline.training.threads import fix_threads

fix_threads()  # before any test starts TensorFlow: runs train as the train stage trains them

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` as a gzipped IDX file: the tests' small synthetic datasets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(encode(array))


def synthetic_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """Learnable digits: class k lights a bar at row 2 + 2k and column 4 + 2k, plus noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 + 2 * label, 3:25] = 255
        images[index, 3:25, 4 + 2 * label] = 200
    return images


def write_synthetic_dataset(folder: Path, train: int = 1200, test: int = 300) -> None:
    """Four gzipped IDX files in the layout of ../shared/datasets/<dataset>/."""
    rng = np.random.default_rng(len(str(folder)))
    for split, count in (("train", train), ("t10k", test)):
        labels = np.resize(np.arange(10, dtype=np.uint8), count)
        labels = rng.permutation(labels).astype(np.uint8)
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", synthetic_images(labels, count))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("idx")
    write_synthetic_dataset(root / "mnist")
    write_synthetic_dataset(root / "fashion-mnist")
    return root


TINY_GRID = {
    "name": "tiny",
    "description": "tests",
    "design": "one_at_a_time",
    "datasets": ["mnist"],
    "seeds": [0],
    "cnn": {
        "baseline": {"arch": "cnn", "filters": [4, 8, 8], "kernel_size": 3, "pooling": "max",
                     "padding": "valid", "dense_units": [8]},
        "axes": {"pooling": ["max", "avg"], "kernel_size": [3, 5], "padding": ["valid", "same"]},
        "crossed": [["kernel_size", "padding"]],
    },
    "dense": {"baseline": {"arch": "dense", "dense_units": [16]}},
}


def write_project(root: Path, data_dir: Path, grid: dict | None = None,
                  **profile_overrides) -> Path:
    """A project folder with params.yaml, a grid and a SQLite MLflow store inside it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "grid.yaml").write_text(yaml.safe_dump(grid or TINY_GRID, sort_keys=False))
    profile = {"grid": "grid.yaml", "epochs": 1, "train_samples": 300, "val_samples": 100,
               **profile_overrides}
    params = {
        "profile": "tiny",
        "data": {"dir": str(data_dir), "validation_size": 200, "verify_digests": False,
                 "allow_download": False},
        "profiles": {"tiny": profile},
        "mlflow": {"tracking_uri": f"sqlite:///{root / 'mlflow.db'}"},
    }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """Tests never see the user's tracking server or data directory."""
    for name in ("MLFLOW_TRACKING_URI", "CNN_LAB_DATA_DIR", "CNN_LAB_PARAMS", "CNN_LAB_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


@pytest.fixture
def project(tmp_path, synthetic_data_dir) -> Project:
    """A prepared tiny project (synthetic data already split into data/prepared/)."""
    from pipeline.data.prepare import prepare_all

    loaded = load_project(write_project(tmp_path / "project", synthetic_data_dir))
    prepare_all(loaded)
    return loaded


def require_shared_datasets() -> Path:
    """../shared/datasets, which CI always has; elsewhere the test is skipped."""
    if (SHARED_DATASETS / "mnist").is_dir():
        return SHARED_DATASETS
    if os.environ.get("CI"):
        pytest.fail(f"{SHARED_DATASETS} is missing; CI must run with ../shared beside the repo")
    pytest.skip(f"{SHARED_DATASETS} not present")
