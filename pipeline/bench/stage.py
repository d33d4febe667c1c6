"""Case 7: the train stage itself on a slice of the default grid, three ways, alternating.

(A) today: one process with TensorFlow's default threads (one per core), runs one after
another (pipeline.bench.today around `train --in-process`); (B) the default stage, `train
--jobs auto`: N one-thread job processes (pipeline.workers.local); (C) B with the low
precision (mixed_bfloat16 on a CPU, mixed_float16 on a GPU). Each mode of each round trains
in a fresh scratch project, so nothing is cached; its wall time runs from the command's
start to its exit, TensorFlow's import included, as a user waits for `dvc repro`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from statistics import median

import yaml

from pipeline.bench.cases import Sizes
from pipeline.bench.children import REPO_ROOT, child_environment, run_timed
from pipeline.bench.overhead import done_records, records_sums
from pipeline.bench.scratch import Scratch
from pipeline.specs.model import ModelSpec
from pipeline.workers.local import job_count

DEFAULT_GRID = REPO_ROOT / "experiments" / "grids" / "default.yaml"
GOALS = {"B": 1.4, "C": 1.9}  # the wall-time ratios A / mode the issue asks for


def slice_grid(axes: tuple[str, ...] | None = None) -> dict:
    """The default grid on MNIST with seed 0 and no controls or references: baseline,
    average and no pooling, kernel 3/5 x padding valid/same (5 valid is infeasible),
    filters 16-32-32, and Dense 128 alone (its one Dense variant left out); only the CNN
    `axes` named, when named (the quick benchmark keeps pooling)."""
    grid = yaml.safe_load(DEFAULT_GRID.read_text())
    grid.update(name="bench-slice", datasets=["mnist"], seeds=[0],
                description="A slice of the default grid for the benchmark's train stage.")
    grid.pop("controls", None)
    grid.pop("references", None)
    grid["dense"].pop("axes", None)
    if axes is not None:
        cnn = grid["cnn"]
        cnn["axes"] = {name: cnn["axes"][name] for name in axes}
        cnn["crossed"] = [pair for pair in cnn.get("crossed", []) if set(pair) <= set(axes)]
    return grid


@dataclass(frozen=True)
class Mode:
    """One way to run the stage: its letter, words, module, `--jobs` and precision."""

    key: str
    words: str
    module: str
    jobs: str
    precision: str


def stage_modes(low: str | None) -> list[Mode]:
    modes = [Mode("A", "today: 1 process, TensorFlow's default threads, float32",
                  "pipeline.bench.today", "in-process", "float32"),
             Mode("B", "default stage: `jobs: auto` (N one-thread processes), float32",
                  "pipeline", "auto", "float32")]
    if low:
        modes.append(Mode("C", f"`jobs: auto` + `training.precision: {low}`", "pipeline",
                          "auto", low))
    return modes


@dataclass(frozen=True)
class StageRun:
    """One mode's stage: wall seconds, and the sums its run records hold."""

    wall_s: float
    runs: int
    fit_s: float
    test_s: float
    jobs: int  # the processes that trained: 1, or `auto`'s count capped at the runs
    cells: tuple[str, ...]  # the trained networks, as ModelSpec.describe names them
    threads: dict | None = None  # mode A: the pool its TensorFlow really ran with
    accuracies: dict[str, float] = field(default_factory=dict)  # cell -> test accuracy


@dataclass
class StageTimes:
    """Every mode's runs, one per round, and the modes themselves."""

    modes: list[Mode]
    runs: dict[str, list[StageRun]] = field(default_factory=dict)

    def median_wall(self, key: str) -> float:
        return median(run.wall_s for run in self.runs[key])

    def ratio(self, key: str) -> float | None:
        """A's median wall time over `key`'s; None when `key` was not measured."""
        return self.median_wall("A") / self.median_wall(key) if key in self.runs else None


def run_mode(scratch: Scratch, sizes: Sizes, mode: Mode, round_number: int) -> StageRun:
    """Train the slice once in a fresh project the way `mode` says; its StageRun."""
    budget = sizes.stage
    params = scratch.project(
        f"stage-{round_number}-{mode.key}", slice_grid(budget.axes),
        {"epochs": budget.epochs, "train_samples": budget.train_samples,
         "val_samples": budget.val_samples, "test_samples": budget.test_samples},
        log_models=sizes.log_models, training={**scratch.training, "precision": mode.precision})
    command = [sys.executable, "-m", mode.module, "--params", str(params), "train",
               *(["--in-process"] if mode.jobs == "in-process" else ["--jobs", mode.jobs])]
    timed = run_timed(command, params.parent, child_environment(), f"train stage {mode.key}")
    results = params.parent / "results" / "runs"
    runs, fit, test = records_sums(results)
    accuracies = {ModelSpec(**record["spec"]["model"]).describe():
                  record["metrics"]["test/accuracy"] for record in done_records(results)}
    cells = tuple(sorted(accuracies))
    threads = json.loads(timed.stdout.strip().splitlines()[-1])["threads"] \
        if mode.module != "pipeline" else None
    jobs = 1 if mode.jobs == "in-process" else min(job_count("auto"), runs)
    return StageRun(timed.seconds, runs, fit, test, jobs, cells, threads, accuracies)


def measure_stage(scratch: Scratch, sizes: Sizes, low: str | None, step) -> StageTimes:
    """A B C, A B C...: every mode once per round, each inside `step(label, kind)`."""
    times = StageTimes(stage_modes(low))
    for round_number in range(1, sizes.rounds + 1):
        for mode in times.modes:
            with step(f"7. train stage {mode.key}, round {round_number}/{sizes.rounds}",
                      mode.key):
                run = run_mode(scratch, sizes, mode, round_number)
            times.runs.setdefault(mode.key, []).append(run)
    return times
