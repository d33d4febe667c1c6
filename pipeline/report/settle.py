"""What would settle each undecided comparison: the report section and `plan --settle`.

For every undecided comparison: the floor the test images put under its verdict's interval
(pipeline.evidence.settle), whether equivalence within ±smallest_effect can ever be shown on
this test set, and the seeds per side for 80% power at the observed Δ and at smallest_effect,
priced with the measured training time per run (records' time/train_s). Also the check of the
pooled seed variance (Bartlett's test across each dataset's models).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.config import Project
from pipeline.evidence.settle import Settle
from pipeline.evidence.verdicts import Verdict
from pipeline.grid.comparisons import (
    Comparison,
    dataset_tables,
    decide_tables,
    grid_comparisons,
    noise_checks,
    settle_all,
)
from pipeline.grid.plan import evidence_settings
from pipeline.grid.replication import replicate, seeds_of
from pipeline.report.answers import factor_title
from pipeline.report.markdown import markdown_table
from pipeline.report.results import collect_runs, summarize_variants
from pipeline.report.verdict_tables import level_label

POWER = 0.8


@dataclass(frozen=True)
class Settling:
    """The undecided comparisons' settles, their verdicts, run times and the noise checks."""

    verdicts: dict[Comparison, Verdict]
    settles: dict[Comparison, Settle]
    noise: dict[str, tuple[float, int]]
    times: dict[str, float]  # variant id -> mean seconds per training run
    alpha: float


def settling(project: Project) -> Settling:
    """Replay the grid's seeds from the stored runs and size what would settle each open Δ."""
    grid = project.load_grid()
    training = project.params.training_recipe()
    settings = evidence_settings(project, grid)
    replication = replicate(grid, training, project.results_dir, settings)
    seeds = seeds_of(grid, training, replication.extra_seeds)
    tables = dataset_tables(project.results_dir, grid_comparisons(grid), training, seeds)
    verdicts = decide_tables(tables, settings)
    variants = summarize_variants(collect_runs(project, grid, replication.extra_seeds))
    times = variants.set_index("variant_id")["train_time_s"].dropna().to_dict()
    return Settling(verdicts, settle_all(tables, verdicts, settings, POWER),
                    noise_checks(tables), times, settings.alpha)


def added_runs(seeds: int | None, found: Verdict) -> int:
    """Runs per side to add for `seeds` seeds (0 when reached, -1 when out of reach)."""
    return -1 if seeds is None else max(0, seeds - found.seeds)


def cost_text(settling: Settling, comparison: Comparison, seeds: int | None) -> str:
    """`6 (+3 per side, ~12 min)`, or why it is out of reach."""
    found = settling.verdicts[comparison]
    extra = added_runs(seeds, found)
    if extra < 0:
        return "out of reach (at or below the floor, or over 200 seeds)"
    per_pair = sum(settling.times.get(key, float("nan"))
                   for key in (comparison.variant_id, comparison.baseline_id))
    eta = "time unknown" if pd.isna(per_pair) else f"~{extra * per_pair / 60:.0f} min"
    return f"{seeds} (+{extra} per side, {eta})"


def floor_text(settle: Settle, smallest_effect: float) -> str:
    text = f"±{settle.floor:.4f}"
    if smallest_effect <= settle.equivalence_floor:
        text += (f"; smallest_effect {smallest_effect:g} lies below the equivalence floor "
                 f"±{settle.equivalence_floor:.4f}: equivalence cannot be shown on this "
                 f"test set")
    return text


def noise_lines(settling: Settling) -> list[str]:
    """One line per dataset: is the pooled seed variance's equal-noise assumption rejected?"""
    lines = []
    for dataset, (p_value, models) in settling.noise.items():
        if pd.isna(p_value):
            lines.append(f"- {dataset}: run-to-run noise not testable ({models} models with "
                         f"two or more seeds and distinct accuracies).")
            continue
        outcome = ("**rejected**: the models' run-to-run noise differs, so the pool is "
                   "suspect; each interval uses the larger of the pool and the baseline's "
                   "and variants' variances estimated apart" if p_value < settling.alpha else
                   "not rejected")
        lines.append(f"- {dataset}: one run variance for all {models} models (the pool's "
                     f"assumption), Bartlett's test p = {p_value:.3g}: {outcome}.")
    return lines


def settle_section(project: Project) -> list[str]:
    """The report's section on the undecided comparisons and on the seed-noise check."""
    found = settling(project)
    smallest = project.params.evidence.smallest_effect
    lines = ["## What would settle the open comparisons", "",
             "The pooled seed variance assumes every model's runs vary alike; checked per "
             "dataset:", "", *noise_lines(found), ""]
    if not found.settles:
        return lines + ["Every comparison with an interval is decided.", ""]
    rows = [[comparison.dataset, f"{factor_title(comparison.factor)}: "
             f"{level_label(comparison.factor, comparison.variant)}",
             f"{found.verdicts[comparison].delta:+.4f}", floor_text(settle, smallest),
             cost_text(found, comparison, settle.seeds_at_delta),
             cost_text(found, comparison, settle.seeds_at_smallest)]
            for comparison, settle in found.settles.items()]
    return lines + [
        "More seeds shrink only the seed part of an interval: the shared test images put a "
        "floor under it (its half-width with infinitely many seeds, at the verdict's "
        "adjusted confidence), so a |Δ| at or below the floor is never resolved on these "
        f"test images. Above it, the seeds per side give {POWER:.0%} power at the verdict's "
        "level, with the comparison's current seed variance; the time is the extra runs "
        "(variant and baseline) at their measured mean training time. "
        "`python -m pipeline plan --settle` lists those runs.", "",
        markdown_table(["dataset", "comparison", "Δ", "floor", "seeds for 80% power at Δ",
                        f"at ±{smallest:g}"], rows), ""]


def settle_plan_lines(project: Project) -> list[str]:
    """The runs that would reach 80% power at each open comparison's observed Δ, and ETA."""
    found = settling(project)
    wanted: dict[str, tuple[int, int]] = {}  # variant id -> (seeds paired now, target)
    names = {}
    for comparison, settle in found.settles.items():
        if settle.seeds_at_delta is None:
            continue
        have = found.verdicts[comparison].seeds
        names[comparison.variant_id] = f"{comparison.dataset} {comparison.variant.describe()}"
        names[comparison.baseline_id] = f"{comparison.dataset} {comparison.baseline.describe()}"
        for key in (comparison.variant_id, comparison.baseline_id):
            old = wanted.get(key, (have, have))
            wanted[key] = (max(old[0], have), max(old[1], settle.seeds_at_delta))
    lines, total = [], 0.0
    for key, (have, target) in wanted.items():
        seconds = (target - have) * found.times.get(key, float("nan"))
        total += 0.0 if pd.isna(seconds) else seconds
        lines.append(f"{names[key]}: seeds {have}..{target - 1} ({target - have} runs, "
                     f"~{seconds / 60:.0f} min)")
    unreachable = sum(settle.seeds_at_delta is None for settle in found.settles.values())
    runs = sum(target - have for have, target in wanted.values())
    return lines + [f"{runs} runs to add, ETA ~{total / 60:.0f} min of training; "
                    f"{unreachable} open comparison(s) out of reach (Δ at or below the floor)."]
