"""Layer tables: every output shape and parameter count checked against hand-derived rows."""

from __future__ import annotations

import pytest

from pipeline.model.layer_table import layer_rows, layer_table
from pipeline.model.shapes import InfeasibleSpec
from pipeline.report.layer_prose import layer_summary_sentence
from pipeline.specs.model import ModelSpec

TEXTBOOK = ModelSpec(arch="cnn", filters=(32, 64, 64), kernel_size=3, pooling="max",
                     padding="valid", dense_units=(64,))
NO_HIDDEN = ModelSpec(arch="cnn", filters=(32, 64, 128), kernel_size=3, pooling="max",
                      padding="valid", dense_units=())
NO_HIDDEN_NO_POOLING = NO_HIDDEN.model_copy(update={"pooling": "none"})

# Derived by hand: valid 3x3 conv side = side - 2, 2x2 pooling halves (floored),
# conv params = (3*3*in + 1) * out, Dense params = (in + 1) * out.
TEXTBOOK_ROWS = [
    ("conv1 (Conv2D)", "(None, 26, 26, 32)", 320),           # (9*1 + 1) * 32
    ("max_pool1 (MaxPooling2D)", "(None, 13, 13, 32)", 0),
    ("conv2 (Conv2D)", "(None, 11, 11, 64)", 18_496),        # (9*32 + 1) * 64
    ("max_pool2 (MaxPooling2D)", "(None, 5, 5, 64)", 0),
    ("conv3 (Conv2D)", "(None, 3, 3, 64)", 36_928),          # (9*64 + 1) * 64
    ("flatten (Flatten)", "(None, 576)", 0),                 # 3*3*64
    ("dense1 (Dense)", "(None, 64)", 36_928),                # (576 + 1) * 64
    ("output (Dense)", "(None, 10)", 650),                   # (64 + 1) * 10
]
NO_HIDDEN_ROWS = [
    ("conv1 (Conv2D)", "(None, 26, 26, 32)", 320),
    ("max_pool1 (MaxPooling2D)", "(None, 13, 13, 32)", 0),
    ("conv2 (Conv2D)", "(None, 11, 11, 64)", 18_496),
    ("max_pool2 (MaxPooling2D)", "(None, 5, 5, 64)", 0),
    ("conv3 (Conv2D)", "(None, 3, 3, 128)", 73_856),         # (9*64 + 1) * 128
    ("flatten (Flatten)", "(None, 1152)", 0),                # 3*3*128
    ("output (Dense)", "(None, 10)", 11_530),                # (1152 + 1) * 10
]
NO_POOLING_ROWS = [
    ("conv1 (Conv2D)", "(None, 26, 26, 32)", 320),
    ("conv2 (Conv2D)", "(None, 24, 24, 64)", 18_496),
    ("conv3 (Conv2D)", "(None, 22, 22, 128)", 73_856),
    ("flatten (Flatten)", "(None, 61952)", 0),               # 22*22*128
    ("output (Dense)", "(None, 10)", 619_530),               # (61952 + 1) * 10
]


@pytest.mark.parametrize(("spec", "expected", "total"), [
    (TEXTBOOK, TEXTBOOK_ROWS, 93_322),
    (NO_HIDDEN, NO_HIDDEN_ROWS, 104_202),
    (NO_HIDDEN_NO_POOLING, NO_POOLING_ROWS, 712_202),
], ids=["93322", "104202", "712202"])
def test_every_row_matches_the_hand_derived_table(spec, expected, total):
    rows = [(row.layer, row.output_shape, row.params) for row in layer_rows(spec)]
    assert rows == expected
    assert sum(params for _, _, params in expected) == total
    lines = layer_table(spec)
    assert lines[:2] == ["| Layer (type) | Output Shape | Param # |", "|---|---|---:|"]
    assert lines[2:-2] == [f"| {name} | {shape} | {params:,} |"
                           for name, shape, params in expected]
    assert lines[-2:] == ["", f"Total params: {total:,}"]


def test_dropout_row_sits_before_the_output_layer():
    rows = layer_rows(TEXTBOOK.model_copy(update={"dropout": 0.5}))
    assert [(row.layer, row.output_shape, row.params) for row in rows[-3:]] == [
        ("dense1 (Dense)", "(None, 64)", 36_928), ("dropout (Dropout)", "(None, 64)", 0),
        ("output (Dense)", "(None, 10)", 650)]


def test_dense_network_table():
    rows = layer_rows(ModelSpec(arch="dense", dense_units=(128,)))
    assert [(row.layer, row.output_shape, row.params) for row in rows] == [
        ("flatten (Flatten)", "(None, 784)", 0), ("dense1 (Dense)", "(None, 128)", 100_480),
        ("output (Dense)", "(None, 10)", 1_290)]  # 101,770 in all, as the README says


def test_pooling_sentence_states_features_and_params_before_and_after():
    sentence = layer_summary_sentence(NO_HIDDEN, NO_HIDDEN_NO_POOLING)
    for number in ("61,952", "1,152", "104,202", "712,202"):
        assert number in sentence
    assert sentence == ("Without pooling, the network flattens 61,952 features instead of 1,152 "
                        "and grows from 104,202 to 712,202 parameters.")


def test_padding_and_shrinking_sentences():
    same = TEXTBOOK.model_copy(update={"padding": "same"})  # 28 -> 14 -> 7: 7*7*64 = 3,136
    assert layer_summary_sentence(TEXTBOOK, same) == (
        "With same padding instead of valid, the network flattens 3,136 features instead of 576 "
        "and grows from 93,322 to 257,162 parameters.")
    assert layer_summary_sentence(same, TEXTBOOK) == (
        "With valid padding instead of same, the network flattens 576 features instead of 3,136 "
        "and shrinks from 257,162 to 93,322 parameters.")
    avg = TEXTBOOK.model_copy(update={"pooling": "avg"})
    assert layer_summary_sentence(TEXTBOOK, avg) == (
        "With avg pooling instead of max, the network still flattens 576 features and keeps "
        "its 93,322 parameters.")


def test_infeasible_spec_is_rejected_with_the_layer_named():
    with pytest.raises(InfeasibleSpec, match="conv block"):
        layer_table(TEXTBOOK.model_copy(update={"kernel_size": 5}))


def test_table_matches_the_keras_model():
    """The real Keras models: layer names, classes, output shapes and params, row by row."""
    from pipeline.model.keras_builder import build_model

    for spec in (NO_HIDDEN, NO_HIDDEN_NO_POOLING,
                 TEXTBOOK.model_copy(update={"pooling": "avg", "dropout": 0.25})):
        model = build_model(spec)
        keras_rows = [(f"{layer.name} ({type(layer).__name__})",
                       "(" + ", ".join(map(str, layer.output.shape)) + ")", layer.count_params())
                      for layer in model.layers]
        rows = layer_rows(spec)
        assert [(row.layer, row.output_shape, row.params) for row in rows] == keras_rows
        assert sum(row.params for row in rows) == model.count_params()
