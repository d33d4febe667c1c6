"""The values a spec may name: datasets, architectures, pooling, padding, optimizer, and the
bounds of widths, kernel sizes, dropout and learning rates.

Declared once here so params, models, grids, sweeps and the report accept the same values.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

DatasetName = Literal["mnist", "fashion_mnist"]
Arch = Literal["dense", "cnn"]
Pooling = Literal["max", "avg", "none"]
Padding = Literal["valid", "same"]
Optimizer = Literal["adam", "sgd", "rmsprop"]

PositiveInt = Annotated[int, Field(ge=1)]
Widths = tuple[PositiveInt, ...]
Dropout = Annotated[float, Field(ge=0.0, lt=1.0)]
LearningRate = Annotated[float, Field(gt=0.0, le=1.0)]
