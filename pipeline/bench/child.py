"""One benchmark process: trains the jobs it reads as JSON on stdin, prints their timings.

Every case runs in such a child, so a thread count or precision applies to it alone and a
timing never includes TensorFlow's import. `python -m pipeline.bench.child --params P
[--threads N] < jobs.json` prints, as its last line, one JSON object: `results` (one per
job) and `threads` (pipeline.bench.threads_seen: the intra-op pool it really ran with, and
its CPU seconds per wall second). Without --threads it keeps TensorFlow's default, as long
as the parent left TF_NUM_INTRAOP_THREADS out of its environment (pipeline.bench.children).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.bench.threads_seen import start_runtime
from pipeline.config import load_project
from pipeline.data.prepared import Splits, load_prepared
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec
from pipeline.training.inputs import scale
from pipeline.training.train import compiled_model, limit_threads, take, train_run


def job_spec(job: dict, seed: int | None = None) -> RunSpec:
    """The run a job describes: model, dataset, seed, samples, epochs, batch, precision."""
    recipe = TrainingRecipe(epochs=job["epochs"], train_samples=job["samples"],
                            val_samples=job["val_samples"], batch_size=job["batch_size"],
                            precision=job["precision"])
    return RunSpec(dataset=job["dataset"], seed=job["seed"] if seed is None else seed,
                   model=ModelSpec(**job["model"]), training=recipe)


def pipeline_fit(job: dict, splits: Splits) -> dict:
    """The pipeline's own path: `train_run` (tf.data inputs), test pass when asked."""
    outcome = train_run(job_spec(job), splits, evaluate_test=job.get("test", False))
    result = {"samples_per_s": outcome.metrics["time/samples_per_s"],
              "train_s": outcome.metrics["time/train_s"]}
    if outcome.predictions is not None:
        result["accuracy"] = outcome.metrics["test/accuracy"]
        result["correct"] = (outcome.predictions == outcome.labels).astype(int).tolist()
    return result


def seed_script_fit(job: dict, splits: Splits) -> dict:
    """The seed script's path: scaled NumPy arrays straight into `fit`, same model/recipe."""
    spec = job_spec(job)
    x_train, y_train = take(splits.x_train, splits.y_train, job["samples"])
    x_val, y_val = take(splits.x_val, splits.y_val, job["val_samples"])
    model = compiled_model(spec)
    started = time.perf_counter()
    model.fit(scale(x_train), y_train, batch_size=job["batch_size"], epochs=job["epochs"],
              validation_data=(scale(x_val), y_val), shuffle=True, verbose=0)
    seconds = time.perf_counter() - started
    return {"samples_per_s": len(y_train) * job["epochs"] / seconds, "train_s": seconds}


def grid_fit(job: dict, splits: Splits) -> dict:
    """`runs` runs back to back in one process (seeds 0..runs-1), test pass included: the
    wall time of a grid of that size without the stage's bookkeeping."""
    started = time.perf_counter()
    for seed in range(job["runs"]):
        train_run(job_spec(job, seed), splits)
    return {"wall_s": time.perf_counter() - started}


KINDS = {"pipeline": pipeline_fit, "seed_script": seed_script_fit, "grid": grid_fit}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench.child")
    parser.add_argument("--params", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=None)
    arguments = parser.parse_args(argv)
    if arguments.threads:
        limit_threads(arguments.threads)
    project = load_project(arguments.params)
    jobs = json.loads(sys.stdin.read())
    splits = {name: load_prepared(project.prepared_dir, name)
              for name in sorted({job["dataset"] for job in jobs})}
    seen = start_runtime()
    started, cpu = time.perf_counter(), time.process_time()
    results = [KINDS[job["kind"]](job, splits[job["dataset"]]) for job in jobs]
    seen["cpu_per_wall"] = (time.process_time() - cpu) / (time.perf_counter() - started)
    print(json.dumps({"results": results, "threads": seen},
                     default=lambda value: np.asarray(value).tolist()))


if __name__ == "__main__":
    main()
