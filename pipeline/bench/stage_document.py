"""reports/performance.md, part 2: the stage sections, overhead (4), `dvc repro` (5) and the
train stage itself (7)."""

from __future__ import annotations

from statistics import median

from pipeline.bench.document import met, percent
from pipeline.bench.measurements import Measurements
from pipeline.bench.overhead import Overhead
from pipeline.bench.stage import GOALS, StageRun
from pipeline.report.markdown import markdown_table


def stage_overhead(run: StageRun, key: str) -> Overhead:
    return Overhead(f"mode {key}", run.runs, run.fit_s, run.test_s, run.wall_s, run.jobs)


def measured_overhead_rows(found: Measurements) -> list[list]:
    """Per mode of case 7, medians over rounds of wall, capacity, work and overhead share."""
    rows = []
    for mode in found.stage.modes:
        found_runs = [stage_overhead(run, mode.key) for run in found.stage.runs[mode.key]]
        rows.append([f"{mode.key}: {mode.words}", f"{median(o.wall_s for o in found_runs):.1f}",
                     found_runs[0].jobs, f"{median(o.capacity_s for o in found_runs):.1f}",
                     f"{median(o.fit_s for o in found_runs):.1f}",
                     f"{median(o.test_s for o in found_runs):.1f}",
                     percent(median(o.share for o in found_runs))])
    return rows


def records_overhead(found: Measurements) -> list[str]:
    """The `--records` part: a finished run's records, or why there is none."""
    where, overhead = found.records_dir, found.records
    if overhead is None:
        held = f" ({where} holds no finished run)" if where else ""
        return [f"Not measured on a whole default run{held}: pass `--records results/runs` "
                "after a default `dvc repro` to add its stage's numbers.", ""]
    rows = [["runs", overhead.runs], ["fit seconds (sum)", f"{overhead.fit_s:.1f}"],
            ["test inference seconds (sum)", f"{overhead.test_s:.1f}"],
            ["the runs' own wall seconds (sum)", f"{overhead.run_wall_s:.1f}"],
            ["stage wall seconds (some run in progress)", f"{overhead.wall_s:.1f}"],
            ["jobs (most runs in progress at once)", overhead.jobs],
            ["capacity, wall x jobs", f"{overhead.capacity_s:.1f}"],
            ["overhead share of the capacity", percent(overhead.share)]]
    return [f"From {overhead.source}: the stage's wall time is the time some run was in "
            "progress (start-up before the first run is not in the records), its jobs the "
            "most runs in progress at once.", "",
            markdown_table(["measure", "value"], rows), ""]


def overhead_section(found: Measurements) -> list[str]:
    """(4) stage wall x jobs against the summed fit and test-inference seconds."""
    headers = ["mode", "stage wall s", "jobs", "capacity s (wall x jobs)", "fit s (sum)",
               "test inference s (sum)", "overhead share"]
    return ["## 4. Pipeline overhead on the default grid", "",
            "Overhead = 1 - (fit + test inference seconds, summed over the runs) / (stage wall "
            "seconds x jobs): the share of the stage's processes' time spent on anything else "
            "(start-up, building, logging, idle jobs at the end). With N jobs the runs' "
            "seconds add up to more than the wall time, so the capacity, not the wall time, is "
            "what they are compared with. Measured on case 7's slice of the default grid "
            "(medians over rounds); in mode A one process uses every core, so its capacity is "
            "its wall time.", "", markdown_table(headers, measured_overhead_rows(found)), "",
            *records_overhead(found)]


def repro_section(found: Measurements) -> list[str]:
    """(5) a no-op `dvc repro`, and one after a level is added to the grid."""
    repro = found.repro
    noop = ("nothing ran: \"Data and pipelines are up to date\"" if repro.noop_up_to_date
            else "**not a no-op**: a stage ran again")
    stages = "prepare, train, report" if repro.command == "dvc repro" else "prepare, train"
    rows = [["first (sets the case up: every run trains)", f"{repro.first_s:.1f}",
             f"{stages}; {repro.runs_before} runs"],
            ["no-op (every run cached)", f"{repro.noop_s:.1f}", noop],
            ["one level added", f"{repro.changed_s:.1f}",
             f"{repro.new_runs} new run(s), {repro.new_work_s:.1f} s of fit and test "
             "inference"]]
    return ["## 5. No-op and one-variant-changed `dvc repro`", "",
            f"`{repro.command}`, timed with the smoke profile, not the default one, in a scratch "
            "copy of the repository (git and DVC initialised, its own MLflow store): "
            f"{repro.grid}. A "
            "no-op repro of the default profile would first need its whole 15-minute study "
            "inside the benchmark's 10 minutes; the smoke grid runs the same stages and code "
            "paths, with less to train and to hash.", "",
            markdown_table(["dvc repro", "seconds", "what ran"], rows), ""]


def stage_ratio_lines(found: Measurements) -> list[str]:
    """A / B and A / C against their goals, met or not."""
    lines = []
    for key, goal in GOALS.items():
        value = found.stage.ratio(key)
        lines.append(f"- A / {key}: not measured (no low precision on this machine)."
                     if value is None else
                     f"- A / {key} = **{value:.2f}**: goal >= {goal}, {met(value, goal)}.")
    return lines


def stage_section(found: Measurements) -> list[str]:
    """(7) the train stage on a slice of the default grid, modes A B C alternating."""
    stage, budget = found.stage, found.sizes.stage
    rows = []
    for mode in stage.modes:
        walls = [run.wall_s for run in stage.runs[mode.key]]
        rows.append([mode.key, mode.words, " / ".join(f"{wall:.1f}" for wall in walls),
                     f"{median(walls):.1f}", stage.runs[mode.key][0].runs,
                     f"{stage.median_wall('A') / median(walls):.2f}"])
    first = stage.runs["A"][0]
    cells = ", ".join(f"`{name}`" for name in first.cells)
    return ["## 7. The train stage itself: today against `jobs: auto`", "",
            "`python -m pipeline train` on a slice of experiments/grids/default.yaml (MNIST, "
            f"seed 0, no controls or references), {len(first.cells)} trained cells: {cells}; "
            f"each {budget.epochs} epoch(s) of {budget.train_samples:,} images, validated on "
            f"{budget.val_samples:,}, tested on {budget.test_samples:,}. Every mode of every "
            "round trains in a fresh scratch project (nothing cached); wall time from the "
            "command's start to its exit, in the order A B C, A B C. Mode A's TensorFlow ran "
            f"{(first.threads or {}).get('pool')} intra-op threads (counted in its process).",
            "",
            markdown_table(["mode", "how", "wall s per round", "median", "runs", "A / mode"],
                           rows), "", *stage_ratio_lines(found), "", *result_lines(found)]


def result_lines(found: Measurements) -> list[str]:
    """Do the numbers change? Each cell's test accuracy in mode A (default threads) and C
    (low precision) against B (one thread, float32), same seed and recipe, first round."""
    runs = {key: found.stage.runs[key][0].accuracies for key in found.stage.runs}
    lines = []
    for key, words in (("A", "TensorFlow's default threads"), ("C", "the low precision")):
        if key not in runs:
            continue
        shared = sorted(set(runs[key]) & set(runs["B"]))
        gaps = [abs(runs[key][cell] - runs["B"][cell]) for cell in shared]
        same = sum(gap == 0 for gap in gaps)
        lines.append(f"- {words} against one thread, float32 ({len(shared)} cells, same seed "
                     f"and recipe): {same} identical test accuracies; |Δ| mean "
                     f"{(sum(gaps) / len(gaps) if gaps else 0):.4f}, largest "
                     f"{max(gaps, default=0):.4f}.")
    return ["Do the results change with the threads or the precision? A run's numbers depend "
            "on how its reductions are split; the one-thread runs of B are what every "
            "train stage now trains, whatever the job count.", "", *lines, ""]
