"""Sweep specs (experiments/sweep*.yaml): the search space as data, and trial -> RunSpec.

The space has one field per factor of the registry (pipeline.specs.factors), typed by the
same level types as grid axes, so a new factor is searchable without touching this file.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field, create_model, model_validator

from pipeline.specs.choices import Arch, DatasetName, LearningRate, Optimizer, PositiveInt
from pipeline.specs.factors import FACTORS, Factor, factors_for, level_text, parse_widths
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import Budget, Optimization, TrainingRecipe
from pipeline.specs.run import RunSpec
from pipeline.validation import Strict

Bound = TypeVar("Bound")


class FloatRange(Strict, Generic[Bound]):
    """[low, high] of a float setting, each end within the setting's own bounds."""

    low: Bound
    high: Bound
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


def _factor_field(factor: Factor) -> tuple[object, object]:
    if factor.sweep_range:
        default = FloatRange[factor.level](low=factor.sweep_default, high=factor.sweep_default)
        return FloatRange[factor.level], default
    return list[factor.level], Field(default=[factor.sweep_default], min_length=1)


class _SpaceBase(Strict):
    arch: list[Arch] = Field(min_length=1)
    learning_rate: FloatRange[LearningRate] = FloatRange[LearningRate](
        low=1e-3, high=1e-3, log=True)
    batch_size: list[PositiveInt] = Field(default=[64], min_length=1)


SearchSpace: type[BaseModel] = create_model(
    "SearchSpace", __base__=_SpaceBase,
    __doc__="Choices per factor; CNN-only factors are suggested only for CNN trials.",
    **{factor.name: _factor_field(factor) for factor in FACTORS})


class SweepSpec(Budget):
    """A named Optuna study over `space`, trained with the given budget on one dataset."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    dataset: DatasetName
    seed: int = 0
    optimizer: Optimizer = "adam"
    sampler_seed: int = 0
    startup_trials: int = Field(default=5, ge=0, description="random trials before TPE")
    pruner_startup_trials: int = Field(default=3, ge=0)
    pruner_warmup_epochs: int = Field(default=1, ge=0)
    storage: str | None = Field(default=None, description="default sqlite:///<project>/optuna/"
                                                          "studies.db")
    space: SearchSpace


def suggest_factor(trial, factor: Factor, space) -> object:
    """Ask the trial for one factor's level (`model.<name>`, as grid runs name it)."""
    name, choices = f"model.{factor.name}", getattr(space, factor.name)
    if factor.sweep_range:
        return _suggest_float(trial, name, choices)
    chosen = trial.suggest_categorical(name, [level_text(factor, level) for level in choices])
    return parse_widths(chosen) if factor.widths else chosen


def suggest_run(trial, sweep: SweepSpec) -> RunSpec:
    """Ask the trial for every factor (dotted names as in grid runs) and build the RunSpec."""
    space = sweep.space
    arch = trial.suggest_categorical("model.arch", space.arch)
    factors = sorted(factors_for(arch), key=lambda factor: factor.sweep_rank)
    model = {"arch": arch, **{factor.name: suggest_factor(trial, factor, space)
                              for factor in factors}}
    training = TrainingRecipe.combine(sweep, Optimization(
        optimizer=sweep.optimizer,
        batch_size=trial.suggest_categorical("training.batch_size", space.batch_size),
        learning_rate=_suggest_float(trial, "training.learning_rate", space.learning_rate)))
    return RunSpec(dataset=sweep.dataset, seed=sweep.seed, model=ModelSpec(**model),
                   training=training)


def _suggest_float(trial, name: str, bounds: FloatRange) -> float:
    if bounds.low == bounds.high:
        return bounds.low
    return trial.suggest_float(name, bounds.low, bounds.high, log=bounds.log)


def spec_from_params(params: dict, sweep: SweepSpec) -> RunSpec:
    """Rebuild a trial's RunSpec from its stored params (for the best-trial test evaluation)."""
    from optuna.trial import FixedTrial

    return suggest_run(FixedTrial(params), sweep)
