"""Size against accuracy: the variants no other variant beats with fewer parameters or FLOPs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from pipeline.report.figures import accuracy_vs_params, pareto_figure
from pipeline.report.markdown import accuracy_cell, compact, markdown_table

if TYPE_CHECKING:
    from pipeline.report.data import ReportData

COSTS = ("params", "flops")


def pareto_front(rows: pd.DataFrame, cost: str) -> pd.DataFrame:
    """Variants whose mean accuracy beats every variant that costs no more (cheapest first)."""
    done = rows[rows["accuracy_mean"].notna()].sort_values(
        [cost, "accuracy_mean"], ascending=[True, False], kind="stable")
    front, best = [], float("-inf")
    for index, row in done.iterrows():
        if row["accuracy_mean"] > best:
            front.append(index)
            best = row["accuracy_mean"]
    return done.loc[front]


def fronts_of(variants: pd.DataFrame, datasets: list[str]) -> dict[tuple[str, str],
                                                                     pd.DataFrame]:
    return {(dataset, cost): pareto_front(variants[variants["dataset"] == dataset], cost)
            for dataset in datasets for cost in COSTS}


def pareto_section(fronts: dict[tuple[str, str], pd.DataFrame], datasets: list[str],
                   figure: str) -> list[str]:
    lines = ["## Size against accuracy (Pareto fronts)", "",
             "A variant is on the front when no variant with fewer parameters (or FLOPs) has a "
             "higher mean test accuracy; accuracies are mean ± sd over seeds, so neighbours on "
             "the front may not differ beyond their spread (see the verdicts).", "",
             f"![pareto]({figure})", ""]
    for dataset in datasets:
        for cost in COSTS:
            rows = [[row["variant"], compact(row["params"]), compact(row["flops"]),
                     accuracy_cell(row)] for _, row in fronts[(dataset, cost)].iterrows()]
            lines += [f"### {dataset}: front by {cost}", "", markdown_table(
                ["variant", "params", "FLOPs", "test accuracy"], rows), ""]
    return lines


def sizes_section(data: ReportData) -> list[str]:
    """Pareto fronts by parameters and FLOPs, and accuracy against parameters."""
    datasets = list(data.grid.datasets)
    fronts = fronts_of(data.variants, datasets)
    pareto = pareto_figure(data.variants, fronts, datasets, data.figures_dir / "pareto.png")
    scatter = accuracy_vs_params(data.variants, datasets,
                                 data.figures_dir / "accuracy_vs_params.png")
    return (pareto_section(fronts, datasets, f"figures/{pareto.name}")
            + ["### Accuracy against parameter count, every variant", "",
               f"![accuracy vs params](figures/{scatter.name})", ""])
