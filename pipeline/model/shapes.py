"""Layer-by-layer arithmetic of a ModelSpec, without TensorFlow.

Output sizes follow O = (I - F + 2P) / S + 1 (floored); a spec whose feature map shrinks
below 1x1 is infeasible and is rejected here, before any model is built. Parameter counts
and forward FLOPs come from the same plan, so the grid can be expanded and costed cheaply.
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
    name: str
    output_shape: tuple[int, ...]
    params: int
    flops: int


def output_side(input_side: int, kernel: int, stride: int, padding: int) -> int:
    """O = (I - F + 2P) / S + 1, floored as frameworks do."""
    return (input_side - kernel + 2 * padding) // stride + 1


def plan(spec: ModelSpec) -> list[LayerPlan]:
    """Every layer with its output shape, parameter count and forward FLOPs per sample.

    FLOPs count 2 per multiply-accumulate of conv and Dense layers; pooling, biases and
    activations are left out, as is usual when comparing architectures.
    """
    layers: list[LayerPlan] = []
    side, channels = INPUT_SIDE, INPUT_CHANNELS
    if spec.arch == "cnn":
        kernel = int(spec.kernel_size)  # ModelSpec gives every CNN one (CNN_DEFAULTS)
        for block, num_filters in enumerate(spec.filters, start=1):
            padding = (kernel - 1) // 2 if spec.padding == "same" else 0
            new_side = side if spec.padding == "same" else output_side(side, kernel, 1, padding)
            if new_side < 1:
                raise InfeasibleSpec(
                    f"conv block {block} (kernel {kernel}, padding {spec.padding}): input "
                    f"{side}x{side} gives output {new_side}x{new_side}, below 1x1"
                )
            params = (kernel * kernel * channels + 1) * num_filters
            flops = 2 * new_side * new_side * num_filters * kernel * kernel * channels
            side, channels = new_side, num_filters
            layers.append(LayerPlan(f"conv{block}", (side, side, channels), params, flops))
            if spec.pooling != "none" and block < len(spec.filters):
                new_side = output_side(side, POOL_SIZE, POOL_SIZE, 0)
                if new_side < 1:
                    raise InfeasibleSpec(
                        f"{spec.pooling} pooling after conv block {block}: input "
                        f"{side}x{side} gives output {new_side}x{new_side}, below 1x1"
                    )
                side = new_side
                layers.append(LayerPlan(f"{spec.pooling}_pool{block}", (side, side, channels),
                                        0, 0))
    features = side * side * channels
    layers.append(LayerPlan("flatten", (features,), 0, 0))
    for index, units in enumerate((*spec.dense_units, NUM_CLASSES), start=1):
        name = "output" if index == len(spec.dense_units) + 1 else f"dense{index}"
        layers.append(LayerPlan(name, (units,), (features + 1) * units, 2 * features * units))
        features = units
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
