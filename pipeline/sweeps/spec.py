"""Sweep specs (experiments/sweep*.yaml): the search space as data, and trial -> RunSpec."""

from __future__ import annotations

from pydantic import Field, model_validator

from pipeline.specs.choices import (
    Arch,
    DatasetName,
    Optimizer,
    Padding,
    Pooling,
    PositiveInt,
    Widths,
)
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import Budget, Optimization, TrainingRecipe
from pipeline.specs.run import RunSpec
from pipeline.validation import Strict


class FloatRange(Strict):
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class SearchSpace(Strict):
    """Choices per factor; CNN-only factors are suggested only for CNN trials."""

    arch: list[Arch] = Field(min_length=1)
    filters: list[Widths] = Field(default=[(32, 64, 64)], min_length=1)
    kernel_size: list[PositiveInt] = Field(default=[3], min_length=1)
    pooling: list[Pooling] = Field(default=["max"], min_length=1)
    padding: list[Padding] = Field(default=["valid"], min_length=1)
    dense_units: list[Widths] = Field(default=[(64,)], min_length=1)
    dropout: FloatRange = FloatRange(low=0.0, high=0.0)
    learning_rate: FloatRange = FloatRange(low=1e-3, high=1e-3, log=True)
    batch_size: list[PositiveInt] = Field(default=[64], min_length=1)

    @model_validator(mode="after")
    def _ranges_within_limits(self) -> SearchSpace:
        if not (self.dropout.low >= 0.0 and self.dropout.high < 1.0):
            raise ValueError(f"dropout range [{self.dropout.low}, {self.dropout.high}] must lie "
                             f"in [0, 1)")
        if not (self.learning_rate.low > 0.0 and self.learning_rate.high <= 1.0):
            raise ValueError(f"learning_rate range [{self.learning_rate.low}, "
                             f"{self.learning_rate.high}] must lie in (0, 1]")
        return self


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


def widths(values: tuple[int, ...]) -> str:
    return "-".join(map(str, values)) if values else "none"


def parse_widths(text: str) -> tuple[int, ...]:
    return () if text == "none" else tuple(int(part) for part in text.split("-"))


def suggest_run(trial, sweep: SweepSpec) -> RunSpec:
    """Ask the trial for every factor (dotted names as in grid runs) and build the RunSpec."""
    space = sweep.space
    arch = trial.suggest_categorical("model.arch", space.arch)
    model: dict = {"arch": arch}
    if arch == "cnn":
        model["filters"] = parse_widths(trial.suggest_categorical(
            "model.filters", [widths(choice) for choice in space.filters]))
        model["kernel_size"] = trial.suggest_categorical("model.kernel_size", space.kernel_size)
        model["pooling"] = trial.suggest_categorical("model.pooling", space.pooling)
        model["padding"] = trial.suggest_categorical("model.padding", space.padding)
    model["dense_units"] = parse_widths(trial.suggest_categorical(
        "model.dense_units", [widths(choice) for choice in space.dense_units]))
    model["dropout"] = _suggest_float(trial, "model.dropout", space.dropout)
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
