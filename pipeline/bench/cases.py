"""The benchmark's cases as jobs for child processes, and the rounds that run them.

A round runs every speed case once: first one child with TensorFlow's default threads that
trains the seed-script, FLOP/s and all-threads jobs one after another, then N children of
one thread each at the same time. Rounds repeat, so every case is measured alternately
with the others in one run and drift on the machine hits all of them alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BASELINE = {"arch": "cnn", "filters": [32, 64, 64], "dense_units": [64]}
MODELS = {"baseline CNN": BASELINE,
          "no-pooling CNN": {**BASELINE, "pooling": "none"},
          "Dense 128": {"arch": "dense", "dense_units": [128]}}


@dataclass(frozen=True)
class Sizes:
    """How much each case trains; FULL takes about 10 minutes on 2 cores, QUICK seconds."""

    rounds: int
    compare_samples: int
    compare_epochs: int
    flops_samples: dict[str, int]
    process_samples: int
    train_sizes: tuple[int, ...]
    grid_sizes: tuple[int, ...]
    grid_samples: int
    effect_seeds: int
    effect_samples: int | None  # None: the active profile's own recipe
    val_samples: int = 1000
    datasets: tuple[str, ...] = ("mnist", "fashion_mnist")
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)


FULL = Sizes(rounds=2, compare_samples=20000, compare_epochs=2,
             flops_samples={"baseline CNN": 10000, "no-pooling CNN": 3000, "Dense 128": 20000},
             process_samples=10000, train_sizes=(5000, 15000, 30000, 55000),
             grid_sizes=(1, 2, 4), grid_samples=5000, effect_seeds=3, effect_samples=None)
QUICK = Sizes(rounds=1, compare_samples=400, compare_epochs=1,
              flops_samples=dict.fromkeys(MODELS, 300), process_samples=300,
              train_sizes=(200, 400), grid_sizes=(1, 2), grid_samples=200, effect_seeds=2,
              effect_samples=300, val_samples=100, processes=2)


def job(kind: str, model: dict, samples: int | None, epochs: int = 1,
        precision: str = "float32", sizes: Sizes = FULL, **extra) -> dict:
    return {"kind": kind, "model": model, "samples": samples, "epochs": epochs,
            "precision": precision, "dataset": "mnist", "seed": 0, "batch_size": 64,
            "val_samples": sizes.val_samples, **extra}


def run_children(params: Path, jobs: list[dict], threads: int | None = None,
                 copies: int = 1) -> list[list[dict]]:
    """Run `copies` children at once on the same jobs; each child's list of results."""
    command = [sys.executable, "-m", "pipeline.bench.child", "--params", str(params)]
    if threads:
        command += ["--threads", str(threads)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    children = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=environment)
                for _ in range(copies)]
    outputs = [child.communicate(json.dumps(jobs)) for child in children]
    results = []
    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        if child.returncode != 0:
            raise RuntimeError(f"benchmark child failed ({child.returncode}): "
                               f"{stderr.strip().splitlines()[-1] if stderr.strip() else ''}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results
