"""The registry of ablation factors: grid axes, result columns and report titles read it.

A factor is a field of ModelSpec that a grid may vary. `cnn_only` factors exist only for
CNNs (a Dense network has no pooling); `level` is the type of one level in a grid axis.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.specs.choices import Dropout, Padding, Pooling, PositiveInt, Widths


@dataclass(frozen=True)
class Factor:
    name: str
    title: str
    cnn_only: bool
    level: object


FACTORS: tuple[Factor, ...] = (
    Factor("pooling", "Pooling", True, Pooling),
    Factor("kernel_size", "Kernel size", True, PositiveInt),
    Factor("padding", "Padding", True, Padding),
    Factor("filters", "Filter count (per conv block)", True, Widths),
    Factor("dense_units", "Dense head width", False, Widths),
    Factor("dropout", "Dropout", False, Dropout),
)
FACTOR_NAMES: tuple[str, ...] = tuple(factor.name for factor in FACTORS)
CNN_ONLY: tuple[str, ...] = tuple(factor.name for factor in FACTORS if factor.cnn_only)
TITLES: dict[str, str] = {factor.name: factor.title for factor in FACTORS}


def factors_for(arch: str) -> tuple[Factor, ...]:
    """The factors a grid may vary for `arch` (cnn: all; dense: the non-CNN ones)."""
    return FACTORS if arch == "cnn" else tuple(f for f in FACTORS if not f.cnn_only)
