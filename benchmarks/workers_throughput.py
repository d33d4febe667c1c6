"""Benchmark (not a test): grid throughput with 1 vs 2 workers on one machine.

Each worker is limited to one TensorFlow intra/inter-op thread. The grid (8 cells of the
textbook CNN on MNIST, one per seed) goes through a JournalFileBackend study; throughput is
cells per minute between the first cell's start and the last cell's end, so the per-process
TensorFlow import is left out, and the wall time including start-up is printed beside it.

    ./lab run python benchmarks/workers_throughput.py [--cells 8] [--train-samples 4000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import load_project  # noqa: E402
from pipeline.data.prepare import prepare_all  # noqa: E402
from pipeline.workers.queue import open_storage  # noqa: E402
from tests.grid_study import enqueue_only  # noqa: E402


def make_project(root: Path, cells: int, train_samples: int, epochs: int):
    grid = {"name": "bench", "datasets": ["mnist"], "seeds": list(range(cells)),
            "cnn": {"baseline": {"arch": "cnn", "filters": [32, 64, 64], "dense_units": [64]}}}
    (root / "grid.yaml").write_text(yaml.safe_dump(grid))
    data_dir = os.environ.get("CNN_LAB_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    params = {"profile": "bench",
              "data": {"dir": data_dir, "datasets": ["mnist"], "allow_download": False},
              "profiles": {"bench": {"grid": "grid.yaml", "epochs": epochs,
                                     "train_samples": train_samples, "val_samples": 1000,
                                     "test_samples": 2000}},
              "mlflow": {"tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
                         "log_models": False}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    project = load_project(root / "params.yaml")
    prepare_all(project)
    return project


def measure(workers: int, cells: int, train_samples: int, epochs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as folder:
        project = make_project(Path(folder), cells, train_samples, epochs)
        storage = f"journal:///{folder}/grid.log"
        study, _, _ = enqueue_only(project, storage)
        command = [sys.executable, "-m", "pipeline", "--params", str(project.params_path),
                   "worker", "--storage", storage, "--study", study.study_name]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        processes = [subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for _ in range(workers)]
        for process in processes:
            process.wait()
        wall = time.perf_counter() - started
        finished = optuna.load_study(study_name=study.study_name, storage=open_storage(storage))
        trials = finished.get_trials(states=(TrialState.COMPLETE,))
        first = min(t.datetime_start for t in trials)
        last = max(t.datetime_complete for t in trials)
        busy = (last - first).total_seconds()
        return {"workers": workers, "cells": len(trials), "busy_s": busy, "wall_s": wall,
                "cells_per_min": 60 * len(trials) / busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--train-samples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=1)
    arguments = parser.parse_args()
    results = [measure(n, arguments.cells, arguments.train_samples, arguments.epochs)
               for n in (1, 2)]
    for result in results:
        print(f"{result['workers']} worker(s): {result['cells']} cells in {result['busy_s']:.1f} s"
              f" of training ({result['cells_per_min']:.1f} cells/min); "
              f"{result['wall_s']:.1f} s wall incl. start-up")
    ratio = results[1]["cells_per_min"] / results[0]["cells_per_min"]
    wall_ratio = results[0]["wall_s"] / results[1]["wall_s"]
    print(f"throughput ratio 2 workers / 1 worker: {ratio:.2f}x "
          f"(wall-clock speed-up incl. start-up: {wall_ratio:.2f}x)")


if __name__ == "__main__":
    main()
