""""Answers at a glance": one line per factor and dataset, written from the verdicts.

A level is called better or worse only when its verdict says so, and the verdict is read from
the adjusted interval the line shows; otherwise the line gives the interval ("no detectable
difference") or says "equivalent"; every answer shows its seeds.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Project
from pipeline.evidence.verdicts import BETTER, EQUIVALENT, WORSE
from pipeline.grid.comparisons import CNN_VS_DENSE
from pipeline.grid.replication import looks_of
from pipeline.report.markdown import interval_cell
from pipeline.report.recipe_gap import recipe_steps
from pipeline.specs.factors import TITLES
from pipeline.specs.grid import GridSpec


def factor_title(factor: str) -> str:
    if factor == CNN_VS_DENSE:
        return "CNN vs Dense"
    return " × ".join(TITLES.get(name, name) for name in factor.split("×"))


def adjusted_text(row: pd.Series) -> str:
    """`adjusted 99.64% [+0.0012, +0.0081]`: the interval the verdict is read from."""
    return (f"adjusted {100 * row['adj_level']:.4g}% "
            f"[{row['adj_low']:+.4f}, {row['adj_high']:+.4f}]")


def level_answer(row: pd.Series, smallest_effect: float, looks: int = 1) -> str:
    """One level's verdict against the baseline, drawn from its adjusted interval (shown with
    the 95% one) and its seeds; `looks` > 1 when seeds were added adaptively."""
    seeds = f"{int(row['seeds'])} seeds"
    if row["verdict"] == "no runs":
        return f"{row['level']}: no finished runs"
    interval = interval_cell(row["delta"], row["ci_low"], row["ci_high"])
    if row["verdict"] in (BETTER, WORSE):
        return f"**{row['level']} {row['verdict']}**: Δ {interval}, {adjusted_text(row)}, {seeds}"
    if row["verdict"] == EQUIVALENT:
        return (f"{row['level']} equivalent (Δ {interval}, inside ±{smallest_effect:g}), "
                f"{seeds}")
    if pd.isna(row["ci_low"]):
        return f"{row['level']}: undecided (Δ {row['delta']:+.4f}, too few seeds), {seeds}"
    bounds = f"Δ within [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        corrections = "the comparisons and looks" if looks > 1 else "the comparisons"
        return (f"{row['level']}: undecided, the 95% interval clears 0 but the one adjusted "
                f"for {corrections} does not ({bounds}; {adjusted_text(row)}), {seeds}")
    return f"{row['level']}: no detectable difference ({bounds}), {seeds}"


def dataset_answers(frame: pd.DataFrame, dataset: str, smallest_effect: float,
                    looks: int = 1) -> list[str]:
    """The answer lines of one dataset, one per factor, in the grid's order."""
    rows = frame[frame["dataset"] == dataset]
    lines = []
    for factor, group in rows.groupby("factor", sort=False):
        baseline = group["baseline_level"].iloc[0]
        against = "the baseline CNN" if factor == CNN_VS_DENSE else f"baseline {baseline}"
        levels = "; ".join(level_answer(row, smallest_effect, looks)
                           for _, row in group.iterrows())
        lines.append(f"{factor_title(factor)} (vs {against}): {levels}")
    return lines


def answers_section(project: Project, grid: GridSpec, frame: pd.DataFrame,
                    variants: pd.DataFrame, baselines: dict[str, str],
                    split: tuple[int, int]) -> list[str]:
    """Per dataset: one answer line per factor, then the baseline against its floor."""
    smallest = project.params.evidence.smallest_effect
    lines = ["## Answers at a glance", ""]
    floors = project.params.active.baseline_floors
    steps = recipe_steps(grid, project.params.training_recipe(), split)
    explained = {step.dataset for step in steps}
    for dataset in grid.datasets:
        lines += [f"**{dataset}**", ""]
        lines += [f"- {answer}" for answer
                  in dataset_answers(frame, dataset, smallest, looks_of(grid))]
        lines += [floor_line(variants, baselines.get(dataset), floors.get(dataset),
                             dataset in explained), ""]
    return lines


def floor_line(variants: pd.DataFrame, baseline_id: str | None, floor: float | None,
               explained: bool = False) -> str:
    """The baseline's accuracy against the profile's floor; a miss points to the section that
    measures the recipe differences when the grid has one."""
    rows = variants[(variants["variant_id"] == baseline_id) & variants["accuracy_mean"].notna()]
    if rows.empty:
        return "- Baseline: no finished runs"
    base = rows.iloc[0]
    text = (f"- Baseline CNN test accuracy {base['accuracy_mean']:.4f} ± "
            f"{base['accuracy_sd']:.4f} ({int(base['seeds'])} seeds)")
    if floor is not None:
        verdict = "meets" if base["accuracy_mean"] >= floor else "**misses**"
        text += f" ({verdict} this profile's floor of {floor}"
        if explained and base["accuracy_mean"] < floor:
            text += "; why: see \"The baseline's recipe against the textbooks'\""
        text += ")"
    return text
