"""Simulated correctness of paired runs, to check the coverage and power of the evidence.

The model of docs/statistics.md ("Checking it: simulation"): model m, seed s, image i is right
with probability sigmoid(centre + difficulty_i + affinity_{m,i} + quality_{m,s} + shift_m).

- difficulty_i: drawn once per simulated dataset, shared by every model and seed, so the
  finite test set is a noise source that does not average out over seeds;
- affinity_{m,i}: drawn once per model and dataset, shared by that model's seeds: two models
  of equal accuracy still get different images right (a true image component);
- quality_{m,s}: per-run shift (seed noise), sized so one run's accuracy varies by about
  `seed_sd` together with the per-image-per-run Bernoulli draw (which alone makes two runs of
  one model disagree on some images, and sets a floor under the seed sd);
- shift_m: the variant's logit shift, solved so that the population accuracy difference,
  the expectation over images and runs, equals `effect`. That population value is the true Δ
  an interval should cover; a finite test set's own difference scatters around it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

LOGIT_BRACKET = 40.0
QUADRATURE_NODES = 400


@dataclass(frozen=True)
class Calibration:
    """Logit centre, total logit sd (images, affinity and runs) and per-run quality sd."""

    centre: float
    spread: float
    quality_sd: float


@functools.cache
def normal_quadrature() -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite nodes and weights for E[f(Z)], Z standard normal (scipy's roots).

    400 nodes give the logistic-normal expectations below to ~1e-14, a thousand times faster
    than adaptive quadrature, which matters inside the root finding of `calibrate`.
    """
    nodes, weights = special.roots_hermitenorm(QUADRATURE_NODES)
    return nodes, weights / weights.sum()


def expected_of(
    function: Callable[[np.ndarray], np.ndarray], centre: float, spread: float
) -> float:
    """E[function(X)], X ~ Normal(centre, spread)."""
    nodes, weights = normal_quadrature()
    return float(weights @ function(centre + spread * nodes))


def expected_accuracy(centre: float, spread: float) -> float:
    """Population accuracy E[sigmoid(X)], X ~ Normal(centre, spread)."""
    return expected_of(special.expit, centre, spread)


def expected_flip_variance(centre: float, spread: float) -> float:
    """E[p(1 − p)]: Bernoulli variance per image and run; also d accuracy / d logit shift."""
    return expected_of(lambda logit: special.expit(logit) * special.expit(-logit), centre, spread)


def centre_for(accuracy: float, spread: float) -> float:
    """Logit centre giving the population accuracy `accuracy` at this spread."""
    return optimize.brentq(
        lambda centre: expected_accuracy(centre, spread) - accuracy,
        -LOGIT_BRACKET,
        LOGIT_BRACKET,
    )


@functools.lru_cache(maxsize=64)
def calibrate(
    baseline_accuracy: float, base_logit_sd: float, affinity_sd: float, seed_sd: float, images: int
) -> Calibration:
    """Centre and quality sd for a baseline accuracy and a run-to-run accuracy sd.

    The quality shift adds (E[p(1−p)]·quality_sd)² to a run's accuracy variance on top of the
    Bernoulli part E[p(1−p)] / images; it is 0 when the Bernoulli part alone reaches seed_sd.
    """
    fixed_spread = math.hypot(base_logit_sd, affinity_sd)
    flips = expected_flip_variance(centre_for(baseline_accuracy, fixed_spread), fixed_spread)
    quality_variance = max(0.0, seed_sd**2 - flips / images)
    quality_sd = math.sqrt(quality_variance) / flips
    spread = math.hypot(fixed_spread, quality_sd)
    return Calibration(centre_for(baseline_accuracy, spread), spread, quality_sd)


@functools.lru_cache(maxsize=256)
def logit_shift(calibration: Calibration, effect: float) -> float:
    """Logit shift whose population accuracy gain over the baseline is `effect`."""
    if effect == 0:
        return 0.0
    baseline = expected_accuracy(calibration.centre, calibration.spread)
    return optimize.brentq(
        lambda shift: (
            expected_accuracy(calibration.centre + shift, calibration.spread) - baseline - effect
        ),
        -LOGIT_BRACKET,
        LOGIT_BRACKET,
    )


def normal_draws(rng: np.random.Generator, sd: float, shape: int | tuple[int, ...]) -> np.ndarray:
    """Normal(0, sd) draws in float32: the simulation's arrays are large, precision is ample."""
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(sd)


def simulate_dataset(
    rng: np.random.Generator,
    images: int,
    seeds: int,
    effects: Sequence[float],
    base_logit_sd: float = 4.0,
    seed_sd: float = 0.0025,
    baseline_accuracy: float = 0.98,
    affinity_sd: float = 0.5,
    variant_seed_sd: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One dataset's runs: variants (K, seeds, images) and their shared baseline (seeds, images).

    All variants are compared with the same baseline runs and the same images, as in a report.
    `variant_seed_sd` gives the variants another run-to-run sd than the baseline's `seed_sd`
    (unequal noise); each variant's centre is then re-solved so its true Δ stays `effect`.
    """
    calibration = calibrate(baseline_accuracy, base_logit_sd, affinity_sd, seed_sd, images)
    variant = calibration if variant_seed_sd is None else calibrate(
        baseline_accuracy, base_logit_sd, affinity_sd, variant_seed_sd, images)
    models = len(effects) + 1
    centres = [calibration.centre,
               *(variant.centre + logit_shift(variant, effect) for effect in effects)]
    quality_sds = [calibration.quality_sd] + [variant.quality_sd] * len(effects)
    difficulty = normal_draws(rng, base_logit_sd, images)
    affinity = normal_draws(rng, affinity_sd, (models, images))
    quality = normal_draws(rng, 1.0, (models, seeds))
    quality *= np.asarray(quality_sds, dtype=np.float32)[:, None]
    model_logits = affinity + difficulty
    model_logits += np.asarray(centres, dtype=np.float32)[:, None]
    probabilities = model_logits[:, None, :] + quality[:, :, None]
    special.expit(probabilities, out=probabilities)
    correct = rng.random(probabilities.shape, dtype=np.float32) < probabilities
    return correct[1:], correct[0]


def simulate_correct(
    rng: np.random.Generator,
    images: int,
    seeds: int,
    base_logit_sd: float,
    seed_sd: float,
    effect: float,
    baseline_accuracy: float = 0.98,
    affinity_sd: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """One comparison: boolean (seeds, images) correctness of the variant and the baseline."""
    variants, baseline = simulate_dataset(
        rng, images, seeds, [effect], base_logit_sd, seed_sd, baseline_accuracy, affinity_sd
    )
    return variants[0], baseline
