"""The speed cases in alternating rounds (sections 1-3), scaling and the precision effect.

A round runs every speed case once: one child with TensorFlow's default threads trains the
pipeline, seed-script, FLOP/s and all-threads jobs one after another; then N one-thread
children train the split jobs at the same time. Rounds repeat, so drift on the machine
hits every case alike. Each child records the threads it really ran with. The last round's
default-threads child also trains the scaling and precision-effect jobs, which are not
compared across rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.bench.cases import BASELINE, MODELS, NO_POOLING, Sizes, job
from pipeline.bench.children import run_children
from pipeline.specs.recipe import TrainingRecipe

ALL_THREADS = "1 process x all threads"
SPLIT = "N processes x 1 thread"


def split_case(precision: str, model: str = "baseline CNN") -> str:
    """The N-process case of `model` at `precision` (the plain name for the float32 baseline)."""
    name = SPLIT if model == "baseline CNN" else f"{SPLIT}, {model}"
    return name if precision == "float32" else f"{name} + {precision}"


def flops_case(model: str, precision: str) -> str:
    return f"{model} {precision}"


@dataclass
class Speeds:
    """samples/s of every speed case, one value per round (N processes' values summed),
    and the threads each kind of child recorded (`default`, `one`), one per round."""

    rounds: dict[str, list[float]] = field(default_factory=dict)
    threads: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, case: str, value: float) -> None:
        self.rounds.setdefault(case, []).append(value)


def speed_jobs(sizes: Sizes, precisions: tuple[str, ...]) -> dict[str, dict]:
    """The jobs of the default-threads child, by case name, in the order they run."""
    jobs = {"pipeline": job("pipeline", BASELINE, sizes.compare_samples, sizes.compare_epochs,
                            sizes=sizes),
            "seed script": job("seed_script", BASELINE, sizes.compare_samples,
                               sizes.compare_epochs, sizes=sizes)}
    for model, samples in sizes.flops_samples.items():
        for precision in precisions:
            jobs[flops_case(model, precision)] = job("pipeline", MODELS[model], samples,
                                                     precision=precision, sizes=sizes)
    jobs[ALL_THREADS] = job("pipeline", BASELINE, sizes.process_samples, sizes=sizes)
    return jobs


def split_jobs(sizes: Sizes, precisions: tuple[str, ...]) -> dict[str, dict]:
    """The jobs every one-thread child runs: the baseline at each precision, and the
    no-pooling CNN at the low one (the closing note's share of the bf16 peak)."""
    jobs = {split_case(precision): job("pipeline", BASELINE, sizes.process_samples,
                                       precision=precision, sizes=sizes)
            for precision in precisions}
    for precision in precisions[1:]:
        jobs[split_case(precision, "no-pooling CNN")] = job(
            "pipeline", NO_POOLING, sizes.split_no_pooling_samples, precision=precision,
            sizes=sizes)
    return jobs


def measure_round(params: Path, sizes: Sizes, precisions: tuple[str, ...], speeds: Speeds,
                  extra: list[dict] | tuple = ()) -> list[dict]:
    """One round: the default-threads child's cases, then N one-thread children at once.
    The default-threads child trains the `extra` jobs after its cases (one TensorFlow
    start-up fewer); their results are returned."""
    jobs = speed_jobs(sizes, precisions)
    (single,) = run_children(params, [*jobs.values(), *extra])
    for case, result in zip(jobs, single.results[:len(jobs)], strict=True):
        speeds.add(case, result["samples_per_s"])
    speeds.threads.setdefault("default", []).append(single.threads)
    split = split_jobs(sizes, precisions)
    children = run_children(params, list(split.values()), threads=1, copies=sizes.processes)
    for index, case in enumerate(split):
        speeds.add(case, sum(child.results[index]["samples_per_s"] for child in children))
    speeds.threads.setdefault("one", []).extend(child.threads for child in children)
    return single.results[len(jobs):]


def scaling_jobs(sizes: Sizes) -> list[dict]:
    """Fit time per training-set size, then grids of k runs back to back."""
    return ([job("pipeline", BASELINE, size, sizes=sizes) for size in sizes.train_sizes]
            + [job("grid", BASELINE, sizes.grid_samples, runs=runs, sizes=sizes)
               for runs in sizes.grid_sizes])


def scaling_of(sizes: Sizes, results: list[dict]) -> dict[str, dict[int, float]]:
    """Fit seconds against training-set size, and a grid's wall time against its runs."""
    trained, grids = results[:len(sizes.train_sizes)], results[len(sizes.train_sizes):]
    return {"train size": {size: result["train_s"]
                           for size, result in zip(sizes.train_sizes, trained, strict=True)},
            "grid size": {runs: result["wall_s"]
                          for runs, result in zip(sizes.grid_sizes, grids, strict=True)}}


def effect_jobs(sizes: Sizes, recipe: TrainingRecipe, datasets: list[str],
                precisions: tuple[str, ...]) -> list[dict]:
    """Seeds x precisions of the baseline CNN on each dataset, precisions alternating."""
    samples = sizes.effect_samples or recipe.train_samples
    val_samples = recipe.val_samples if sizes.effect_samples is None else sizes.val_samples
    return [job("pipeline", BASELINE, samples, sizes.effect_epochs or recipe.epochs,
                precision, sizes=sizes, dataset=dataset, seed=seed, test=True,
                batch_size=recipe.batch_size, val_samples=val_samples)
            for dataset in datasets for seed in range(sizes.effect_seeds)
            for precision in precisions]


def effect_of(jobs: list[dict], results: list[dict]) -> dict[str, dict[str, list[dict]]]:
    """Per dataset and precision, each seed's accuracy, per-image correctness and speed."""
    effect: dict[str, dict[str, list[dict]]] = {}
    for spec, result in zip(jobs, results, strict=True):
        result["correct"] = np.asarray(result["correct"], dtype=bool)
        effect.setdefault(spec["dataset"], {}).setdefault(spec["precision"], []).append(result)
    return effect

