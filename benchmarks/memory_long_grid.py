"""Benchmark (not a test): memory of a long grid in one process.

Trains `--runs` small variants (filters, kernel, pooling, padding, dropout and seed vary) one
after another through `pipeline.training.train.train_run`, on synthetic IDX data written to a
temporary folder, and prints the resident set size after 3 runs and after the last, and the
growth between them, and the growth up to `RUNS_PER_PROCESS` runs: a local job process
(`train --jobs`, pipeline.workers.local) is replaced after that many runs, so that is the
most a job grows however long the grid. It must stay within 100 MB.

    ./lab run python benchmarks/memory_long_grid.py [--runs 30]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.data.prepared import split  # noqa: E402
from pipeline.data.sources import read_folder  # noqa: E402
from pipeline.progress import console, make_progress  # noqa: E402
from pipeline.specs.model import ModelSpec  # noqa: E402
from pipeline.specs.recipe import TrainingRecipe  # noqa: E402
from pipeline.specs.run import RunSpec  # noqa: E402
from pipeline.training.train import train_run  # noqa: E402
from pipeline.workers.local import RUNS_PER_PROCESS  # noqa: E402
from tests.conftest import write_synthetic_dataset  # noqa: E402

LIMIT_MB = 100.0


def variants(count: int) -> list[RunSpec]:
    """`count` small, feasible CNN variants with distinct seeds."""
    recipe = TrainingRecipe(epochs=1, train_samples=600, val_samples=200, test_samples=200,
                            batch_size=64)
    levels = itertools.product([(4, 8, 8), (8, 16, 16)], [3, 5], ["max", "avg"],
                               ["same"], [0.0, 0.2])
    specs = []
    for seed, (filters, kernel, pooling, padding, dropout) in zip(
            range(count), itertools.cycle(levels), strict=False):
        model = ModelSpec(arch="cnn", filters=filters, kernel_size=kernel, pooling=pooling,
                          padding=padding, dense_units=(16,), dropout=dropout)
        specs.append(RunSpec(dataset="mnist", seed=seed, model=model, training=recipe))
    return specs


def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_dataset(Path(folder) / "mnist", train=1200, test=300)
        raw = read_folder("mnist", Path(folder) / "mnist", verify_digests=False)
    splits = split(raw, 200, 0)
    after: dict[int, float] = {}
    started = time.perf_counter()
    with make_progress() as progress:
        task = progress.add_task("training", total=arguments.runs)
        for number, spec in enumerate(variants(arguments.runs), start=1):
            progress.update(task, description=f"run {number}: {spec.model.describe()}")
            train_run(spec, splits)
            after[number] = rss_mb()
            progress.advance(task)
    first, last = after[min(3, arguments.runs)], after[arguments.runs]
    job = after[min(RUNS_PER_PROCESS, arguments.runs)] - first
    console.print(f"RSS after 3 runs: {first:.0f} MB; after {arguments.runs} runs: {last:.0f} MB;"
                  f" growth {last - first:+.0f} MB in one process; a job process (at most "
                  f"{RUNS_PER_PROCESS} runs) grows {job:+.0f} MB (limit {LIMIT_MB:.0f} MB); "
                  f"{time.perf_counter() - started:.0f} s", highlight=False)
    return 0 if job <= LIMIT_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
