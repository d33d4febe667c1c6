"""reports/performance.md, part 3: scaling with data and grid size (6) and the low
precision's effect on accuracy, with the fitted exponents."""

from __future__ import annotations

from statistics import median

import numpy as np

from pipeline.bench.measurements import Measurements
from pipeline.evidence.paired import PairTable, paired_interval
from pipeline.evidence.verdicts import verdict
from pipeline.report.markdown import interval_cell, markdown_table


def exponent(points: dict[int, float]) -> float:
    """The least-squares slope of log(seconds) on log(size): 1 is linear."""
    sizes = np.log(np.array(list(points), dtype=float))
    return float(np.polyfit(sizes, np.log(np.array(list(points.values()))), 1)[0])


def scaling_section(found: Measurements) -> list[str]:
    """(6) fit time against training-set size, a grid's wall time against its runs."""
    train, grid = found.scaling["train size"], found.scaling["grid size"]
    return ["## 6. Training time against training-set size and grid size", "",
            "Baseline CNN, float32, 1 epoch, TensorFlow's default threads; `fit` seconds per "
            "training-set size, and the wall time of k runs back to back "
            f"({found.sizes.grid_samples:,} images each, test pass included) in one process. "
            "Exponents are least-squares slopes on log-log axes (1 = linear).", "",
            markdown_table(["training images", "fit seconds"],
                           [[f"{size:,}", f"{seconds:.2f}"] for size, seconds in train.items()]),
            "", f"Fitted exponent (log-log): **{exponent(train):.2f}**", "",
            markdown_table(["runs in the grid", "wall seconds"],
                           [[runs, f"{seconds:.2f}"] for runs, seconds in grid.items()]),
            "", f"Fitted exponent (log-log): **{exponent(grid):.2f}**", ""]


def effect_rows(found: Measurements, smallest_effect: float, alpha: float) -> list[list]:
    rows = []
    for dataset, by_precision in found.effect.items():
        base, low = by_precision["float32"], by_precision[found.low]
        table = PairTable.from_correct(np.stack([run["correct"] for run in low]),
                                       np.stack([run["correct"] for run in base]))
        interval = paired_interval(table)
        speed = median(r["samples_per_s"] for r in low) / median(
            r["samples_per_s"] for r in base)
        call = verdict(interval, smallest_effect, alpha=alpha)
        rows.append([dataset, len(base), f"{np.mean([r['accuracy'] for r in base]):.4f}",
                     f"{np.mean([r['accuracy'] for r in low]):.4f}",
                     interval_cell(interval.delta, interval.low, interval.high), call,
                     f"{speed:.2f}"])
    return rows


def effect_section(found: Measurements, smallest_effect: float, alpha: float) -> list[str]:
    """The low precision against float32, paired by seed on the same test images."""
    if not found.effect:
        return ["## Precision effect", "", "Not measured: this machine has no low precision "
                "(no GPU, and a CPU without bf16 instructions refuses `mixed_bfloat16`).", ""]
    low = found.low
    headers = ["dataset", "seeds", "float32 accuracy", f"{low} accuracy",
               f"Δ {low} − float32 [95% interval]", "verdict", "speed ratio"]
    return [f"## Precision effect: {low} against float32", "",
            f"Baseline CNN, {found.effect_recipe}; seed s of each precision paired on the same "
            "test images; interval and verdict from `pipeline.evidence` (seed and image "
            f"noise, equivalence within ±{smallest_effect}).", "",
            markdown_table(headers, effect_rows(found, smallest_effect, alpha)), ""]
