"""Measured training throughput: FLOP/s per architecture and network size, and per-run overhead.

A run costs its forward FLOPs x epochs x (3 x training images + validation images): a
training step costs about three forward passes. Stored records give the FLOP/s each network
reached (`time/train_s`) and the wall time beyond `fit` (test pass, MLflow logging).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import get_args

import numpy as np

from pipeline.config import Project
from pipeline.data.prepared import split_sizes
from pipeline.runs.records import DONE
from pipeline.specs.choices import DatasetName
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import capped, training_image_count
from pipeline.specs.run import RunSpec

TRAIN_PASSES = 3  # forward + backward of a training step, in forward passes
DEFAULT_OVERHEAD_S = 3.0  # test pass, model build and MLflow logging, before a record says
CALIBRATION_S = 1.5  # seconds of timed training per calibrated network
# Stored records are interpolated, not extrapolated: a network whose FLOPs lie more than
# this factor outside its architecture's measured ones is calibrated (FLOP/s fall steeply for
# small networks: the baseline CNN reaches a third of the no-pooling one's rate).
EXTRAPOLATE = 2.0
# FLOP/s far below any network measured on the 2-core CPU (Dense 128: 12 GFLOP/s): a grid
# whose ETA fits the budget even at this rate trains without waiting for a calibration.
PESSIMISTIC = 1e9


@dataclass(frozen=True)
class Throughput:
    """Measured FLOP/s per (arch, forward FLOPs) point, per-run overhead, and their source."""

    points: dict[str, list[tuple[float, float]]]  # arch -> [(forward flops, FLOP/s)]
    overhead_s: float
    source: str

    def covers(self, model: ModelSpec, flops: float) -> bool:
        """Whether `model`'s FLOPs lie within EXTRAPOLATE of its architecture's points."""
        sizes = [size for size, _ in self.points.get(model.arch, [])]
        return bool(sizes) and min(sizes) / EXTRAPOLATE <= flops <= max(sizes) * EXTRAPOLATE

    def joined(self, other: Throughput) -> Throughput:
        """These points and `other`'s, this overhead, both sources named."""
        points = {arch: [*self.points.get(arch, []), *other.points.get(arch, [])]
                  for arch in {*self.points, *other.points}}
        return Throughput(points, self.overhead_s, f"{self.source} and {other.source}")

    def rate(self, model: ModelSpec, flops: float) -> float:
        """FLOP/s for `model`: its arch's points interpolated in log FLOPs (any arch if none)."""
        points = self.points.get(model.arch) or [p for ps in self.points.values() for p in ps]
        points = sorted(points)
        sizes = np.log([size for size, _ in points])
        rates = np.log([rate for _, rate in points])
        return float(np.exp(np.interp(np.log(flops), sizes, rates)))


def run_cost(spec: RunSpec, sizes: tuple[int, int, int], flops: float) -> float:
    """Forward-pass FLOPs of training and validating `spec` (test pass: in the overhead)."""
    train_split, val_split, _ = sizes
    images = training_image_count(spec.training, train_split, val_split)
    val_images = capped(val_split, spec.training.val_samples)
    return flops * spec.training.epochs * (TRAIN_PASSES * images + val_images)


def record_point(record: dict, sizes: tuple[int, int, int]) -> tuple[str, float, float] | None:
    """(arch, forward FLOPs, achieved FLOP/s) of a finished record; None if it lacks them."""
    metrics = record.get("metrics") or {}
    needed = ("model/flops", "data/train_samples", "train/epochs", "time/train_s")
    if record.get("status") != DONE or any(not metrics.get(name) for name in needed):
        return None
    recipe = (record.get("spec") or {}).get("training") or {}
    val_images = capped(sizes[1], recipe.get("val_samples"))
    cost = metrics["model/flops"] * metrics["train/epochs"] * (
        TRAIN_PASSES * metrics["data/train_samples"] + val_images)
    return record["spec"]["model"]["arch"], metrics["model/flops"], cost / metrics["time/train_s"]


def record_overhead(record: dict) -> float | None:
    """Wall seconds of a finished run beyond `fit`: test pass, logging, model upload."""
    metrics = record.get("metrics") or {}
    if record.get("status") != DONE or not record.get("started_at") or not record.get(
            "finished_at") or not metrics.get("time/train_s"):
        return None
    return max(0.0, record["finished_at"] - record["started_at"] - metrics["time/train_s"])


def dataset_sizes(project: Project) -> dict[str, tuple[int, int, int]]:
    """Train, validation and test image counts of every dataset the lab knows."""
    validation_size = project.params.data.validation_size
    return {dataset: split_sizes(project.prepared_dir, dataset, validation_size)
            for dataset in get_args(DatasetName)}


def throughput_from_records(project: Project) -> Throughput | None:
    """Median FLOP/s per network measured by the stored records; None when there are none."""
    sizes = dataset_sizes(project)
    by_network: dict[tuple[str, float], list[float]] = defaultdict(list)
    overheads = []
    for path in project.results_dir.glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        point = record_point(record, sizes.get(record.get("dataset"), (0, 0, 0)))
        if point is None:
            continue
        by_network[point[:2]].append(point[2])
        overhead = record_overhead(record)
        if overhead is not None:
            overheads.append(overhead)
    if not by_network:
        return None
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (arch, flops), rates in by_network.items():
        points[arch].append((flops, median(rates)))
    runs = sum(len(rates) for rates in by_network.values())
    return Throughput(dict(points), median(overheads) if overheads else DEFAULT_OVERHEAD_S,
                      f"from {runs:,} stored record(s)")


def pessimistic() -> Throughput:
    """A throughput no machine is slower than, for an upper bound without measuring."""
    return Throughput({"any": [(1.0, PESSIMISTIC)]}, 2 * DEFAULT_OVERHEAD_S,
                      "not measured yet: an upper bound")
