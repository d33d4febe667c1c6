"""Layer-by-layer arithmetic of a ModelSpec, without TensorFlow: the one list of layers.

`plan` lists every layer a network has, in order (conv, pooling, flatten, hidden Dense,
dropout, output), with its output shape, parameters and forward FLOPs. The Keras builder
turns each planned layer into a Keras layer and the layer tables print them, so the layer
list is written here only. Output sizes follow O = (I - F + 2P) / S + 1 (floored); a spec
whose feature map shrinks below 1x1 is infeasible and is rejected here, before any model is
built.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.specs.model import ModelSpec

INPUT_SIDE = 28
INPUT_CHANNELS = 1
NUM_CLASSES = 10
POOL_SIZE = 2


class InfeasibleSpec(ValueError):
    """The spec's feature map shrinks below 1x1; the message names the layer and sizes."""


@dataclass(frozen=True)
class LayerPlan:
    """One layer: `kind` (conv, max_pool, avg_pool, flatten, dense, dropout, output), its
    name as Keras shows it, output shape, parameters, forward FLOPs per sample, and `width`:
    filters or units (conv, dense, output), 0 for layers without weights."""

    kind: str
    name: str
    output_shape: tuple[int, ...]
    params: int = 0
    flops: int = 0
    width: int = 0


def output_side(input_side: int, kernel: int, stride: int, padding: int) -> int:
    """O = (I - F + 2P) / S + 1, floored as frameworks do."""
    return (input_side - kernel + 2 * padding) // stride + 1


def conv_layers(spec: ModelSpec) -> list[LayerPlan]:
    """The conv blocks, a pooling layer after each but the last (unless pooling is none)."""
    layers: list[LayerPlan] = []
    side, channels, kernel = INPUT_SIDE, INPUT_CHANNELS, spec.kernel_size
    for block, num_filters in enumerate(spec.filters, start=1):
        new_side = side if spec.padding == "same" else output_side(side, kernel, 1, 0)
        if new_side < 1:
            raise InfeasibleSpec(
                f"conv block {block} (kernel {kernel}, padding {spec.padding}): input "
                f"{side}x{side} gives output {new_side}x{new_side}, below 1x1"
            )
        params = (kernel * kernel * channels + 1) * num_filters
        flops = 2 * new_side * new_side * num_filters * kernel * kernel * channels
        side, channels = new_side, num_filters
        layers.append(LayerPlan("conv", f"conv{block}", (side, side, channels), params, flops,
                                num_filters))
        if spec.pooling != "none" and block < len(spec.filters):
            new_side = output_side(side, POOL_SIZE, POOL_SIZE, 0)
            if new_side < 1:
                raise InfeasibleSpec(
                    f"{spec.pooling} pooling after conv block {block}: input "
                    f"{side}x{side} gives output {new_side}x{new_side}, below 1x1"
                )
            side = new_side
            kind = f"{spec.pooling}_pool"
            layers.append(LayerPlan(kind, f"{kind}{block}", (side, side, channels)))
    return layers


def plan(spec: ModelSpec) -> list[LayerPlan]:
    """Every layer with its output shape, parameter count and forward FLOPs per sample.

    FLOPs count 2 per multiply-accumulate of conv and Dense layers; pooling, biases and
    activations are left out, as is usual when comparing architectures.
    """
    layers = conv_layers(spec) if spec.arch == "cnn" else []
    features = 1
    for size in layers[-1].output_shape if layers else (INPUT_SIDE, INPUT_SIDE, INPUT_CHANNELS):
        features *= size
    layers.append(LayerPlan("flatten", "flatten", (features,)))
    for index, units in enumerate(spec.dense_units, start=1):
        layers.append(LayerPlan("dense", f"dense{index}", (units,), (features + 1) * units,
                                2 * features * units, units))
        features = units
    if spec.dropout:
        layers.append(LayerPlan("dropout", "dropout", (features,)))
    layers.append(LayerPlan("output", "output", (NUM_CLASSES,), (features + 1) * NUM_CLASSES,
                            2 * features * NUM_CLASSES, NUM_CLASSES))
    return layers


def check_feasible(spec: ModelSpec) -> str | None:
    """None when the spec can be built, else the reason it cannot."""
    try:
        plan(spec)
    except InfeasibleSpec as error:
        return str(error)
    return None


def count_params(spec: ModelSpec) -> int:
    return sum(layer.params for layer in plan(spec))


def count_flops(spec: ModelSpec) -> int:
    return sum(layer.flops for layer in plan(spec))
