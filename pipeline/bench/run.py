"""`python -m pipeline bench`: run every benchmark in one process run, write performance.md."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

from pipeline.bench import document
from pipeline.bench.cases import FULL, QUICK, Sizes
from pipeline.bench.machine import Machine, this_machine, versions_text
from pipeline.bench.measure import SPLIT, measure_effect, measure_scaling, measure_speeds
from pipeline.bench.overhead import stage_overhead
from pipeline.config import Project
from pipeline.progress import console
from pipeline.training.device import device_info


def overhead_section(records_dir: Path | None) -> list[str]:
    """(4) from an existing run's records (`--records`), else stated as not measured."""
    found = stage_overhead(records_dir) if records_dir else None
    if found is None:
        where = f" ({records_dir} holds no finished run)" if records_dir else ""
        return ["## 4. Pipeline overhead on the default grid", "", "Not measured in this run"
                f"{where}: pass `--records results/runs` after a default `dvc repro` to read "
                "the stage's runs.", ""]
    work = found["fit_s"] + found["test_s"]
    rows = [["runs", f"{found['runs']:.0f}"], ["fit seconds (sum)", f"{found['fit_s']:.1f}"],
            ["test inference seconds (sum)", f"{found['test_s']:.1f}"],
            ["runs' own wall seconds (sum)", f"{found['run_wall_s']:.1f}"],
            ["first start to last end, seconds", f"{found['span_s']:.1f}"],
            ["overhead share of the span", f"{100 * (1 - work / found['span_s']):.0f}%"]]
    return ["## 4. Pipeline overhead on the default grid", "",
            f"From the records in `{records_dir}`; test time is recorded by "
            f"{found['test_recorded']:.0f} of them (older records lack it).", "",
            document.markdown_table(["measure", "value"], rows), ""]


def closing_note(speeds, machine: Machine, precisions: tuple[str, ...]) -> list[str]:
    """The ratios and shares of peak against the issue's goals."""
    rows = {row[0] + " " + row[1]: row for row in document.flops_rows(speeds, machine,
                                                                       precisions)}
    rounds = speeds.rounds
    lines = ["## Closing note", "",
             f"- Seed script / pipeline: {document.ratio(median(rounds['seed script']), median(rounds['pipeline']))}; "  # noqa: E501
             f"{SPLIT} / 1 process: "
             f"{document.ratio(median(rounds[SPLIT]), median(rounds['1 process x all threads']))}.",  # noqa: E501
             f"- Baseline CNN float32: {rows['baseline CNN float32'][-1]} of the fp32 peak "
             "with one process (goal with `jobs: auto`: 65%; parallel jobs are measured by "
             f"case 3)."]
    if "mixed_bfloat16" in precisions:
        lines.append(f"- No-pooling CNN mixed_bfloat16: "
                     f"{rows['no-pooling CNN mixed_bfloat16'][-1]} of the bf16 peak (goal 60%).")
    return [*lines, ""]


def header(machine: Machine, command: str, sizes: Sizes, seconds: float) -> list[str]:
    return ["# Performance", "",
            f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in "
            f"{seconds / 60:.1f} min{' (quick mode: tiny sizes, not figures to quote)' if sizes is QUICK else ''}.",  # noqa: E501
            "Every speed case ran once per round, in alternation, "
            f"{sizes.rounds} round(s); medians over rounds.", "",
            f"- **Machine**: {machine.model}, {machine.cores} cores at {machine.ghz:.2f} GHz, "
            f"{' '.join(machine.extensions)}; peak {machine.peak_fp32:.0f} GFLOP/s fp32 "
            f"({machine.flop_per_cycle} FLOP/cycle/core), {machine.peak_bf16:.0f} bf16",
            f"- **Device**: {device_info()['device']}, {device_info()['tensorflow_build']}",
            f"- **Versions**: {versions_text()}", ""]


FIXED = ["## 5. No-op and one-variant-changed `dvc repro`", "",
         "Not measured: it needs a finished default repro of the whole project (15+ min) "
         "inside the benchmark's 10 minutes.", "",
         "## GPU", "", "Untested: no GPU machine was available to this run; "
         "`training.precision: mixed_float16` is meant for one.", ""]


def run_bench(project: Project, output: Path | None, quick: bool, records_dir: Path | None,
              command: str) -> Path:
    """Measure everything, then write the document (default reports/performance.md)."""
    started = time.perf_counter()
    sizes, machine = (QUICK if quick else FULL), this_machine()
    precisions = ("float32", "mixed_bfloat16") if machine.bf16 else ("float32",)
    params = project.params_path.resolve()
    speeds = measure_speeds(params, sizes, precisions)
    scaling = measure_scaling(params, sizes)
    recipe = project.params.training_recipe()
    datasets = project.params.data.datasets[:1] if quick else project.params.data.datasets
    effect = measure_effect(params, sizes, recipe, datasets, precisions) if machine.bf16 else {}
    samples = sizes.effect_samples or recipe.train_samples
    recipe_text = (f"{samples or 'all'} images x {recipe.epochs} epoch(s), batch "
                   f"{recipe.batch_size}")
    evidence = project.params.evidence
    lines = (header(machine, command, sizes, time.perf_counter() - started)
             + document.seed_script_section(speeds, sizes)
             + document.flops_section(speeds, machine, precisions, sizes)
             + document.threads_section(speeds, sizes)
             + overhead_section(records_dir) + FIXED + document.scaling_section(scaling, sizes)
             + document.effect_section(effect, evidence.smallest_effect, evidence.alpha,
                                       recipe_text)
             + closing_note(speeds, machine, precisions))
    path = output or project.reports_dir / "performance.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    console.print(f"bench: wrote {path} in {(time.perf_counter() - started) / 60:.1f} min")
    return path
