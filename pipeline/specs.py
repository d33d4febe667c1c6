"""Typed specs of what to train: one model, one run (model + data + training), one grid."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DatasetName = Literal["mnist", "fashion_mnist"]
DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist")
CNN_FIELDS = ("filters", "kernel_size", "pooling", "padding")


class Strict(BaseModel):
    """Base for every spec: unknown keys are errors and objects are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(Strict):
    """One network. `dense`: Flatten + hidden Dense layers. `cnn`: conv blocks + Dense head.

    A pooling layer (2x2, stride 2) follows every conv block but the last, as in the textbook
    seeds; `dense_units` are the hidden Dense layers before the 10-way softmax.
    """

    arch: Literal["dense", "cnn"]
    filters: tuple[int, ...] = ()
    kernel_size: int | None = None
    pooling: Literal["max", "avg", "none"] | None = None
    padding: Literal["valid", "same"] | None = None
    dense_units: tuple[int, ...] = ()
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @field_validator("filters", "dense_units")
    @classmethod
    def _positive_widths(cls, widths: tuple[int, ...]) -> tuple[int, ...]:
        if any(width < 1 for width in widths):
            raise ValueError("every width must be a positive integer")
        return widths

    @field_validator("kernel_size")
    @classmethod
    def _positive_kernel(cls, kernel_size: int | None) -> int | None:
        if kernel_size is not None and kernel_size < 1:
            raise ValueError("kernel_size must be a positive integer")
        return kernel_size

    @model_validator(mode="before")
    @classmethod
    def _cnn_defaults(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("arch") == "cnn":
            defaults = {"kernel_size": 3, "pooling": "max", "padding": "valid"}
            data = {**defaults, **{k: v for k, v in data.items() if v is not None}}
        return data

    @model_validator(mode="after")
    def _arch_fields(self) -> ModelSpec:
        if self.arch == "cnn" and not self.filters:
            raise ValueError("a cnn needs at least one conv block in `filters`")
        if self.arch == "dense":
            given = [name for name in CNN_FIELDS if getattr(self, name) not in (None, ())]
            if given:
                raise ValueError(f"a dense model takes no cnn settings, got {given}")
        return self

    def canonical(self) -> dict:
        """The fields that define the network, as plain JSON-able values."""
        data = self.model_dump(mode="json")
        if self.arch == "dense":
            for name in CNN_FIELDS:
                data.pop(name)
        return data

    def describe(self) -> str:
        """A short readable name, e.g. `cnn f32-64-64 k3 max valid h64`."""
        hidden = "h" + "-".join(map(str, self.dense_units)) if self.dense_units else "h-"
        parts = [self.arch]
        if self.arch == "cnn":
            filters = "-".join(map(str, self.filters))
            parts += [f"f{filters}", f"k{self.kernel_size}", str(self.pooling), str(self.padding)]
        parts.append(hidden)
        if self.dropout:
            parts.append(f"drop{self.dropout:g}")
        return " ".join(parts)


class TrainingConfig(Strict):
    """How one run trains: data budget, epochs and optimiser."""

    epochs: int = Field(ge=1)
    batch_size: int = Field(default=64, ge=1)
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    train_samples: int | None = Field(default=None, ge=1)
    val_samples: int | None = Field(default=None, ge=1)
    test_samples: int | None = Field(default=None, ge=1)


def stable_hash(data: object, length: int = 12) -> str:
    """A short sha256 of canonical JSON: equal configs give equal ids on every machine."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


class RunSpec(Strict):
    """One training run: a model on a dataset with one seed and one training recipe."""

    dataset: DatasetName
    seed: int
    model: ModelSpec
    training: TrainingConfig

    @property
    def variant_id(self) -> str:
        """Identifies the variant (dataset + network) across seeds and training recipes."""
        return stable_hash({"dataset": self.dataset, "model": self.model.canonical()}, 10)

    @property
    def run_key(self) -> str:
        """Identifies this variant and seed; names the result file."""
        return f"{self.variant_id}-s{self.seed}"

    @property
    def name(self) -> str:
        return f"{self.dataset} {self.model.describe()} seed{self.seed}"

    def flat_params(self) -> dict[str, object]:
        """Dotted parameter names, as MLflow and the report show them."""
        params: dict[str, object] = {"dataset": self.dataset, "seed": self.seed}
        for name, value in self.model.canonical().items():
            params[f"model.{name}"] = _as_param(value)
        for name, value in self.training.model_dump(mode="json").items():
            params[f"training.{name}"] = _as_param(value)
        return params


def _as_param(value: object) -> object:
    if isinstance(value, list):
        return "-".join(map(str, value)) if value else "none"
    return "none" if value is None else value


class CnnAxes(Strict):
    """Levels of the CNN factors; each list holds the levels to try."""

    pooling: list[Literal["max", "avg", "none"]] = []
    kernel_size: list[int] = []
    padding: list[Literal["valid", "same"]] = []
    filters: list[tuple[int, ...]] = []
    dense_units: list[tuple[int, ...]] = []
    dropout: list[float] = []


class DenseAxes(Strict):
    """Levels of the Dense-network factors."""

    dense_units: list[tuple[int, ...]] = []
    dropout: list[float] = []


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
        names = set(CnnAxes.model_fields)
        seen: set[str] = set()
        for group in self.crossed:
            for axis in group:
                if axis not in names:
                    raise ValueError(f"crossed axis {axis!r} is not one of {sorted(names)}")
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


class GridSpec(Strict):
    """An ablation grid: baselines, factor levels, datasets and seeds (experiments/grids/)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    design: Literal["one_at_a_time", "factorial"] = "one_at_a_time"
    datasets: list[DatasetName] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    cnn: CnnBlock | None = None
    dense: DenseBlock | None = None

    @model_validator(mode="after")
    def _some_model(self) -> GridSpec:
        if self.cnn is None and self.dense is None:
            raise ValueError("a grid needs a `cnn` block, a `dense` block, or both")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        return self
