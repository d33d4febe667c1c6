"""How long the pending runs will take, and the budget that stops a runaway grid early.

A run costs its forward FLOPs x epochs x (3 x training images + validation images): a
training step costs about three forward passes. Measured FLOP/s turn cost into seconds: the
stored records of networks of the same architecture and FLOPs, else interpolated (in log
FLOPs) between them; with no records, a few seconds of training on a tiny slice. Each run also
pays a fixed overhead (test pass, MLflow logging), measured from the records' wall times.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import median
from typing import get_args

import numpy as np

from pipeline.config import Project
from pipeline.data.prepared import split_sizes
from pipeline.grid.expansion import GridRun
from pipeline.model.shapes import count_flops
from pipeline.progress import console
from pipeline.runs.records import DONE, recipe_hash
from pipeline.specs.choices import DatasetName
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import capped, training_image_count
from pipeline.specs.run import RunSpec
from pipeline.validation import ConfigError

TRAIN_PASSES = 3  # forward + backward of a training step, in forward passes
DEFAULT_OVERHEAD_S = 3.0  # test pass, model build and MLflow logging, before a record says
CALIBRATION_S = 1.5  # seconds of timed training per calibrated network
# FLOP/s far below any network measured on the 2-core CPU (Dense 128: 12 GFLOP/s): a grid
# whose ETA fits the budget even at this rate trains without waiting for a calibration.
PESSIMISTIC = 1e9


@dataclass(frozen=True)
class Throughput:
    """Measured FLOP/s per (arch, forward FLOPs) point, per-run overhead, and their source."""

    points: dict[str, list[tuple[float, float]]]  # arch -> [(forward flops, FLOP/s)]
    overhead_s: float
    source: str

    def rate(self, model: ModelSpec, flops: float) -> float:
        """FLOP/s for `model`: its arch's points interpolated in log FLOPs (any arch if none)."""
        points = self.points.get(model.arch) or [p for ps in self.points.values() for p in ps]
        points = sorted(points)
        sizes = np.log([size for size, _ in points])
        rates = np.log([rate for _, rate in points])
        return float(np.exp(np.interp(np.log(flops), sizes, rates)))


@dataclass(frozen=True)
class Eta:
    """Expected seconds of every pending run and of all of them with `jobs` processes."""

    per_run: dict[str, float]
    jobs: int
    source: str
    runs: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", len(self.per_run))

    @property
    def seconds(self) -> float:
        return self.remaining(set())

    def remaining(self, done: set[str]) -> float:
        """Wall seconds still ahead once the runs in `done` (`run_id`s) have finished."""
        left = [seconds for key, seconds in self.per_run.items() if key not in done]
        return max(sum(left) / self.jobs, max(left, default=0.0))

    def line(self) -> str:
        return (f"{self.runs:,} run(s) to train, expected {duration_text(self.seconds)} with "
                f"{self.jobs} job(s) (throughput {self.source})")


def run_id(spec: RunSpec) -> str:
    """A run's result-file stem: the run key alone repeats where references share a network
    and seed with a grid run but train with another recipe."""
    return f"{spec.run_key}-t{recipe_hash(spec.training)}"


def duration_text(seconds: float) -> str:
    """`40 s`, `12 min`, `1 h 41 min`, `26 d 3 h`."""
    minutes, hours = seconds / 60, seconds / 3600
    if seconds < 90:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if hours < 48:
        return f"{int(hours)} h {int(minutes % 60)} min"
    return f"{int(hours // 24)} d {int(hours % 24)} h"


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


def estimate(project: Project, runs: list[GridRun], jobs: int = 1,
             throughput: Throughput | None = None) -> Eta:
    """Expected wall time of `runs` with `jobs` processes; calibrates when no record exists."""
    if not runs:
        return Eta({}, jobs, "nothing to measure")
    sizes = dataset_sizes(project)
    flops = {model: count_flops(model) for model in {run.spec.model for run in runs}}
    if throughput is None:
        throughput = throughput_from_records(project)
    if throughput is None:
        from pipeline.grid.calibration import calibrate

        throughput = calibrate(list(flops), flops)
    rates = {model: throughput.rate(model, size) for model, size in flops.items()}
    per_run = {run_id(run.spec): throughput.overhead_s + run_cost(
        run.spec, sizes[run.spec.dataset], flops[run.spec.model]) / rates[run.spec.model]
        for run in runs}
    return Eta(per_run, max(1, jobs), throughput.source)


def pessimistic() -> Throughput:
    """A throughput no machine is slower than, for an upper bound without measuring."""
    return Throughput({"any": [(1.0, PESSIMISTIC)]}, 2 * DEFAULT_OVERHEAD_S,
                      "not measured yet: an upper bound")


class OverBudget(ConfigError):
    """The pending runs' ETA exceeds the profile's `max_hours`; nothing has trained."""


def check_budget(eta: Eta, max_hours: float, where: str) -> None:
    """Raise OverBudget (one line: the ETA, the budget, how to go on) when over budget."""
    if eta.seconds > max_hours * 3600:
        raise OverBudget(
            f"{eta.line()}: over the {max_hours:g} h budget ({where}); shrink the grid, or "
            f"go on with `train --max-hours N` or `train --force`, or raise max_hours there")


def guard_training(project: Project, runs: list[GridRun], jobs: int = 1,
                   max_hours: float | None = None, force: bool = False) -> Eta:
    """Print the count and ETA of `runs`, and refuse (OverBudget) an ETA over `max_hours`
    (default: the profile's) unless `force`. Without records, a grid that fits the budget even
    at a pessimistic rate trains at once; only a larger one waits for a calibration."""
    budget = project.params.active.max_hours if max_hours is None else max_hours
    throughput = throughput_from_records(project)
    if throughput is None:
        bound = estimate(project, runs, jobs, pessimistic())
        if bound.seconds <= budget * 3600 or force:
            console.print(bound.line(), highlight=False)
            return bound
    eta = estimate(project, runs, jobs, throughput)
    console.print(eta.line(), highlight=False)
    if not force:
        where = (f"--max-hours {max_hours:g}" if max_hours is not None else
                 f"max_hours of profile {project.params.profile!r} in "
                 f"{project.params.profiles_file}")
        check_budget(eta, budget, where)
    return eta
