"""GridSpec: an ablation grid (experiments/grids/*.yaml): baselines, factor levels, seeds.

Axis fields come from the factor registry, so a new factor is declared in one place; every
level is typed (a kernel size of 0 or a dropout of 1.5 is refused when the grid loads, with
the file, key path, value and rule), and an axis given with no levels is refused too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model, field_validator, model_validator

from pipeline.specs.choices import DatasetName
from pipeline.specs.factors import FACTOR_NAMES, Factor, factors_for
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import Budget, TrainingRecipe
from pipeline.validation import Strict


class Axes(Strict):
    """Levels per factor; an axis that is present must list at least one level."""

    @model_validator(mode="before")
    @classmethod
    def _no_empty_axis(cls, data: object) -> object:
        if isinstance(data, dict):
            empty = [name for name, levels in data.items() if levels == []]
            if empty:
                raise ValueError(f"axis {empty[0]!r} has no levels: list at least one level "
                                 f"or remove the axis")
        return data

    def levels(self) -> dict[str, list]:
        """Axis name -> levels, in registry order, only axes that were given."""
        return {name: list(getattr(self, name)) for name in type(self).model_fields
                if getattr(self, name)}


def _axes_model(name: str, factors: tuple[Factor, ...]) -> type[Axes]:
    fields = {factor.name: (list[factor.level], []) for factor in factors}
    return create_model(name, __base__=Axes, __doc__=f"Levels of the {name[:-4]} factors.",
                        **fields)


CnnAxes = _axes_model("CnnAxes", factors_for("cnn"))
DenseAxes = _axes_model("DenseAxes", factors_for("dense"))


class CnnBlock(Strict):
    baseline: ModelSpec
    axes: CnnAxes = CnnAxes()
    crossed: list[list[str]] = Field(
        default=[], description="groups of axes varied together (full product) in one_at_a_time"
    )

    @model_validator(mode="after")
    def _check(self) -> CnnBlock:
        if self.baseline.arch != "cnn":
            raise ValueError("cnn.baseline must have arch: cnn")
        seen: set[str] = set()
        for group in self.crossed:
            for axis in group:
                if axis not in FACTOR_NAMES:
                    raise ValueError(f"crossed axis {axis!r} is not one of {list(FACTOR_NAMES)}")
                if axis in seen:
                    raise ValueError(f"axis {axis!r} appears in two crossed groups")
                seen.add(axis)
        return self


class DenseBlock(Strict):
    baseline: ModelSpec
    axes: DenseAxes = DenseAxes()

    @model_validator(mode="after")
    def _check(self) -> DenseBlock:
        if self.baseline.arch != "dense":
            raise ValueError("dense.baseline must have arch: dense")
        return self


class AdaptiveSeeds(Strict):
    """Seeds 0..initial-1 for every variant, then one more at a time where still undecided."""

    initial: int = Field(ge=1)
    max: int = Field(ge=1)
    extra_runs: int | None = Field(
        default=None, ge=0, description="at most this many runs added after the initial seeds")

    @model_validator(mode="after")
    def _ordered(self) -> AdaptiveSeeds:
        if self.max < self.initial:
            raise ValueError(f"max ({self.max}) must be at least initial ({self.initial})")
        return self


class SettleSeeds(Strict):
    """One more look for a grid with a fixed seed list: every comparison still undecided
    whose seeds for `power` at its observed Δ (pipeline.evidence.settle) cost at most
    `max_minutes` of training gets those seeds on both sides, cheapest first while the look
    stays within `total_minutes` (if given); the verdicts then test at alpha / 2 (two looks)."""

    power: float = Field(default=0.8, gt=0.0, lt=1.0)
    max_minutes: float = Field(gt=0.0, description="training time one comparison may add "
                                                   "(its extra runs at their measured times)")
    total_minutes: float | None = Field(default=None, gt=0.0, description=(
        "training time the whole look may add (run minutes summed): the cheapest comparisons "
        "first, runs shared with one already chosen (a baseline's seeds) counted once"))

    @property
    def total_text(self) -> str:
        """`, 60 min in all` for the report and the look's summary; empty without a total."""
        return "" if self.total_minutes is None else f", {self.total_minutes:g} min in all"


class Controls(Strict):
    """Capacity-matched controls: for every variant whose parameter count differs from the
    baseline's by more than `threshold`, the baseline resized to within `tolerance` of it
    (pipeline.model.capacity), trained with the same seeds and recipe and paired like a
    variant, so the report can say whether an effect survives at equal capacity."""

    match: Literal["params"] = "params"
    tolerance: float = Field(default=0.05, gt=0.0, lt=0.5,
                             description="a control is within ±tolerance of the target count")
    threshold: float = Field(default=0.25, gt=0.0,
                             description="variants further than this from the baseline's "
                                         "count (a fraction of it) get a control")


class Reference(Strict):
    """A textbook's own network and recipe, trained unchanged beside the grid and set next to
    the accuracy the textbook publishes."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    source: str
    dataset: DatasetName
    model: ModelSpec
    recipe: TrainingRecipe
    published: float | None = Field(default=None, gt=0.0, le=1.0)
    published_source: str = ""
    expected: tuple[float, float] = Field(
        description="test accuracy range of any sound run, even a cheap one; outside it the "
                    "report flags the run (e.g. Fashion-MNIST at MNIST-level accuracy means a "
                    "data mix-up)")
    contrast: str | None = Field(
        default=None, description="the reference this network is the textbook's alternative "
                                  "to (e.g. its structure without pooling): the report pairs "
                                  "the two, and with the contrast resized to this one's "
                                  "parameters (a capacity-matched control)")


class References(Strict):
    """Textbook reference runs; `budget` replaces every reference's epochs and images (a
    cheaper version, labelled as such in the report by `note`)."""

    note: str = ""
    budget: Budget | None = None
    runs: list[Reference] = Field(min_length=1)

    @model_validator(mode="after")
    def _contrasts(self) -> References:
        by_name = {reference.name: reference for reference in self.runs}
        for reference in self.runs:
            other = by_name.get(reference.contrast) if reference.contrast else reference
            if other is None:
                raise ValueError(f"reference {reference.name!r}: contrast "
                                 f"{reference.contrast!r} is not one of {sorted(by_name)}")
            if (other.dataset, other.recipe) != (reference.dataset, reference.recipe):
                raise ValueError(f"reference {reference.name!r}: its contrast "
                                 f"{other.name!r} must use the same dataset and recipe, so "
                                 f"the two pair seed by seed")
        return self

    def contrasts(self) -> list[tuple[Reference, Reference]]:
        """(reference, the reference it is the textbook's alternative to), in file order."""
        by_name = {reference.name: reference for reference in self.runs}
        return [(reference, by_name[reference.contrast]) for reference in self.runs
                if reference.contrast]

    def recipes(self) -> list[tuple[Reference, TrainingRecipe]]:
        """Each reference with the recipe it trains with (its own, or with `budget`)."""
        if self.budget is None:
            return [(reference, reference.recipe) for reference in self.runs]
        return [(reference, TrainingRecipe.combine(self.budget, reference.recipe))
                for reference in self.runs]


class GridSpec(Strict):
    """An ablation grid: baselines, factor levels, datasets and seeds (experiments/grids/)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    design: Literal["one_at_a_time", "factorial"] = "one_at_a_time"
    datasets: list[DatasetName] = Field(min_length=1)
    seeds: list[int] | AdaptiveSeeds
    cnn: CnnBlock | None = None
    dense: DenseBlock | None = None
    references: References | None = None
    settle: SettleSeeds | None = Field(
        default=None, description="with a seed list: one more look adding the seeds that "
                                  "settle the cheaply settled undecided comparisons")
    controls: Controls | None = Field(
        default=None, description="capacity-matched controls for the CNN variants (and the "
                                  "references' contrasts); absent: none")

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int] | AdaptiveSeeds) -> list[int] | AdaptiveSeeds:
        if isinstance(seeds, list):
            if not seeds:
                raise ValueError("list at least one seed")
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"seeds must be distinct, got {seeds}")
        return seeds

    @model_validator(mode="after")
    def _some_model(self) -> GridSpec:
        if self.cnn is None and self.dense is None:
            raise ValueError("a grid needs a `cnn` block, a `dense` block, or both")
        if self.settle is not None and isinstance(self.seeds, AdaptiveSeeds):
            raise ValueError("`settle` adds seeds to a seed list; with adaptive `seeds` "
                             "remove `settle` (adaptive seeds already add where undecided)")
        return self

    @property
    def initial_seeds(self) -> list[int]:
        """The seeds every variant trains with before any adaptive replication."""
        if isinstance(self.seeds, AdaptiveSeeds):
            return list(range(self.seeds.initial))
        return list(self.seeds)
