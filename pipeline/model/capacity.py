"""Capacity-matched controls: the baseline network resized to another network's parameters.

A variant that changes pooling, padding or kernels also changes the parameter count, so its
Δ against the baseline mixes the structural effect with capacity. Its control is the
baseline resized, from the layer plan (no TensorFlow), to within a tolerance of the
variant's parameters, then trained like any variant.

How it is resized, and why:

1. **Dense head first.** The first hidden Dense layer (the one that reads the flattened
   features) is widened or narrowed; the convolutional part, which is what the factors change,
   stays exactly the baseline's, so the control differs from the baseline in capacity only.
   Its width is solved in closed form (parameters are linear in it) and rounded.
2. **Filters where the head cannot reach.** When the baseline has no hidden Dense layer (the
   10-way output cannot be resized), or when the target needs a head narrower than the 10
   classes (a bottleneck: a different question), every conv block's filters are scaled by one
   factor, the closest to 1 that reaches the target, and the hidden width (if any) is solved
   again on top.

A target that no such resizing reaches within the tolerance raises InfeasibleControl, with
the target and the nearest counts reachable.
"""

from __future__ import annotations

from functools import lru_cache

from pipeline.model.shapes import NUM_CLASSES, InfeasibleSpec, count_params
from pipeline.specs.model import ModelSpec

MIN_HIDDEN = NUM_CLASSES  # a hidden layer narrower than the output is a bottleneck
MAX_FILTER_SCALE = 16


class InfeasibleControl(ValueError):
    """No resizing of the baseline reaches the target parameter count within the tolerance."""


def relative_gap(params: int, target: int) -> float:
    """(params - target) / target: how far a control's count is from the target."""
    return (params - target) / target


def needs_control(baseline: ModelSpec, variant: ModelSpec, threshold: float) -> bool:
    """True when the variant's parameters differ from the baseline's by more than
    `threshold` (a fraction of the baseline's)."""
    return abs(relative_gap(count_params(variant), count_params(baseline))) > threshold


def _with(spec: ModelSpec, **changes) -> ModelSpec:
    return ModelSpec.model_validate({**spec.model_dump(), **changes})


def _params_or_none(spec: ModelSpec) -> int | None:
    try:
        return count_params(spec)
    except InfeasibleSpec:
        return None


def head_resized(spec: ModelSpec, target: int) -> ModelSpec | None:
    """`spec` with its first hidden Dense layer at the width whose count is closest to
    `target` (parameters are linear in that width); None without a hidden layer, or when the
    width would fall below MIN_HIDDEN."""
    if not spec.dense_units:
        return None
    first, second = (_with(spec, dense_units=(width, *spec.dense_units[1:]))
                     for width in (MIN_HIDDEN, MIN_HIDDEN + 1))
    at_min, per_unit = count_params(first), count_params(second) - count_params(first)
    width = MIN_HIDDEN + round((target - at_min) / per_unit)
    if width < MIN_HIDDEN:
        return None
    return _with(spec, dense_units=(width, *spec.dense_units[1:]))


def filters_scaled(spec: ModelSpec, scale: float) -> ModelSpec:
    """Every conv block's filters times `scale`, rounded half up, at least 1."""
    return _with(spec, filters=tuple(max(1, int(width * scale + 0.5)) for width in spec.filters))


def scale_candidates(spec: ModelSpec, grow: bool) -> list[float]:
    """Filter scales in steps of one filter of the widest block, closest to 1 first."""
    step = 1 / max(spec.filters)
    count = int(MAX_FILTER_SCALE / step)
    scales = [k * step for k in range(1, count + 1)]
    return sorted((s for s in scales if (s > 1) == grow and s != 1), key=lambda s: abs(s - 1))


@lru_cache(maxsize=256)
def match_params(baseline: ModelSpec, target: int, tolerance: float,
                 avoid: ModelSpec | None = None) -> ModelSpec:
    """The baseline resized to within `tolerance` of `target` parameters (head first, then
    filters; see the module docstring); never `avoid` (the variant being controlled)."""
    if baseline.arch != "cnn":
        raise InfeasibleControl(f"only a cnn baseline can be resized, got {baseline.describe()}")
    tried: list[int] = []
    for candidate in _candidates(baseline, target):
        params = _params_or_none(candidate) if candidate is not None else None
        if params is None or candidate == avoid:
            continue
        tried.append(params)
        if abs(relative_gap(params, target)) <= tolerance:
            return candidate
    below = max((p for p in tried if p < target), default=None)
    above = min((p for p in tried if p > target), default=None)
    nearest = " and ".join(f"{p:,}" for p in (below, above) if p is not None) or "none"
    raise InfeasibleControl(
        f"no resizing of the baseline {baseline.describe()} (its Dense head, then its filters) "
        f"comes within ±{tolerance:g} of {target:,} parameters; the nearest reachable: "
        f"{nearest}")


def _candidates(baseline: ModelSpec, target: int):
    """Head-only first, then each filter scale (closest to 1 first) with the head re-solved,
    or, without a hidden layer, the filter scales ordered by how close they land."""
    yield head_resized(baseline, target)
    grow = target > count_params(baseline)
    scaled = [filters_scaled(baseline, s) for s in scale_candidates(baseline, grow)]
    if baseline.dense_units:
        for spec in scaled:
            yield head_resized(spec, target)
        return
    counts = {spec: _params_or_none(spec) for spec in scaled}
    yield from sorted((spec for spec in counts if counts[spec] is not None),
                      key=lambda spec: abs(counts[spec] - target))
