"""The layer-by-layer table of a ModelSpec, printed as textbooks print `model.summary()`.

Computed from `pipeline.model.shapes.plan`, without TensorFlow, so the report can show what a
variant does to the network's shapes and parameters next to what it does to accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.model.shapes import plan
from pipeline.specs.model import ModelSpec

# The Keras class behind each layer name that pipeline.model.keras_builder gives.
LAYER_TYPES = {"conv": "Conv2D", "max_pool": "MaxPooling2D", "avg_pool": "AveragePooling2D",
               "flatten": "Flatten", "dense": "Dense", "output": "Dense", "dropout": "Dropout"}
HEADER = ["| Layer (type) | Output Shape | Param # |", "|---|---|---:|"]


@dataclass(frozen=True)
class LayerRow:
    """One row of the table: `conv1 (Conv2D)`, `(None, 26, 26, 32)`, 320."""

    layer: str
    output_shape: str
    params: int


def layer_type(name: str) -> str:
    """The Keras class name for a layer name such as `conv2`, `max_pool1` or `output`."""
    return LAYER_TYPES[name.rstrip("0123456789")]


def keras_shape(shape: tuple[int, ...]) -> str:
    """`(None, 26, 26, 32)`: the batch dimension first, as Keras prints it."""
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


def layer_rows(spec: ModelSpec) -> list[LayerRow]:
    """Every layer the Keras builder makes for `spec`, in order; raises InfeasibleSpec."""
    layers = plan(spec)
    rows = [LayerRow(f"{layer.name} ({layer_type(layer.name)})", keras_shape(layer.output_shape),
                     layer.params) for layer in layers]
    if spec.dropout:  # the builder puts Dropout before the output layer; plan leaves it out
        before_output = layers[-2].output_shape
        rows.insert(len(rows) - 1, LayerRow("dropout (Dropout)", keras_shape(before_output), 0))
    return rows


def layer_table(spec: ModelSpec) -> list[str]:
    """Markdown lines: the table, a blank line, then `Total params: 104,202`."""
    rows = layer_rows(spec)
    lines = [*HEADER]
    lines += [f"| {row.layer} | {row.output_shape} | {row.params:,} |" for row in rows]
    return [*lines, "", f"Total params: {sum(row.params for row in rows):,}"]


def flattened_features(spec: ModelSpec) -> int:
    """How many features the Flatten layer hands to the Dense head."""
    return next(layer.output_shape[0] for layer in plan(spec) if layer.name == "flatten")
