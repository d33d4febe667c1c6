"""One source per factor (issue 14 #4): the sweep space, the results columns and the report's
change sentences all come from pipeline.specs.factors; a factor missing from one fails here."""

from __future__ import annotations

import optuna
import pytest
from pydantic import ValidationError

from pipeline.report.layer_prose import PHRASES, change_phrase
from pipeline.report.results import RUN_COLUMNS, factor_values
from pipeline.specs.factors import FACTOR_NAMES, FACTORS
from pipeline.specs.model import ModelSpec
from pipeline.sweeps.spec import SearchSpace, SweepSpec, suggest_run

BASELINE = ModelSpec(arch="cnn", filters=(32, 64, 64), kernel_size=3, pooling="max",
                     padding="valid", dense_units=(64,))
OTHER_LEVEL = {"pooling": "avg", "kernel_size": 5, "padding": "same", "filters": (16, 32, 32),
               "dense_units": (128,), "dropout": 0.25}
BAD_LEVEL = {"pooling": "median", "kernel_size": 0, "padding": "full", "filters": (0,),
             "dense_units": (-1,), "dropout": 1.5}


def test_every_factor_has_a_level_for_these_tests():
    assert set(OTHER_LEVEL) == set(BAD_LEVEL) == set(FACTOR_NAMES)


@pytest.mark.parametrize("factor", FACTORS, ids=FACTOR_NAMES)
def test_every_factor_is_in_the_sweep_space_with_its_levels_type(factor):
    assert factor.name in SearchSpace.model_fields
    bad = BAD_LEVEL[factor.name]
    with pytest.raises(ValidationError, match=factor.name):
        SearchSpace(arch=["cnn"], **{factor.name: {"low": bad, "high": bad}
                                     if factor.sweep_range else [bad]})


@pytest.mark.parametrize("factor", FACTORS, ids=FACTOR_NAMES)
def test_every_factor_is_suggested_by_a_sweep_trial(factor):
    level = OTHER_LEVEL[factor.name]
    space = {"arch": ["cnn"], factor.name: ({"low": level, "high": level} if factor.sweep_range
                                            else [level])}
    sweep = SweepSpec(name="t", dataset="mnist", epochs=1, space=space)
    study = optuna.create_study()
    spec = suggest_run(study.ask(), sweep)
    assert getattr(spec.model, factor.name) == level


def test_a_trial_asks_for_the_factors_in_the_released_order():
    """Seeded sweeps repeat their trials only if the order of suggestions stays the same."""
    sweep = SweepSpec(name="t", dataset="mnist", epochs=1, space={
        "arch": ["cnn"], "filters": [[8], [16]], "kernel_size": [3, 5],
        "pooling": ["max", "avg"], "padding": ["valid", "same"], "dense_units": [[8], [16]],
        "dropout": {"low": 0.0, "high": 0.5}, "batch_size": [32, 64],
        "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    suggest_run(trial, sweep)
    assert list(trial.params) == ["model.arch", "model.filters", "model.kernel_size",
                                  "model.pooling", "model.padding", "model.dense_units",
                                  "model.dropout", "training.batch_size",
                                  "training.learning_rate"]


@pytest.mark.parametrize("factor", FACTORS, ids=FACTOR_NAMES)
def test_every_factor_is_a_results_column(factor):
    assert factor.name in RUN_COLUMNS
    dense = factor_values(ModelSpec(arch="dense", dense_units=(64,)))
    assert dense[factor.name] == ("-" if factor.cnn_only else factor_values(BASELINE)[factor.name])


def test_results_cells_are_as_before():
    assert factor_values(BASELINE) == {"arch": "cnn", "pooling": "max", "kernel_size": 3,
                                       "padding": "valid", "filters": "32-64-64",
                                       "dense_units": "64", "dropout": 0.0}
    assert factor_values(ModelSpec(arch="dense")) == {
        "arch": "dense", "pooling": "-", "kernel_size": "-", "padding": "-", "filters": "-",
        "dense_units": "none", "dropout": 0.0}


@pytest.mark.parametrize("factor", FACTORS, ids=FACTOR_NAMES)
def test_every_factor_has_its_own_sentence_in_the_layer_section(factor):
    assert factor.name in PHRASES, f"write how a change of {factor.name} reads"
    variant = BASELINE.model_copy(update={factor.name: OTHER_LEVEL[factor.name]})
    phrase = change_phrase(BASELINE, variant)
    assert phrase != "with the same settings" and " and " not in phrase


def test_changes_are_listed_in_the_sentence_order():
    variant = BASELINE.model_copy(update={"kernel_size": 5, "padding": "same"})
    assert change_phrase(BASELINE, variant) == (
        "with same padding instead of valid and with 5x5 kernels instead of 3x3")
