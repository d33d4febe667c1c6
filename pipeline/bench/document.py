"""reports/performance.md from the measurements: tables of medians and ratios."""

from __future__ import annotations

import math
from statistics import median

import numpy as np

from pipeline.bench.cases import MODELS, Sizes
from pipeline.bench.machine import Machine
from pipeline.bench.measure import SPLIT, Speeds, flops_case
from pipeline.evidence.paired import PairTable, paired_interval
from pipeline.evidence.verdicts import verdict
from pipeline.model.shapes import count_flops
from pipeline.report.markdown import interval_cell, markdown_table
from pipeline.specs.model import ModelSpec


def rounds_cell(values: list[float]) -> str:
    return " / ".join(f"{value:,.0f}" for value in values)


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "-"


RATIO_HEADERS = ["case", "samples/s per round", "median", "ratio"]


def ratio_table(speeds: Speeds, cases: tuple[str, str]) -> str:
    """Both cases' rounds and medians, each as a ratio to the first case's median."""
    rounds = speeds.rounds
    return markdown_table(RATIO_HEADERS, [
        [case, rounds_cell(rounds[case]), f"{median(rounds[case]):,.0f}",
         ratio(median(rounds[case]), median(rounds[cases[0]]))] for case in cases])


def seed_script_section(speeds: Speeds, sizes: Sizes) -> list[str]:
    """(1) the seed script against the pipeline."""
    return ["## 1. The pipeline against the seed script", "",
            f"Baseline CNN, {sizes.compare_samples:,} MNIST images x {sizes.compare_epochs} "
            "epoch(s), batch 64, Adam, float32; the seed script feeds NumPy arrays straight "
            "into `fit`, the pipeline its tf.data `make_dataset`.", "",
            ratio_table(speeds, ("pipeline", "seed script")), ""]


def threads_section(speeds: Speeds, sizes: Sizes) -> list[str]:
    """(3) one process with all threads against N processes of one thread."""
    return ["## 3. One process with all threads against N processes of one thread", "",
            f"Baseline CNN, {sizes.process_samples:,} images x 1 epoch per process; N = "
            f"{sizes.processes}; N processes' samples/s are summed.", "",
            ratio_table(speeds, ("1 process x all threads", SPLIT)), ""]


def flops_rows(speeds: Speeds, machine: Machine, precisions: tuple[str, ...]) -> list[list]:
    rows = []
    for model, fields in MODELS.items():
        forward = count_flops(ModelSpec(**fields))
        for precision in precisions:
            values = speeds.rounds[flops_case(model, precision)]
            achieved = 3 * forward * median(values) / 1e9
            peak = machine.peak_fp32 if precision == "float32" else machine.peak_bf16
            rows.append([model, precision, f"{forward / 1e6:.1f}", rounds_cell(values),
                         f"{achieved:.1f}", f"{peak:.0f}", f"{100 * achieved / peak:.0f}%"])
    return rows


def flops_section(speeds: Speeds, machine: Machine, precisions: tuple[str, ...],
                  sizes: Sizes) -> list[str]:
    """(2) achieved GFLOP/s against the estimated peak."""
    headers = ["model", "precision", "forward MFLOP/image", "samples/s per round",
               "GFLOP/s (median)", "peak GFLOP/s", "share of peak"]
    samples = ", ".join(f"{name} {count:,}" for name, count in sizes.flops_samples.items())
    return ["## 2. Achieved GFLOP/s against the peak", "",
            f"Training counted as 3 x the forward FLOPs of `count_flops`; 1 epoch of {samples} "
            "MNIST images, TensorFlow's default threads. The bf16 peak is twice the fp32 one "
            "where the CPU has AVX512_BF16 or AMX.", "",
            markdown_table(headers, flops_rows(speeds, machine, precisions)), ""]


def exponent(points: dict[int, float]) -> float:
    """The slope of log(seconds) on log(size): 1 is linear."""
    sizes = np.log(np.array(list(points), dtype=float))
    return float(np.polyfit(sizes, np.log(np.array(list(points.values()))), 1)[0])


def scaling_section(scaling: dict[str, dict[int, float]], sizes: Sizes) -> list[str]:
    """(6) fit time against training-set size, a grid's wall time against its runs."""
    train, grid = scaling["train size"], scaling["grid size"]
    return ["## 6. Training time against training-set size and grid size", "",
            "Baseline CNN, float32, 1 epoch; `fit` seconds per training-set size, and the "
            f"wall time of k runs back to back ({sizes.grid_samples:,} images each, test pass "
            "included) in one process.", "",
            markdown_table(["training images", "fit seconds"],
                           [[f"{size:,}", f"{seconds:.2f}"] for size, seconds in train.items()]),
            "", f"Fitted exponent (log-log): **{exponent(train):.2f}**", "",
            markdown_table(["runs in the grid", "wall seconds"],
                           [[runs, f"{seconds:.2f}"] for runs, seconds in grid.items()]),
            "", f"Fitted exponent (log-log): **{exponent(grid):.2f}**", ""]


def effect_rows(effect: dict, smallest_effect: float, alpha: float) -> list[list]:
    rows = []
    for dataset, by_precision in effect.items():
        base, low = by_precision["float32"], by_precision["mixed_bfloat16"]
        table = PairTable.from_correct(np.stack([run["correct"] for run in low]),
                                       np.stack([run["correct"] for run in base]))
        interval = paired_interval(table)
        speed = median(r["samples_per_s"] for r in low) / median(
            r["samples_per_s"] for r in base)
        call = verdict(interval, interval.p_value, smallest_effect, alpha)
        rows.append([dataset, len(base), f"{np.mean([r['accuracy'] for r in base]):.4f}",
                     f"{np.mean([r['accuracy'] for r in low]):.4f}",
                     interval_cell(interval.delta, interval.low, interval.high), call,
                     f"{speed:.2f}"])
    return rows


def effect_section(effect: dict, smallest_effect: float, alpha: float,
                   recipe_text: str) -> list[str]:
    """The precision effect: bf16 against float32, paired by seed on the same test images."""
    if not effect:
        return ["## Precision effect", "", "Not measured: this CPU has no bf16 instructions, "
                "so `mixed_bfloat16` is refused.", ""]
    headers = ["dataset", "seeds", "float32 accuracy", "bf16 accuracy",
               "Δ bf16 − float32 [95% interval]", "verdict", "speed ratio"]
    return ["## Precision effect: mixed_bfloat16 against float32", "",
            f"Baseline CNN, {recipe_text}; seed s of each precision paired on the same test "
            "images; interval and verdict from `pipeline.evidence` (seed and image noise, "
            f"equivalence within ±{smallest_effect}).", "",
            markdown_table(headers, effect_rows(effect, smallest_effect, alpha)), ""]


def percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.0f}%"
