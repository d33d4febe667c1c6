"""The registry of ablation factors: grid axes, sweep space, result columns and report read it.

A factor is a field of ModelSpec that a grid may vary. `cnn_only` factors exist only for
CNNs (a Dense network has no pooling); `level` is the type of one level in a grid axis;
`sweep_default` is a sweep space's level when its spec names none; `sweep_range` factors are
searched as a float range rather than a list of choices; `sweep_rank` is the order in which a
trial asks Optuna for them (kept as first released, so seeded sweeps repeat their trials).
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
    sweep_default: object
    sweep_rank: int
    sweep_range: bool = False

    @property
    def widths(self) -> bool:
        """Levels are tuples of layer widths, written `32-64-64` (`none` when empty)."""
        return self.level is Widths


FACTORS: tuple[Factor, ...] = (
    Factor("pooling", "Pooling", True, Pooling, "max", 3),
    Factor("kernel_size", "Kernel size", True, PositiveInt, 3, 2),
    Factor("padding", "Padding", True, Padding, "valid", 4),
    Factor("filters", "Filter count (per conv block)", True, Widths, (32, 64, 64), 1),
    Factor("dense_units", "Dense head width", False, Widths, (64,), 5),
    Factor("dropout", "Dropout", False, Dropout, 0.0, 6, sweep_range=True),
)
FACTOR_NAMES: tuple[str, ...] = tuple(factor.name for factor in FACTORS)
CNN_ONLY: tuple[str, ...] = tuple(factor.name for factor in FACTORS if factor.cnn_only)
TITLES: dict[str, str] = {factor.name: factor.title for factor in FACTORS}


def factors_for(arch: str) -> tuple[Factor, ...]:
    """The factors a grid may vary for `arch` (cnn: all; dense: the non-CNN ones)."""
    return FACTORS if arch == "cnn" else tuple(f for f in FACTORS if not f.cnn_only)


def widths_text(values: tuple[int, ...] | list[int]) -> str:
    """`32-64-64`, or `none` for no layers: how params, sweeps and tables write widths."""
    return "-".join(map(str, values)) if values else "none"


def parse_widths(text: str) -> tuple[int, ...]:
    return () if text == "none" else tuple(int(part) for part in text.split("-"))


def level_text(factor: Factor, value: object) -> object:
    """A level as a table cell or Optuna choice: widths as text, other levels unchanged."""
    return widths_text(value) if factor.widths else value
