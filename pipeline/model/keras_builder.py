"""Build a Keras model from a ModelSpec (the only place that turns specs into layers)."""

from __future__ import annotations

from pipeline.model.shapes import INPUT_CHANNELS, INPUT_SIDE, NUM_CLASSES, POOL_SIZE, plan
from pipeline.specs.model import ModelSpec


def build_model(spec: ModelSpec, precision: str = "float32"):
    """A `keras.Sequential` for `spec`; raises InfeasibleSpec before building anything.

    Hidden layers compute in `precision` (a Keras dtype policy); the output layer stays
    float32, so the softmax and the loss are taken in full precision.
    """
    import keras

    plan(spec)  # infeasible specs stop here, with the layer and sizes in the message
    layers: list = [keras.Input((INPUT_SIDE, INPUT_SIDE, INPUT_CHANNELS))]
    if spec.arch == "cnn":
        pooling = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}
        for block, num_filters in enumerate(spec.filters, start=1):
            layers.append(keras.layers.Conv2D(num_filters, spec.kernel_size, padding=spec.padding,
                                              activation="relu", name=f"conv{block}",
                                              dtype=precision))
            if spec.pooling != "none" and block < len(spec.filters):
                layers.append(pooling[spec.pooling](POOL_SIZE, name=f"{spec.pooling}_pool{block}",
                                                     dtype=precision))
    layers.append(keras.layers.Flatten(name="flatten", dtype=precision))
    for index, units in enumerate(spec.dense_units, start=1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"dense{index}",
                                         dtype=precision))
    if spec.dropout:
        layers.append(keras.layers.Dropout(spec.dropout, name="dropout", dtype=precision))
    layers.append(keras.layers.Dense(NUM_CLASSES, activation="softmax", name="output",
                                     dtype="float32"))
    return keras.Sequential(layers, name=spec.describe().replace(" ", "_"))


def summary_text(model) -> str:
    """The model summary (layer, output shape, params) as Keras prints it, as plain text."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=88)
    return "\n".join(lines) + "\n"
