"""The measurements: speed cases in alternating rounds, scaling, and the precision effect."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.bench.cases import BASELINE, MODELS, Sizes, job, run_children
from pipeline.progress import console
from pipeline.specs.recipe import TrainingRecipe

SPLIT = "N processes x 1 thread"


@dataclass
class Speeds:
    """samples/s of every speed case, one value per round."""

    rounds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, case: str, value: float) -> None:
        self.rounds.setdefault(case, []).append(value)


def flops_case(model: str, precision: str) -> str:
    return f"{model} {precision}"


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
    jobs["1 process x all threads"] = job("pipeline", BASELINE, sizes.process_samples,
                                          sizes=sizes)
    return jobs


def measure_speeds(params: Path, sizes: Sizes, precisions: tuple[str, ...]) -> Speeds:
    """Each round: the default-threads child's cases, then N one-thread children at once."""
    speeds = Speeds()
    jobs = speed_jobs(sizes, precisions)
    single = [job("pipeline", BASELINE, sizes.process_samples, sizes=sizes)]
    for round_number in range(1, sizes.rounds + 1):
        console.print(f"bench: round {round_number}/{sizes.rounds}, {len(jobs)} cases")
        (results,) = run_children(params, list(jobs.values()))
        for case, result in zip(jobs, results, strict=True):
            speeds.add(case, result["samples_per_s"])
        split = run_children(params, single, threads=1, copies=sizes.processes)
        speeds.add(SPLIT, sum(results[0]["samples_per_s"] for results in split))
    return speeds


def measure_scaling(params: Path, sizes: Sizes) -> dict[str, dict[int, float]]:
    """Fit seconds against training-set size, and a grid's wall time against its runs."""
    console.print("bench: scaling with training-set size and grid size")
    train_jobs = [job("pipeline", BASELINE, size, sizes=sizes) for size in sizes.train_sizes]
    grid_jobs = [job("grid", BASELINE, sizes.grid_samples, runs=runs, sizes=sizes)
                 for runs in sizes.grid_sizes]
    (results,) = run_children(params, train_jobs + grid_jobs)
    trained = results[:len(train_jobs)]
    return {"train size": {size: result["train_s"]
                           for size, result in zip(sizes.train_sizes, trained, strict=True)},
            "grid size": {runs: result["wall_s"] for runs, result in
                          zip(sizes.grid_sizes, results[len(train_jobs):], strict=True)}}


def effect_jobs(sizes: Sizes, recipe: TrainingRecipe, dataset: str,
                precisions: tuple[str, ...]) -> list[dict]:
    """Seeds x precisions of the baseline CNN on `dataset`, precisions alternating."""
    samples = sizes.effect_samples or recipe.train_samples
    return [job("pipeline", BASELINE, samples, recipe.epochs, precision, sizes=sizes,
                dataset=dataset, seed=seed, test=True, batch_size=recipe.batch_size,
                val_samples=recipe.val_samples if sizes.effect_samples is None
                else sizes.val_samples)
            for seed in range(sizes.effect_seeds) for precision in precisions]


def measure_effect(params: Path, sizes: Sizes, recipe: TrainingRecipe, datasets: list[str],
                   precisions: tuple[str, ...]) -> dict[str, dict[str, list[dict]]]:
    """Per dataset and precision, each seed's accuracy, per-image correctness and speed."""
    console.print(f"bench: precision effect on {', '.join(datasets)}, "
                  f"{sizes.effect_seeds} seed(s)")
    jobs = [spec for dataset in datasets
            for spec in effect_jobs(sizes, recipe, dataset, precisions)]
    (results,) = run_children(params, jobs)
    effect: dict[str, dict[str, list[dict]]] = {}
    for spec, result in zip(jobs, results, strict=True):
        result["correct"] = np.asarray(result["correct"], dtype=bool)
        effect.setdefault(spec["dataset"], {}).setdefault(spec["precision"], []).append(result)
    return effect
