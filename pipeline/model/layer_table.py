"""The layer-by-layer table of a ModelSpec, printed as textbooks print `model.summary()`.

Computed from `pipeline.model.shapes.plan`, without TensorFlow, so the report can show what a
variant does to the network's shapes and parameters next to what it does to accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.model.shapes import plan
from pipeline.specs.model import ModelSpec

# The Keras class pipeline.model.keras_builder makes for each kind of planned layer.
LAYER_TYPES = {"conv": "Conv2D", "max_pool": "MaxPooling2D", "avg_pool": "AveragePooling2D",
               "flatten": "Flatten", "dense": "Dense", "output": "Dense", "dropout": "Dropout"}
HEADER = ["| Layer (type) | Output Shape | Param # |", "|---|---|---:|"]


@dataclass(frozen=True)
class LayerRow:
    """One row of the table: `conv1 (Conv2D)`, `(None, 26, 26, 32)`, 320."""

    layer: str
    output_shape: str
    params: int


def keras_shape(shape: tuple[int, ...]) -> str:
    """`(None, 26, 26, 32)`: the batch dimension first, as Keras prints it."""
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


def layer_rows(spec: ModelSpec) -> list[LayerRow]:
    """Every layer the Keras builder makes for `spec`, in order; raises InfeasibleSpec."""
    return [LayerRow(f"{layer.name} ({LAYER_TYPES[layer.kind]})", keras_shape(layer.output_shape),
                     layer.params) for layer in plan(spec)]


def layer_table(spec: ModelSpec) -> list[str]:
    """Markdown lines: the table, a blank line, then `Total params: 104,202`."""
    rows = layer_rows(spec)
    lines = [*HEADER]
    lines += [f"| {row.layer} | {row.output_shape} | {row.params:,} |" for row in rows]
    return [*lines, "", f"Total params: {sum(row.params for row in rows):,}"]


def flattened_features(spec: ModelSpec) -> int:
    """How many features the Flatten layer hands to the Dense head."""
    return next(layer.output_shape[0] for layer in plan(spec) if layer.kind == "flatten")
