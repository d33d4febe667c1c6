"""An interval for one network's test accuracy over seeds and the finite test set.

SE² = s²_seed / S + p(1 − p) / N: the spread of the seeds' accuracies plus the binomial
variance of a score on N test images; a t interval with Satterthwaite degrees of freedom.
With one seed only the test-set part is known, and the interval says so. Bounds are clipped
to [0, 1], where an accuracy lives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class AccuracyInterval:
    mean: float
    low: float
    high: float
    seeds: int
    test_set_only: bool  # True with one seed: the seed-to-seed spread is unknown


def accuracy_interval(
    accuracies: Sequence[float], images: int, level: float = 0.95
) -> AccuracyInterval:
    values = np.asarray(accuracies, dtype=float)
    mean = float(values.mean())
    binomial = mean * (1.0 - mean) / images
    if len(values) < 2:
        half = stats.norm.ppf(0.5 + level / 2) * math.sqrt(binomial)
        return AccuracyInterval(mean, *clipped(mean, half), len(values), True)
    seed_part = float(values.var(ddof=1)) / len(values)
    variance = seed_part + binomial
    if variance == 0.0:
        return AccuracyInterval(mean, mean, mean, len(values), False)
    degrees = variance**2 / (seed_part**2 / (len(values) - 1) + binomial**2 / (images - 1))
    half = stats.t.ppf(0.5 + level / 2, degrees) * math.sqrt(variance)
    return AccuracyInterval(mean, *clipped(mean, half), len(values), False)


def clipped(mean: float, half: float) -> tuple[float, float]:
    return max(0.0, mean - half), min(1.0, mean + half)
