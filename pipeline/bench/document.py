"""reports/performance.md, part 1: the header and the speed sections (1-3), with the table
helpers every section uses."""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import median

from pipeline.bench.cases import MODELS, QUICK
from pipeline.bench.machine import versions_text
from pipeline.bench.measure import ALL_THREADS, flops_case, split_case
from pipeline.bench.measurements import Measurements
from pipeline.model.shapes import count_flops
from pipeline.report.markdown import markdown_table
from pipeline.specs.model import ModelSpec
from pipeline.training.device import device_info


def rounds_cell(values: list[float]) -> str:
    return " / ".join(f"{value:,.0f}" for value in values)


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def met(value: float, goal: float) -> str:
    return "met" if value >= goal else "not met"


RATIO_HEADERS = ["case", "samples/s per round", "median", "ratio"]


def ratio_table(found: Measurements, cases: list[str]) -> str:
    """The cases' rounds and medians, each as a ratio to the first case's median."""
    rounds = found.speeds.rounds
    return markdown_table(RATIO_HEADERS, [
        [case, rounds_cell(rounds[case]), f"{found.speed(case):,.0f}",
         ratio(found.speed(case), found.speed(cases[0]))] for case in cases])


def header(found: Measurements) -> list[str]:
    machine, sizes = found.machine, found.sizes
    quick = " (quick mode: tiny sizes, not figures to quote)" if sizes is QUICK else ""
    return ["# Performance", "",
            f"Written by `{found.command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in "
            f"{found.seconds / 60:.1f} min{quick}. Every case that is compared ran once per "
            f"round, in alternation, {sizes.rounds} round(s); medians over rounds.", "",
            f"- **Machine**: {machine.model}, {machine.cores} logical CPUs at "
            f"{machine.ghz:.2f} GHz ({machine.clock}), {' '.join(machine.extensions)}",
            f"- **Estimated peak**: {machine.cores} x {machine.ghz:.2f} GHz x "
            f"{machine.flop_per_cycle} FLOP/cycle = {machine.peak_fp32:.0f} GFLOP/s float32, "
            f"{machine.peak_bf16:.0f} GFLOP/s bf16 (section 2 says how)",
            f"- **Device**: {device_info()['device']}, {device_info()['tensorflow_build']}",
            f"- **Versions**: {versions_text()}", "", threads_line(found), ""]


def threads_line(found: Measurements) -> str:
    """What the children's TensorFlow really ran with (pipeline.bench.threads_seen)."""
    seen = found.speeds.threads.get("default", [{}])[0]
    busy = seen.get("cpu_per_wall")
    return ("Threads, as each child recorded them: TensorFlow's default threads ran "
            f"**{found.default_threads()} intra-op threads** (its `tf_Compute` pool; "
            f"configured {seen.get('configured')}, 0 meaning TensorFlow's default; "
            f"{f'{busy:.2f}' if busy else '-'} CPU seconds per wall second), the one-thread "
            f"children **{found.one_threads()}** each.")


def seed_script_section(found: Measurements) -> list[str]:
    """(1) the seed script against the pipeline."""
    sizes = found.sizes
    return ["## 1. The pipeline against the seed script", "",
            f"Baseline CNN, {sizes.compare_samples:,} MNIST images x {sizes.compare_epochs} "
            "epoch(s), batch 64, Adam, float32, TensorFlow's default threads; the seed script "
            "feeds NumPy arrays straight into `model.fit`, the pipeline its tf.data "
            "`make_dataset`.", "",
            ratio_table(found, ["pipeline", "seed script"]), ""]


def flops_rows(found: Measurements) -> list[list]:
    rows = []
    for model, fields in MODELS.items():
        forward = count_flops(ModelSpec(**fields))
        for precision in found.precisions:
            values = found.speeds.rounds[flops_case(model, precision)]
            achieved = 3 * forward * median(values) / 1e9
            peak = found.machine.peak(precision)
            rows.append([model, precision, f"{forward / 1e6:.1f}", rounds_cell(values),
                         f"{achieved:.1f}", f"{peak:.0f}" if peak else "-",
                         percent(achieved / peak if peak else None)])
    return rows


def flops_section(found: Measurements) -> list[str]:
    """(2) achieved GFLOP/s against the estimated peak."""
    headers = ["model", "precision", "forward MFLOP/image", "samples/s per round",
               "GFLOP/s (median)", "peak GFLOP/s", "share of peak"]
    samples = ", ".join(f"{name} {count:,}" for name, count in found.sizes.flops_samples.items())
    return ["## 2. Achieved GFLOP/s against the peak", "",
            f"Training counted as 3 x the forward FLOPs of `count_flops` (2 FLOP per "
            f"multiply-accumulate); 1 epoch of {samples} MNIST images in one process with "
            "TensorFlow's default threads.", "", *peak_words(found), "",
            markdown_table(headers, flops_rows(found)), ""]


def peak_words(found: Measurements) -> list[str]:
    machine = found.machine
    return [f"Peak = cores x GHz x FLOP per cycle, from lscpu and /proc/cpuinfo: "
            f"{machine.flop_per_cycle} float32 FLOP per cycle and core counts 2 FLOP per fused "
            "multiply-add and two FMA units (64 with AVX-512: 2 units x 16 lanes x 2; 32 with "
            "AVX2; a one-unit AVX-512 part reaches half). The bf16 peak is twice the float32 "
            "one on a CPU with AVX512_BF16 (VDPBF16PS: 32 bf16 products per 512-bit "
            "instruction where an FMA does 16). AMX_BF16 tiles are not counted: Intel quotes "
            "1,024 bf16 FLOP per cycle and core, 8x this bf16 estimate, so where oneDNN uses "
            "AMX the achieved bf16 rate may exceed the estimated peak."
            + (" A GPU trains here: the CPU peaks do not apply, shares are left out."
               if machine.gpus else "")]


def threads_section(found: Measurements) -> list[str]:
    """(3) one process with all threads against N processes of one thread."""
    sizes, low = found.sizes, found.low
    cases = [ALL_THREADS, split_case("float32")] + ([split_case(low)] if low else [])
    return ["## 3. One process with all threads against N processes of one thread", "",
            f"Baseline CNN, {sizes.process_samples:,} images x 1 epoch per process; N = "
            f"{sizes.processes}, started together; the N processes' samples/s are summed "
            "(the threads each ran with: see the header).", "", ratio_table(found, cases), ""]
