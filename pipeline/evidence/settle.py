"""What would settle an undecided comparison: the test set's floor and the seeds to add.

Var(Δ̂) = s²_seed / S + v_image (pipeline.evidence.paired): more seeds shrink the first term
only, so the verdict's interval never gets narrower than ±q·sqrt(v_image), its *floor*; an
effect inside it cannot be resolved on these test images. Above the floor, the seeds per side
for a given power come from the noncentral t (scipy), with the seed variance the comparison's
interval uses now and its degrees of freedom growing with the seeds (docs/statistics.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from pipeline.evidence.paired import Interval, PairTable, image_component

MOST_SEEDS = 200


@dataclass(frozen=True)
class Settle:
    """Floor of the verdict's interval, of the equivalence interval, and seeds per side for
    the power wanted at the observed Δ and at smallest_effect (None: out of reach)."""

    floor: float
    equivalence_floor: float
    seeds_at_delta: int | None
    seeds_at_smallest: int | None


@dataclass(frozen=True)
class SeedNoise:
    """A comparison's seed variance and df now, at `seeds` seeds, and its image component."""

    variance: float
    degrees: float
    seeds: int
    image_part: float
    images: int

    def at(self, seeds: int) -> tuple[float, float]:
        """SE of Δ̂ and its df with `seeds` seeds per side (seed df scale with seeds − 1)."""
        seed_part = self.variance / seeds
        seed_degrees = self.degrees * (seeds - 1) / max(self.seeds - 1, 1)
        parts = [(seed_part, seed_degrees), (self.image_part, self.images - 1)]
        denominator = sum(part**2 / freedom for part, freedom in parts if part > 0)
        total = seed_part + self.image_part
        return math.sqrt(total), (total**2 / denominator if denominator else math.inf)


def power_at(noise: SeedNoise, seeds: int, delta: float, level: float) -> float:
    """Chance that the two-sided t interval at `level` excludes 0 when the true Δ is `delta`."""
    standard_error, degrees = noise.at(seeds)
    critical = stats.t.ppf(1 - (1 - level) / 2, degrees)
    shift = abs(delta) / standard_error
    return float(stats.nct.sf(critical, degrees, shift) + stats.nct.cdf(-critical, degrees, shift))


def seeds_for_power(noise: SeedNoise, delta: float, level: float,
                    power: float = 0.8) -> int | None:
    """Fewest seeds per side (at least 2) with that power; None beyond MOST_SEEDS."""
    for seeds in range(2, MOST_SEEDS + 1):
        if power_at(noise, seeds, delta, level) >= power:
            return seeds
    return None


def floor_of(noise: SeedNoise, level: float) -> float:
    """Half-width of the interval at `level` with infinitely many seeds."""
    return float(stats.norm.ppf(1 - (1 - level) / 2)) * math.sqrt(noise.image_part)


def noise_of(table: PairTable, interval: Interval) -> SeedNoise:
    """The seed noise behind an interval: its SE² less the image part, times the seeds."""
    image_part = image_component(table)
    seed_part = max(0.0, interval.standard_error**2 - image_part)
    seed_degrees = _seed_degrees(seed_part, image_part, interval.degrees_of_freedom,
                                 table.images)
    return SeedNoise(seed_part * table.seeds, seed_degrees, table.seeds, image_part,
                     table.images)


def _seed_degrees(seed_part: float, image_part: float, degrees: float, images: int) -> float:
    """The seed part's df, solved back from the interval's Satterthwaite df."""
    if seed_part == 0:
        return math.inf
    rest = (seed_part + image_part) ** 2 / degrees - image_part**2 / (images - 1)
    return seed_part**2 / rest if rest > 0 else math.inf


def settle(table: PairTable, interval: Interval, level: float, equivalence_level: float,
           smallest_effect: float, power: float = 0.8) -> Settle:
    """Floors and the seeds per side that would give `power` at Δ̂ and at smallest_effect."""
    noise = noise_of(table, interval)
    floor = floor_of(noise, level)

    def seeds(delta: float) -> int | None:
        return seeds_for_power(noise, delta, level, power) if abs(delta) > floor else None

    return Settle(floor, floor_of(noise, equivalence_level), seeds(interval.delta),
                  seeds(smallest_effect))
