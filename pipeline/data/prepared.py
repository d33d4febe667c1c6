"""Prepared datasets: the fixed validation split, and data/prepared/<name>.npz + .json files."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.sampling import stratified_indices
from pipeline.data.sources import COUNTS, DataNotFoundError, RawDataset
from pipeline.hashing import stable_hash


@dataclass(frozen=True)
class Splits:
    """Prepared arrays: train (validation removed), validation and test, uint8 images."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    digest: str


def split(raw: RawDataset, validation_size: int, split_seed: int) -> Splits:
    """Carve a fixed, stratified validation split from train; test stays untouched."""
    x_all, y_all = raw.arrays["train-images"], raw.arrays["train-labels"]
    if validation_size >= len(y_all):
        raise ValueError(
            f"data.validation_size = {validation_size} must be below the {len(y_all)} "
            f"training images of {raw.name}"
        )
    val_index = stratified_indices(y_all, validation_size, split_seed)
    train_mask = np.ones(len(y_all), dtype=bool)
    train_mask[val_index] = False
    digest = stable_hash({"sha256": raw.sha256, "validation_size": validation_size,
                          "split_seed": split_seed}, 16)
    return Splits(raw.name, x_all[train_mask], y_all[train_mask], x_all[val_index],
                  y_all[val_index], raw.arrays["test-images"], raw.arrays["test-labels"], digest)


def prepared_paths(prepared_dir: Path, name: str) -> tuple[Path, Path]:
    return prepared_dir / f"{name}.npz", prepared_dir / f"{name}.json"


def save(splits: Splits, prepared_dir: Path, source: str) -> dict:
    """Write `<name>.npz` (uint8 arrays) and `<name>.json` (digest, source, counts)."""
    prepared_dir.mkdir(parents=True, exist_ok=True)
    array_path, meta_path = prepared_paths(prepared_dir, splits.name)
    fields = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    temporary = array_path.with_suffix(".tmp.npz")
    np.savez(temporary, **{field: getattr(splits, field) for field in fields})
    temporary.replace(array_path)
    meta = {
        "dataset": splits.name,
        "digest": splits.digest,
        "source": source,
        "counts": {"train": len(splits.y_train), "validation": len(splits.y_val),
                   "test": len(splits.y_test)},
        "class_counts": {
            part: np.bincount(getattr(splits, f"y_{part}"), minlength=10).tolist()
            for part in ("train", "val", "test")
        },
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def prepared_digest(prepared_dir: Path, name: str) -> str:
    """The digest of a prepared dataset, read from its small JSON (no arrays loaded)."""
    meta_path = prepared_paths(prepared_dir, name)[1]
    if not meta_path.is_file():
        raise DataNotFoundError(
            f"{meta_path}: prepared data for {name!r} is missing; run `dvc repro prepare` "
            f"(or `python -m pipeline prepare`) first"
        )
    return json.loads(meta_path.read_text())["digest"]


def split_sizes(prepared_dir: Path, name: str, validation_size: int) -> tuple[int, int, int]:
    """Train, validation and test image counts: the prepared files' own, else the standard
    60,000/10,000 images with `validation_size` carved from train (before `prepare` ran)."""
    meta_path = prepared_paths(prepared_dir, name)[1]
    if meta_path.is_file():
        counts = json.loads(meta_path.read_text())["counts"]
        return counts["train"], counts["validation"], counts["test"]
    return COUNTS["train"] - validation_size, validation_size, COUNTS["test"]


def load_prepared(prepared_dir: Path, name: str) -> Splits:
    """Load a prepared dataset (never unpickles: allow_pickle=False)."""
    digest = prepared_digest(prepared_dir, name)
    array_path = prepared_paths(prepared_dir, name)[0]
    try:
        with np.load(array_path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        return Splits(name=name, digest=digest, **arrays)
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as error:
        raise DataNotFoundError(
            f"{array_path}: prepared data for {name!r} is unreadable ({type(error).__name__}: "
            f"{error}); re-run `dvc repro -f -s prepare` (or `python -m pipeline prepare`)"
        ) from None
