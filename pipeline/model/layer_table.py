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
ARCH_NAMES = {"cnn": "CNN", "dense": "Dense network"}
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


def change_phrase(baseline: ModelSpec, variant: ModelSpec) -> str:
    """What `variant` changes, e.g. `without pooling` or `with same padding instead of valid`."""
    if baseline.arch != variant.arch:
        return f"as a {ARCH_NAMES[variant.arch]} instead of a {ARCH_NAMES[baseline.arch]}"
    joined = "-".join
    changes = []
    if baseline.pooling != variant.pooling:
        changes.append("without pooling" if variant.pooling == "none"
                       else f"with {variant.pooling} pooling instead of {baseline.pooling}")
    if baseline.padding != variant.padding:
        changes.append(f"with {variant.padding} padding instead of {baseline.padding}")
    if baseline.kernel_size != variant.kernel_size:
        changes.append(f"with {variant.kernel_size}x{variant.kernel_size} kernels instead of "
                       f"{baseline.kernel_size}x{baseline.kernel_size}")
    if baseline.filters != variant.filters:
        changes.append(f"with filters {joined(map(str, variant.filters))} instead of "
                       f"{joined(map(str, baseline.filters))}")
    if baseline.dense_units != variant.dense_units:
        changes.append(f"with hidden Dense {joined(map(str, variant.dense_units)) or 'none'} "
                       f"instead of {joined(map(str, baseline.dense_units)) or 'none'}")
    if baseline.dropout != variant.dropout:
        changes.append(f"with dropout {variant.dropout:g} instead of {baseline.dropout:g}")
    return " and ".join(changes) or "with the same settings"


def layer_summary_sentence(baseline: ModelSpec, variant: ModelSpec) -> str:
    """What the variant does to the flattened features and the parameter count.

    e.g. "Without pooling, the network flattens 61,952 features instead of 1,152 and grows
    from 104,202 to 712,202 parameters."
    """
    before_features, after_features = flattened_features(baseline), flattened_features(variant)
    before_params = sum(row.params for row in layer_rows(baseline))
    after_params = sum(row.params for row in layer_rows(variant))
    if after_features == before_features:
        features = f"still flattens {after_features:,} features"
    else:
        features = f"flattens {after_features:,} features instead of {before_features:,}"
    if after_params == before_params:
        params = f"keeps its {after_params:,} parameters"
    else:
        verb = "grows" if after_params > before_params else "shrinks"
        params = f"{verb} from {before_params:,} to {after_params:,} parameters"
    phrase = change_phrase(baseline, variant)
    return f"{phrase[0].upper()}{phrase[1:]}, the network {features} and {params}."
