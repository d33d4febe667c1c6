""""Answers at a glance": one line per factor and dataset, written from the verdicts.

A level is called better or worse only when its verdict says so; otherwise the line gives the
interval ("no detectable difference") or says "equivalent"; every answer shows its seeds.
"""

from __future__ import annotations

import pandas as pd

from pipeline.evidence.verdicts import BETTER, EQUIVALENT, WORSE
from pipeline.grid.comparisons import CNN_VS_DENSE
from pipeline.report.markdown import interval_cell
from pipeline.specs.factors import TITLES


def factor_title(factor: str) -> str:
    if factor == CNN_VS_DENSE:
        return "CNN vs Dense"
    return " × ".join(TITLES.get(name, name) for name in factor.split("×"))


def level_answer(row: pd.Series, smallest_effect: float) -> str:
    """One level's verdict against the baseline, with its interval and seeds."""
    seeds = f"{int(row['seeds'])} seeds"
    if row["verdict"] == "no runs":
        return f"{row['level']}: no finished runs"
    interval = interval_cell(row["delta"], row["ci_low"], row["ci_high"])
    if row["verdict"] == BETTER:
        return f"**{row['level']} better**: Δ {interval}, {seeds}"
    if row["verdict"] == WORSE:
        return f"**{row['level']} worse**: Δ {interval}, {seeds}"
    if row["verdict"] == EQUIVALENT:
        return (f"{row['level']} equivalent (Δ {interval}, inside ±{smallest_effect:g}), "
                f"{seeds}")
    if pd.isna(row["ci_low"]):
        return f"{row['level']}: undecided (Δ {row['delta']:+.4f}, too few seeds), {seeds}"
    bounds = f"Δ within [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        return (f"{row['level']}: undecided, not significant after the Holm and look "
                f"corrections ({bounds}), {seeds}")
    return f"{row['level']}: no detectable difference ({bounds}), {seeds}"


def dataset_answers(frame: pd.DataFrame, dataset: str, smallest_effect: float) -> list[str]:
    """The answer lines of one dataset, one per factor, in the grid's order."""
    rows = frame[frame["dataset"] == dataset]
    lines = []
    for factor, group in rows.groupby("factor", sort=False):
        baseline = group["baseline_level"].iloc[0]
        against = "the baseline CNN" if factor == CNN_VS_DENSE else f"baseline {baseline}"
        levels = "; ".join(level_answer(row, smallest_effect) for _, row in group.iterrows())
        lines.append(f"{factor_title(factor)} (vs {against}): {levels}")
    return lines
