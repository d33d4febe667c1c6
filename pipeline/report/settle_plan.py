"""`python -m pipeline plan --settle`: the runs that would settle the open comparisons."""

from __future__ import annotations

import pandas as pd

from pipeline.config import Project
from pipeline.report.data import report_data


def settle_plan_lines(project: Project) -> list[str]:
    """The runs that would reach 80% power at each open comparison's observed Δ, and ETA."""
    found = report_data(project).settling
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
