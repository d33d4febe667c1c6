"""reports/performance.md, part 4: the GPU line and the closing figures against the issue's
goals; the same figures end the command's console output."""

from __future__ import annotations

from pipeline.bench.cases import BASELINE, NO_POOLING
from pipeline.bench.document import met
from pipeline.bench.measure import ALL_THREADS, split_case
from pipeline.bench.measurements import Measurements
from pipeline.bench.stage import GOALS
from pipeline.model.shapes import count_flops
from pipeline.specs.model import ModelSpec

PEAK_GOALS = {"baseline": 0.65, "no pooling": 0.60}  # shares of peak the issue asks for


def gpu_section(found: Measurements) -> list[str]:
    gpus = found.machine.gpus
    words = (f"TensorFlow sees {gpus}: the low precision measured is `mixed_float16` instead "
             "of `mixed_bfloat16`, and the CPU peaks do not apply." if gpus else
             "GPU path untested: no GPU on this machine. Where TensorFlow sees a GPU the "
             "benchmark measures `mixed_float16` in place of `mixed_bfloat16`.")
    return ["## GPU", "", words, ""]


def goal_text(value: float, goal: float) -> str:
    return f"{value:.0%} (goal {goal:.0%}: {met(value, goal)})"


def peak_share(found: Measurements, model: dict, case: str, precision: str) -> float | None:
    """Training GFLOP/s of `case` over the peak of `precision` (None on a GPU)."""
    peak = found.machine.peak(precision)
    achieved = 3 * count_flops(ModelSpec(**model)) * found.speed(case) / 1e9
    return achieved / peak if peak else None


def share_figures(found: Measurements) -> list[tuple[str, str]]:
    """The baseline with `jobs: auto` at float32, the no-pooling CNN at the low precision."""
    baseline = peak_share(found, BASELINE, split_case("float32"), "float32")
    figures = [(f"baseline CNN, `jobs: auto` ({found.sizes.processes} x 1 thread), float32, "
                "share of the float32 peak",
                "-" if baseline is None else goal_text(baseline, PEAK_GOALS["baseline"]))]
    low = found.low
    if low:
        share = peak_share(found, NO_POOLING, split_case(low, "no-pooling CNN"), low)
        figures.append((f"no-pooling CNN, `jobs: auto`, {low}, share of the bf16 peak (2x "
                        "float32)", "-" if share is None else
                        goal_text(share, PEAK_GOALS["no pooling"])))
    return figures


def closing_figures(found: Measurements) -> list[tuple[str, str]]:
    """Every ratio and share the issue asks for, as (what, value and verdict)."""
    figures = [("seed script / pipeline, samples/s",
                f"{found.speed('seed script') / found.speed('pipeline'):.2f}")]
    for precision in found.precisions:
        figures.append((f"{split_case(precision)} / {ALL_THREADS}, samples/s",
                        f"{found.speed(split_case(precision)) / found.speed(ALL_THREADS):.2f}"))
    for key, goal in GOALS.items():
        value = found.stage.ratio(key)
        if value is not None:
            figures.append((f"train stage A / {key}, wall time",
                            f"{value:.2f} (goal >= {goal}: {met(value, goal)})"))
    return figures + share_figures(found)


def closing_note(found: Measurements) -> list[str]:
    return ["## Closing note", "",
            *[f"- {what}: **{value}**" for what, value in closing_figures(found)], ""]
