"""Verdict tables: one row per comparison, dataset against dataset, rank agreement.

comparisons.csv keeps the 95% interval (`ci_low`, `ci_high`) and adds the interval the verdict
is read from (`adj_low`, `adj_high` at confidence `adj_level`, see pipeline.evidence.verdicts).
The rows come from pipeline.grid.comparisons (paired by seed and by test image); this module
only arranges them for comparisons.csv, metrics.json and the report.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.evidence.paired import difference_of_deltas, rank_agreement
from pipeline.evidence.verdicts import Verdict
from pipeline.grid.comparisons import CNN_VS_DENSE, Comparison
from pipeline.specs.model import ModelSpec

COLUMNS = ["dataset", "factor", "variant", "baseline", "seeds", "delta", "ci_low", "ci_high",
           "p_value", "p_adjusted", "verdict", "adj_level", "adj_low", "adj_high"]


def level_label(factor: str, model: ModelSpec) -> str:
    """A model's level of `factor`, e.g. `avg`, `5 same`, or a whole network's name."""
    if factor == CNN_VS_DENSE:
        return model.describe()
    values = []
    for name in factor.split("×"):
        value = getattr(model, name)
        values.append("-".join(map(str, value)) if isinstance(value, tuple) else str(value))
    return " ".join(values)


def comparison_frame(comparisons: list[Comparison],
                     verdicts: dict[Comparison, Verdict]) -> pd.DataFrame:
    """comparisons.csv: every comparison of the grid; those without runs say `no runs`."""
    rows = []
    for comparison in comparisons:
        found = verdicts.get(comparison)
        row = {"dataset": comparison.dataset, "factor": comparison.factor,
               "variant": comparison.variant.describe(),
               "baseline": comparison.baseline.describe(),
               "level": level_label(comparison.factor, comparison.variant),
               "baseline_level": level_label(comparison.factor, comparison.baseline),
               "variant_id": comparison.variant_id}
        if found is None:
            row.update(seeds=0, verdict="no runs")
        else:
            row.update(seeds=found.seeds, delta=found.delta, ci_low=found.low,
                       ci_high=found.high, p_value=found.p_value, p_adjusted=found.p_adjusted,
                       verdict=found.verdict, adj_level=found.adjusted_level,
                       adj_low=found.adjusted_low, adj_high=found.adjusted_high)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*COLUMNS, "level", "baseline_level", "variant_id"])


def dataset_differences(comparisons: list[Comparison], verdicts: dict[Comparison, Verdict],
                        first: str, second: str) -> pd.DataFrame:
    """Per variant present on both datasets: Δ on each and Δ_first − Δ_second with interval."""
    by_variant = {(c.dataset, c.variant): c for c in comparisons if c in verdicts}
    rows = []
    for comparison in comparisons:
        other = by_variant.get((second, comparison.variant))
        if comparison.dataset != first or comparison not in verdicts or other is None:
            continue
        one, two = verdicts[comparison], verdicts[other]
        difference = difference_of_deltas(one, two)
        level = level_label(comparison.factor, comparison.variant)
        rows.append({"factor": comparison.factor, "level": level,
                     f"delta_{first}": one.delta, f"delta_{second}": two.delta,
                     "difference": difference.delta, "ci_low": difference.low,
                     "ci_high": difference.high, "p_value": difference.p_value})
    return pd.DataFrame(rows)


def variant_rank_agreement(variants: pd.DataFrame, first: str,
                           second: str) -> tuple[float, float, int] | None:
    """Spearman's rho (and p) of mean test accuracy of the variants both datasets trained."""
    done = variants[variants["accuracy_mean"].notna()]
    one = done[done["dataset"] == first].set_index("variant")["accuracy_mean"]
    two = done[done["dataset"] == second].set_index("variant")["accuracy_mean"]
    shared = one.index.intersection(two.index)
    if len(shared) < 3:
        return None
    rho, p_value = rank_agreement(one[shared].tolist(), two[shared].tolist())
    if math.isnan(rho):
        return None
    return rho, p_value, len(shared)
