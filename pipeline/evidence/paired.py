"""Paired intervals for the accuracy difference between a variant and its baseline.

An ablation trains a few seeds of a variant A and of the baseline B and scores both on one
dataset's shared test images; seed s of A is paired with seed s of B. The estimate
Δ̂ = mean over seeds of acc_A(s) − acc_B(s) has two sources of noise (docs/statistics.md),
read as a crossed seeds × images design, d(s,i) = c_A − c_B:

- seeds: run-to-run noise, estimated from the per-seed differences D_s. Their variance
  includes the run-by-image noise (an image flipping from run to run), so s²_seed / S already
  covers the interaction term of Var(Δ̂).
- images: the test set is one sample shared by every seed and variant, so this part does not
  average out over seeds. It is estimated from the variance of the per-image mean differences
  d̄(i), less the run-by-image noise they also carry (otherwise counted twice; that made the
  interval far too wide when run-to-run flips dominate, as on Fashion-like data).

With 2..5 seeds the seed variance is pooled over the comparisons of one dataset (the limma
view with the prior taken as the pool; comparisons sharing the baseline runs are pooled
through a model × seed fit, so the baseline's noise is counted once), checked against the
baseline's and the variants' run variances estimated apart (the larger is used), and the
degrees of freedom come from Welch–Satterthwaite. The intervals cover the population
difference: the expectation over seeds and over images alike.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

_COUNT_NAMES = ("both", "only_variant", "only_baseline", "neither")


@dataclass(frozen=True, eq=False)
class PairTable:
    """Per-seed 2x2 counts of one comparison, plus the image-level variance it needs.

    Row s of each count array is seed s: images both runs got right, only the variant, only
    the baseline, neither. `image_variance` is the sample variance over images of the
    per-image mean difference d̄(i) = mean_s (c_A(s,i) − c_B(s,i)); it is all the table keeps
    from the image vectors, so the table stays small.
    """

    both: np.ndarray
    only_variant: np.ndarray
    only_baseline: np.ndarray
    neither: np.ndarray
    images: int
    image_variance: float

    def __post_init__(self) -> None:
        for name in _COUNT_NAMES:
            counts = np.array(getattr(self, name), dtype=np.int64).reshape(-1)
            counts.flags.writeable = False
            object.__setattr__(self, name, counts)
        lengths = {len(getattr(self, name)) for name in _COUNT_NAMES}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"count arrays need one common, non-zero length; got {lengths}")
        totals = self.both + self.only_variant + self.only_baseline + self.neither
        if not np.all(totals == self.images):
            raise ValueError(f"counts per seed {totals.tolist()} do not add up to {self.images}")

    @classmethod
    def from_correct(cls, variant: np.ndarray, baseline: np.ndarray) -> PairTable:
        """Table from boolean correctness arrays of shape (seeds, images), row s = seed s."""
        variant = np.atleast_2d(np.asarray(variant, dtype=bool))
        baseline = np.atleast_2d(np.asarray(baseline, dtype=bool))
        if variant.shape != baseline.shape or variant.ndim != 2:
            raise ValueError(f"shapes differ or are not 2-D: {variant.shape}, {baseline.shape}")
        seeds, images = variant.shape
        both = np.count_nonzero(variant & baseline, axis=1)
        variant_right = np.count_nonzero(variant, axis=1)
        baseline_right = np.count_nonzero(baseline, axis=1)
        per_image = np.count_nonzero(variant, axis=0) - np.count_nonzero(baseline, axis=0)
        image_means = per_image / seeds
        return cls(
            both=both,
            only_variant=variant_right - both,
            only_baseline=baseline_right - both,
            neither=images - variant_right - baseline_right + both,
            images=images,
            image_variance=float(np.var(image_means, ddof=1)) if images > 1 else 0.0,
        )

    @property
    def seeds(self) -> int:
        return len(self.both)

    @property
    def deltas(self) -> np.ndarray:
        """Per-seed accuracy differences acc_A(s) − acc_B(s)."""
        return (self.only_variant - self.only_baseline) / self.images

    @property
    def delta(self) -> float:
        return float(np.mean(self.deltas))


@dataclass(frozen=True)
class Interval:
    """Estimate, two-sided t interval, standard error, df and p-value of Δ = 0."""

    delta: float
    low: float
    high: float
    standard_error: float
    degrees_of_freedom: float
    p_value: float
    seeds: int


def _seed_sum_of_squares(table: PairTable) -> float:
    """Sum of squared deviations of the per-seed deltas from their mean."""
    return float(np.sum((table.deltas - table.delta) ** 2))


def _baseline_correct(table: PairTable) -> np.ndarray:
    return table.both + table.only_baseline


def _variant_correct(table: PairTable) -> np.ndarray:
    return table.both + table.only_variant


def _baseline_groups(tables: Sequence[PairTable]) -> list[list[PairTable]]:
    """Tables grouped by shared baseline runs, the one with most seeds first in each group.

    Two tables share the baseline when its per-seed correct counts agree on their common
    seeds (with adaptive replication a decided variant keeps the baseline's first seeds).
    """
    groups: list[list[PairTable]] = []
    for table in sorted(tables, key=lambda table: -table.seeds):
        counts = _baseline_correct(table)
        for group in groups:
            leader = group[0]
            if leader.images == table.images and np.array_equal(
                _baseline_correct(leader)[: table.seeds], counts
            ):
                group.append(table)
                break
        else:
            groups.append([table])
    return groups


def _run_residuals(group: list[PairTable]) -> tuple[float, int]:
    """Residual sum of squares and df of the group's run accuracies, model + seed effects.

    Cells are (model, seed) accuracies: the shared baseline once, then each table's variant.
    """
    leader = group[0]
    models = [np.zeros(leader.seeds, dtype=int)]
    seeds = [np.arange(leader.seeds)]
    accuracies = [_baseline_correct(leader) / leader.images]
    for number, table in enumerate(group, start=1):
        models.append(np.full(table.seeds, number))
        seeds.append(np.arange(table.seeds))
        accuracies.append(_variant_correct(table) / table.images)
    model, seed, accuracy = (np.concatenate(parts) for parts in (models, seeds, accuracies))
    design = np.zeros((len(accuracy), len(group) + leader.seeds))
    design[np.arange(len(accuracy)), model] = 1.0
    later_seed = seed > 0
    design[np.flatnonzero(later_seed), len(group) + seed[later_seed]] = 1.0
    coefficients = np.linalg.lstsq(design, accuracy)[0]
    residuals = accuracy - design @ coefficients
    return float(residuals @ residuals), len(accuracy) - int(np.linalg.matrix_rank(design))


def pooled_seed_variance(tables: Sequence[PairTable]) -> tuple[float, float]:
    """Pooled variance of per-seed deltas over comparisons and its degrees of freedom.

    For comparisons with their own baselines this is the sum of squared deviations of the
    per-seed deltas over the sum of (S_k − 1); one-seed comparisons add nothing. Comparisons
    that share the baseline runs (every variant against the one baseline of a report) are not
    independent: their per-seed deltas all carry the baseline's seed noise, so that sum would
    claim K·(S − 1) degrees of freedom while holding about a third of them (K = 8), and the
    intervals undercover. For such a group the run accuracies are fitted with model and seed
    (pairing) effects instead: the delta variance is twice the residual mean square, the
    baseline counted once, with df (models − 1)(S − 1) when balanced. For a single pair the
    two estimates are identical. Like any pool this assumes comparable run-to-run noise: a
    variant with a much lower error rate than the baseline is usually steadier, and then its
    own interval comes out somewhat too narrow. Without any degree of freedom: NaN.
    """
    residual_sum, degrees = 0.0, 0
    for group in _baseline_groups(tables):
        group_sum, group_degrees = _run_residuals(group)
        residual_sum, degrees = residual_sum + group_sum, degrees + group_degrees
    if degrees == 0:
        return math.nan, 0.0
    return 2 * residual_sum / degrees, float(degrees)


def _moderated_seed_variance(
    table: PairTable, pool: tuple[float, float] | None
) -> tuple[float, float]:
    """The comparison's own seed variance shrunk toward the pool, with its df.

    (d_pool·s²_pool + d_own·s²_own) / (d_pool + d_own); the pool alone when the table has one
    seed, its own variance alone without a pool, NaN when neither has a degree of freedom.
    """
    own_degrees = table.seeds - 1
    pool_variance, pool_degrees = pool if pool is not None else (math.nan, 0.0)
    if pool_degrees <= 0 or math.isnan(pool_variance):
        pool_variance, pool_degrees = 0.0, 0.0
    degrees = own_degrees + pool_degrees
    if degrees == 0:
        return math.nan, 0.0
    own_sum = _seed_sum_of_squares(table)
    return (pool_degrees * pool_variance + own_sum) / degrees, float(degrees)


def _interaction_variance(table: PairTable) -> float:
    """Run-by-image mean square of the seeds × images table; NaN with one seed.

    Residual sum of squares = total − seeds − images, all from sufficient statistics:
    Σ d² is the number of discordant images, Σ_s (D_s − Δ̂)² and Var_i d̄(i) are in the table.
    """
    seeds, images = table.seeds, table.images
    if seeds < 2 or images < 2:
        return math.nan
    discordant = float(np.sum(table.only_variant + table.only_baseline))
    total = discordant - seeds * images * table.delta**2
    seed_part = images * _seed_sum_of_squares(table)
    image_part = seeds * (images - 1) * table.image_variance
    residual = max(0.0, total - seed_part - image_part)
    return residual / ((seeds - 1) * (images - 1))


def _image_variance_component(table: PairTable) -> float:
    """Var(Δ̂) share of the shared test images: (Var_i d̄(i) − MS_run×image / S) / N.

    The run-by-image noise is already in the seed term, so it is taken out here. With one
    seed it cannot be separated and stays in (the interval is then slightly conservative).
    """
    noise = _interaction_variance(table)
    noise_in_means = 0.0 if math.isnan(noise) else noise / table.seeds
    return max(0.0, table.image_variance - noise_in_means) / table.images


def _satterthwaite(variances: Sequence[float], degrees: Sequence[float]) -> float:
    """Welch–Satterthwaite degrees of freedom of a sum of independent variance estimates."""
    denominator = sum(
        variance**2 / freedom
        for variance, freedom in zip(variances, degrees, strict=True)
        if variance > 0
    )
    if denominator == 0:
        return math.inf
    return sum(variances) ** 2 / denominator


def _t_interval(
    delta: float, standard_error: float, degrees: float, level: float, seeds: int
) -> Interval:
    """Δ̂ ± t quantile · SE and the two-sided t-test p-value of Δ = 0.

    SE = 0 (e.g. identical predictions) gives the point [Δ̂, Δ̂] and p = 1 for Δ̂ = 0, else 0;
    a NaN SE gives NaN bounds and p.
    """
    if math.isnan(standard_error) or math.isnan(delta):
        return Interval(delta, math.nan, math.nan, math.nan, math.nan, math.nan, seeds)
    if standard_error == 0:
        p_value = 1.0 if delta == 0 else 0.0
        return Interval(delta, delta, delta, 0.0, degrees, p_value, seeds)
    half_width = float(stats.t.ppf((1 + level) / 2, degrees)) * standard_error
    p_value = float(2 * stats.t.sf(abs(delta) / standard_error, degrees))
    return Interval(
        delta, delta - half_width, delta + half_width, standard_error, degrees, p_value, seeds
    )


def interval_at(interval: Interval, level: float) -> Interval:
    """The same estimate with bounds rebuilt at another level from its delta, SE and df."""
    rebuilt = _t_interval(
        interval.delta,
        interval.standard_error,
        interval.degrees_of_freedom,
        level,
        interval.seeds,
    )
    return dataclasses.replace(interval, low=rebuilt.low, high=rebuilt.high)


def _interval_with_seed_variance(
    table: PairTable, seed_variance: float, seed_degrees: float, level: float
) -> Interval:
    """SE² = seed variance / S + image component; Satterthwaite df (image part N − 1)."""
    if math.isnan(seed_variance):
        return _t_interval(table.delta, math.nan, math.nan, level, table.seeds)
    parts = [seed_variance / table.seeds, _image_variance_component(table)]
    degrees = _satterthwaite(parts, [seed_degrees, table.images - 1])
    return _t_interval(table.delta, math.sqrt(sum(parts)), degrees, level, table.seeds)


def paired_interval(
    table: PairTable, pool: tuple[float, float] | None = None, level: float = 0.95
) -> Interval:
    """Interval for Δ covering seed noise and the finite shared test set.

    SE² = s²_seed / S + image component (see `_image_variance_component`), where s²_seed is
    the table's own per-seed delta variance moderated with `pool`, a (variance, df) estimate
    from independent data (not including this table); df by Satterthwaite, the image part
    with N − 1. One seed and no pool: the seed variance is unknown, so bounds and p are NaN.
    """
    seed_variance, seed_degrees = _moderated_seed_variance(table, pool)
    return _interval_with_seed_variance(table, seed_variance, seed_degrees, level)


def _spread(accuracies: Sequence[np.ndarray]) -> tuple[float, int]:
    """Sum of squared deviations of each model's run accuracies from its mean, and its df."""
    squares = sum(float(np.sum((values - values.mean()) ** 2)) for values in accuracies)
    return squares, sum(len(values) - 1 for values in accuracies)


def split_seed_variance(group: Sequence[PairTable]) -> tuple[float, float]:
    """Delta variance s²_baseline + s²_variants of a group sharing its baseline, with its df.

    The baseline's run variance and the variants' (pooled over the variants) are estimated
    apart, so a baseline noisier or steadier than its variants is not averaged away as in the
    pool; df by Welch–Satterthwaite. NaN without a degree of freedom on either side.
    """
    leader = group[0]
    base_squares, base_degrees = _spread([_baseline_correct(leader) / leader.images])
    variant_squares, variant_degrees = _spread(
        [_variant_correct(table) / table.images for table in group])
    if base_degrees == 0 or variant_degrees == 0:
        return math.nan, 0.0
    parts = [base_squares / base_degrees, variant_squares / variant_degrees]
    return sum(parts), _satterthwaite(parts, [base_degrees, variant_degrees])


def seed_noise_homogeneity(tables: Sequence[PairTable]) -> tuple[float, int]:
    """Bartlett's test that every model of the tables (baselines once) has one run variance.

    The pool assumes it; p-value (NaN when fewer than two models have two or more seeds, or
    a model's runs are identical) and the number of models tested.
    """
    samples = {}
    for group in _baseline_groups(tables):
        leader = group[0]
        samples[id(leader), "baseline"] = _baseline_correct(leader) / leader.images
        samples.update({(id(table), "variant"): _variant_correct(table) / table.images
                        for table in group})
    tested = [values for values in samples.values() if len(values) >= 2]
    if len(tested) < 2 or any(np.var(values) == 0 for values in tested):
        return math.nan, len(tested)
    return float(stats.bartlett(*tested).pvalue), len(tested)


def seed_variances(tables: Sequence[PairTable]) -> dict[int, tuple[float, float]]:
    """id(table) -> the seed variance and df its interval uses.

    The dataset's pool, unless the table's baseline group gives a larger split estimate
    (`split_seed_variance`): then that, with its fewer df. The pool alone undercovers when
    the baseline's runs are much noisier than its variants' (docs/statistics.md).
    """
    pool = pooled_seed_variance(tables)
    chosen = {}
    for group in _baseline_groups(tables):
        split = split_seed_variance(group)
        if not math.isnan(split[0]) and not math.isnan(pool[0]):
            split = (max(split[0], pool[0]), min(split[1], pool[1]))
        use = pool if math.isnan(split[0]) else split
        chosen.update({id(table): use for table in group})
    return chosen


def compare_dataset(tables: Mapping[str, PairTable], level: float = 0.95) -> dict[str, Interval]:
    """Each comparison's interval, its seed variance from `seed_variances` of the dataset.

    The pool already holds each table's own seed deviations, so moderating with them again
    would count them twice; it is used as is.
    """
    variances = seed_variances(list(tables.values()))
    return {
        name: _interval_with_seed_variance(table, *variances[id(table)], level)
        for name, table in tables.items()
    }


def difference_of_deltas(first: Interval, second: Interval, level: float = 0.95) -> Interval:
    """Interval for Δ₁ − Δ₂ of two independent comparisons (e.g. on different datasets).

    SE = sqrt(SE₁² + SE₂²), Satterthwaite df; `seeds` is the smaller of the two.
    """
    delta = first.delta - second.delta
    seeds = min(first.seeds, second.seeds)
    parts = [first.standard_error**2, second.standard_error**2]
    if any(math.isnan(part) for part in parts):
        return _t_interval(delta, math.nan, math.nan, level, seeds)
    degrees = _satterthwaite(parts, [first.degrees_of_freedom, second.degrees_of_freedom])
    return _t_interval(delta, math.sqrt(sum(parts)), degrees, level, seeds)


def rank_agreement(first: Sequence[float], second: Sequence[float]) -> tuple[float, float]:
    """Spearman rank correlation of two orderings (e.g. variants on two datasets), p-value."""
    result = stats.spearmanr(first, second)
    return float(result.statistic), float(result.pvalue)


def image_component(table: PairTable) -> float:
    """Var(Δ̂) share of the shared test images: the part no number of seeds removes."""
    return _image_variance_component(table)
