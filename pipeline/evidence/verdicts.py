"""Verdicts for a report's comparisons, drawn from intervals adjusted for the family and looks.

A report makes m comparisons and adaptive replication looks at the data up to K times, so a
verdict is read off the Bonferroni-level interval at confidence 1 − alpha / (K·m): **better**
exactly when that interval lies above 0, **worse** when below. Its p-value counterpart is the
Bonferroni-adjusted p = min(1, m·p) below alpha / K. Why Bonferroni and not Holm, and why the
simultaneous coverage holds, is in docs/statistics.md ("Intervals that agree with verdicts").
Equivalence is the TOST reading: the (1 − 2·alpha / K) interval inside ±smallest_effect.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np
from statsmodels.stats.multitest import multipletests

from pipeline.evidence.paired import Interval, interval_at

BETTER, WORSE, EQUIVALENT, UNDECIDED = "better", "worse", "equivalent", "undecided"

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Verdict(Interval):
    """A comparison's 95% interval, its adjusted p and interval, and the verdict they give."""

    p_adjusted: float
    verdict: str
    adjusted_level: float
    adjusted_low: float
    adjusted_high: float


def _interval_fields(interval: Interval) -> dict[str, object]:
    """The Interval fields of an interval (or of a Verdict, without its extra fields)."""
    return {field.name: getattr(interval, field.name) for field in fields(Interval)}


def bonferroni(p_values: Sequence[float]) -> list[float]:
    """Bonferroni-adjusted p-values; NaN inputs stay NaN and are left out of the family."""
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, math.nan)
    present = ~np.isnan(values)
    if present.any():
        adjusted[present] = multipletests(values[present], method="bonferroni")[1]
    return adjusted.tolist()


def adjusted_level(alpha: float, looks: int = 1, family: int = 1) -> float:
    """Confidence of the interval a verdict is read from: 1 − alpha / (looks · family)."""
    return 1 - alpha / (looks * max(family, 1))


def verdict(
    interval: Interval,
    smallest_effect: float,
    *,
    alpha: float = 0.05,
    looks: int = 1,
    family: int = 1,
) -> str:
    """better / worse when the adjusted interval clears 0, equivalent by TOST, else undecided."""
    if math.isnan(interval.delta) or math.isnan(interval.standard_error):
        return UNDECIDED
    adjusted = interval_at(interval, adjusted_level(alpha, looks, family))
    if adjusted.low > 0:
        return BETTER
    if adjusted.high < 0:
        return WORSE
    equivalence = interval_at(interval, 1 - 2 * alpha / looks)
    if -smallest_effect < equivalence.low and equivalence.high < smallest_effect:
        return EQUIVALENT
    return UNDECIDED


def decide_all(
    intervals: Mapping[Key, Interval],
    smallest_effect: float,
    alpha: float = 0.05,
    looks: int = 1,
) -> dict[Key, Verdict]:
    """Every interval's verdict, the family being all given intervals that have a p-value."""
    keys = list(intervals)
    adjusted = bonferroni([intervals[key].p_value for key in keys])
    family = sum(not math.isnan(intervals[key].p_value) for key in keys)
    level = adjusted_level(alpha, looks, family)
    decided = {}
    for key, p_adjusted in zip(keys, adjusted, strict=True):
        wide = interval_at(intervals[key], level)
        decided[key] = Verdict(
            **_interval_fields(intervals[key]),
            p_adjusted=p_adjusted,
            verdict=verdict(intervals[key], smallest_effect, alpha=alpha, looks=looks,
                            family=family),
            adjusted_level=level,
            adjusted_low=wide.low,
            adjusted_high=wide.high,
        )
    return decided
