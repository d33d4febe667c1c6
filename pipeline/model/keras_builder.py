"""Build a Keras model from a ModelSpec: each layer of its plan (pipeline.model.shapes) becomes
the Keras layer of that kind, so the layer list is not written a second time here."""

from __future__ import annotations

from pipeline.model.shapes import INPUT_CHANNELS, INPUT_SIDE, POOL_SIZE, LayerPlan, plan
from pipeline.specs.model import ModelSpec


def keras_layer(layer: LayerPlan, spec: ModelSpec, precision: str):
    """The Keras layer for one planned layer; the output layer computes in float32."""
    import keras

    dtype = "float32" if layer.kind == "output" else precision
    named = {"name": layer.name, "dtype": dtype}
    makers = {
        "conv": lambda: keras.layers.Conv2D(layer.width, spec.kernel_size, padding=spec.padding,
                                            activation="relu", **named),
        "max_pool": lambda: keras.layers.MaxPooling2D(POOL_SIZE, **named),
        "avg_pool": lambda: keras.layers.AveragePooling2D(POOL_SIZE, **named),
        "flatten": lambda: keras.layers.Flatten(**named),
        "dense": lambda: keras.layers.Dense(layer.width, activation="relu", **named),
        "dropout": lambda: keras.layers.Dropout(spec.dropout, **named),
        "output": lambda: keras.layers.Dense(layer.width, activation="softmax", **named),
    }
    return makers[layer.kind]()


def build_model(spec: ModelSpec, precision: str = "float32"):
    """A `keras.Sequential` for `spec`; raises InfeasibleSpec before building anything.

    Hidden layers compute in `precision` (a Keras dtype policy); the output layer stays
    float32, so the softmax and the loss are taken in full precision.
    """
    import keras

    layers = [keras_layer(layer, spec, precision) for layer in plan(spec)]
    return keras.Sequential([keras.Input((INPUT_SIDE, INPUT_SIDE, INPUT_CHANNELS)), *layers],
                            name=spec.describe().replace(" ", "_"))


def summary_text(model) -> str:
    """The model summary (layer, output shape, params) as Keras prints it, as plain text."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=88)
    return "\n".join(lines) + "\n"
