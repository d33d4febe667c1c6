"""The accuracy interval of a reference run, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from pipeline.evidence.accuracy import accuracy_interval


def test_one_seed_is_the_normal_binomial_interval():
    found = accuracy_interval([0.9913], 10_000)
    low, high = proportion_confint(9913, 10_000, alpha=0.05, method="normal")
    assert found.test_set_only and found.seeds == 1
    assert (found.low, found.high) == pytest.approx((low, high), abs=1e-12)


def test_many_images_leave_the_t_interval_over_seeds():
    accuracies = [0.9897, 0.9902, 0.9889]
    found = accuracy_interval(accuracies, 10**12)
    low, high = stats.t.interval(0.95, 2, loc=np.mean(accuracies),
                                 scale=stats.sem(accuracies))
    assert not found.test_set_only
    assert (found.low, found.high) == pytest.approx((low, high), rel=1e-6)


def test_both_parts_widen_the_interval():
    accuracies = [0.8965, 0.8930, 0.8979]
    both = accuracy_interval(accuracies, 10_000)
    seeds_only = accuracy_interval(accuracies, 10**12)
    assert both.low < seeds_only.low and both.high > seeds_only.high
    assert both.mean == pytest.approx(np.mean(accuracies))


def test_bounds_stay_between_zero_and_one():
    found = accuracy_interval([0.9600, 0.9900], 10_000)  # 1 df: a t quantile of 12.7
    assert found.low > 0.0 and found.high == 1.0
