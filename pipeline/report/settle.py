"""What would settle each undecided comparison: the report section and `plan --settle`.

For every undecided comparison: the floor the test images put under its verdict's interval
(pipeline.evidence.settle), whether equivalence within ±smallest_effect can ever be shown on
this test set, and the seeds per side for 80% power at the observed Δ and at smallest_effect,
priced with the measured training time per run (records' time/train_s). Also the check of the
pooled seed variance (Bartlett's test across each dataset's models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.evidence.paired import PairTable
from pipeline.evidence.settle import Settle
from pipeline.evidence.verdicts import Verdict
from pipeline.grid.comparisons import Comparison, Settings, noise_checks, settle_all
from pipeline.report.answers import factor_title
from pipeline.report.markdown import markdown_table
from pipeline.report.verdict_tables import level_label

if TYPE_CHECKING:
    from pipeline.report.data import ReportData

POWER = 0.8


@dataclass(frozen=True)
class Settling:
    """The undecided comparisons' settles, their verdicts, run times and the noise checks."""

    verdicts: dict[Comparison, Verdict]
    settles: dict[Comparison, Settle]
    noise: dict[str, tuple[float, int]]
    times: dict[str, float]  # variant id -> mean seconds per training run
    alpha: float


def settling(tables: dict[Comparison, PairTable], verdicts: dict[Comparison, Verdict],
             settings: Settings, variants: pd.DataFrame) -> Settling:
    """Size what would settle each undecided comparison of `tables`, priced with the
    variants' measured mean training time."""
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
    shown = round(settle.floor, 4)
    text = f"±{shown:.4f}" if shown or settle.floor == 0 else "under ±0.0001"
    if settle.floor == 0:  # the image variance component was estimated at or below 0
        return (f"{text}: not measured (the test images' part of the variance is not "
                f"distinguishable from run-to-run noise at these seeds)")
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


def comparison_label(comparison: Comparison, controlled: list[Comparison]) -> str:
    """`Pooling: none`, or `Pooling: none vs its control cnn f32-64-64 ... h3378`."""
    level = level_label(comparison.factor, comparison.variant)
    label = f"{factor_title(comparison.factor)}: {level}"
    if comparison in controlled:
        label += f" vs its control {comparison.baseline.describe()}"
    return label


def settle_section(data: ReportData) -> list[str]:
    """The report's section on the undecided comparisons and on the seed-noise check."""
    found = data.settling
    smallest = data.settings.smallest_effect
    lines = ["## What would settle the open comparisons", "",
             "The pooled seed variance assumes every model's runs vary alike; checked per "
             "dataset:", "", *noise_lines(found), ""]
    if not found.settles:
        return lines + ["Every comparison with an interval is decided.", ""]
    rows = [[comparison.dataset, comparison_label(comparison, data.controlled),
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
