"""The closed sets of values a spec may name: datasets, architectures, pooling, padding, optimizer.

Declared once here so params, grids, sweeps and the report accept and show the same choices.
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
