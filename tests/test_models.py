"""Model builder: the textbook seeds' parameter counts, output sizes and infeasible specs."""

import pytest

from pipeline.model.keras_builder import build_model, summary_text
from pipeline.model.shapes import InfeasibleSpec, count_flops, count_params, output_side, plan
from pipeline.specs.model import ModelSpec

SEEDS = [
    ({"arch": "cnn", "filters": [32, 64, 64], "dense_units": [64]}, 93_322),
    ({"arch": "cnn", "filters": [32, 64, 128]}, 104_202),
    ({"arch": "cnn", "filters": [32, 64, 128], "pooling": "none"}, 712_202),
    ({"arch": "dense", "dense_units": [256, 128]}, 235_146),
    ({"arch": "dense", "dense_units": [128]}, 101_770),
]


@pytest.mark.parametrize(("fields", "expected"), SEEDS)
def test_seed_models_have_textbook_parameter_counts(fields, expected):
    spec = ModelSpec(**fields)
    assert count_params(spec) == expected
    assert build_model(spec).count_params() == expected


def test_output_size_formula():
    assert output_side(28, 3, 1, 0) == 26
    assert output_side(28, 5, 1, 2) == 28
    assert output_side(13, 2, 2, 0) == 6
    shapes = [layer.output_shape for layer in plan(ModelSpec(**SEEDS[0][0]))]
    assert shapes[:5] == [(26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64), (3, 3, 64)]


def test_infeasible_spec_is_rejected_before_building_with_layer_and_sizes():
    spec = ModelSpec(arch="cnn", filters=[32, 64, 64], kernel_size=5, dense_units=[64])
    with pytest.raises(InfeasibleSpec, match=r"conv block 3 \(kernel 5, padding valid\): "
                                             r"input 4x4 gives output 0x0"):
        build_model(spec)


def test_same_padding_keeps_size_and_flops_grow_with_kernel():
    small = ModelSpec(arch="cnn", filters=[8], kernel_size=3, padding="same")
    large = ModelSpec(arch="cnn", filters=[8], kernel_size=7, padding="same")
    assert plan(large)[0].output_shape == (28, 28, 8)
    assert count_flops(large) > count_flops(small)
    assert count_flops(small) == 2 * 28 * 28 * 8 * 9 + 2 * 28 * 28 * 8 * 10


def test_dense_spec_rejects_cnn_settings():
    with pytest.raises(ValueError, match="takes no cnn settings"):
        ModelSpec(arch="dense", dense_units=[128], kernel_size=3)


def test_summary_lists_layers_and_total():
    text = summary_text(build_model(ModelSpec(**SEEDS[0][0])))
    assert "conv1" in text and "max_pool1" in text and "93,322" in text
