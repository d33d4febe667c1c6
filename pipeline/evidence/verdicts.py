"""Verdicts for a report's comparisons: Holm across the report, then better/worse/equivalent.

A report makes many comparisons, so p-values are Holm-adjusted over the whole family. Adaptive
replication looks at the data several times, so each look gets alpha / looks (Bonferroni).
Equivalence is the TOST reading of the interval: the (1 − 2·alpha) interval inside
±smallest_effect.
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
    """A comparison's interval with its Holm-adjusted p-value and verdict."""

    p_adjusted: float
    verdict: str


def _interval_fields(interval: Interval) -> dict[str, object]:
    """The Interval fields of an interval (or of a Verdict, without its extra fields)."""
    return {field.name: getattr(interval, field.name) for field in fields(Interval)}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values; NaN inputs stay NaN and are left out of the family."""
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, math.nan)
    present = ~np.isnan(values)
    if present.any():
        adjusted[present] = multipletests(values[present], method="holm")[1]
    return adjusted.tolist()


def verdict(
    interval: Interval,
    p_adjusted: float,
    smallest_effect: float,
    alpha: float = 0.05,
    looks: int = 1,
) -> str:
    """better / worse when significant at alpha / looks, equivalent by TOST, else undecided."""
    per_look = alpha / looks
    if math.isnan(p_adjusted) or math.isnan(interval.delta):
        return UNDECIDED
    if p_adjusted < per_look and interval.delta > 0:
        return BETTER
    if p_adjusted < per_look and interval.delta < 0:
        return WORSE
    equivalence = interval_at(interval, 1 - 2 * per_look)
    if -smallest_effect < equivalence.low and equivalence.high < smallest_effect:
        return EQUIVALENT
    return UNDECIDED


def decide_all(
    intervals: Mapping[Key, Interval],
    smallest_effect: float,
    alpha: float = 0.05,
    looks: int = 1,
) -> dict[Key, Verdict]:
    """Holm over all given intervals (the report's family), then each one's verdict."""
    keys = list(intervals)
    adjusted = holm([intervals[key].p_value for key in keys])
    return {
        key: Verdict(
            **_interval_fields(intervals[key]),
            p_adjusted=p_adjusted,
            verdict=verdict(intervals[key], p_adjusted, smallest_effect, alpha, looks),
        )
        for key, p_adjusted in zip(keys, adjusted, strict=True)
    }
