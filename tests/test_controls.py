"""Capacity-matched controls: the matching arithmetic (against Keras), the grid cells they add,
their seeds, their cache, the refusal of an unreachable target, and the report's sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.config import load_grid, load_project
from pipeline.evidence.verdicts import BETTER, EQUIVALENT, UNDECIDED, WORSE, Verdict
from pipeline.grid.controls import control_comparisons
from pipeline.grid.expansion import control_models, expand, expand_references, reference_controls
from pipeline.grid.plan import evidence_settings, plan_grid
from pipeline.grid.replication import replicate
from pipeline.model.capacity import MIN_HIDDEN, InfeasibleControl, match_params
from pipeline.model.layer_table import flattened_features
from pipeline.model.shapes import count_params
from pipeline.report.controls import survival_sentence
from pipeline.report.layer_prose import layer_summary_sentence
from pipeline.runs.records import record_id
from pipeline.specs.grid import GridSpec
from pipeline.specs.model import ModelSpec
from pipeline.specs.run import RunSpec
from pipeline.stages.train import run_grid
from pipeline.validation import ConfigError
from tests.conftest import REPO_ROOT
from tests.synthetic_records import write_finished

GRIDS = REPO_ROOT / "experiments" / "grids"
BASELINE = ModelSpec(arch="cnn", filters=(32, 64, 64), dense_units=(64,))
ORIGINAL = ModelSpec(arch="cnn", filters=(32, 64, 128), dense_units=())  # Chollet 2nd ed.
NO_POOLING = ORIGINAL.model_copy(update={"pooling": "none"})  # its code 8-5


def every_control() -> list[tuple[ModelSpec, ModelSpec, ModelSpec]]:
    """(network resized, variant, control) for every control of the default and full grids."""
    found = {}
    for name in ("default", "full"):
        grid = load_grid(GRIDS / f"{name}.yaml")
        for variant, control in control_models(grid).items():
            found[control] = (grid.cnn.baseline, variant, control)
        by_name = {reference.name: reference for reference in grid.references.runs}
        for name_, control in reference_controls(grid).items():
            reference = by_name[name_]
            found[control] = (by_name[reference.contrast].model, reference.model, control)
    return list(found.values())


def test_matching_arithmetic_agrees_with_keras_count_params():
    from pipeline.model.keras_builder import build_model

    controls = every_control()
    assert len(controls) == 9  # 8 of the full grid (the default's 5 among them) + Chollet's
    for resized, variant, control in controls:
        keras_control = build_model(control).count_params()
        keras_variant = build_model(variant).count_params()
        assert keras_control == count_params(control), control.describe()
        assert keras_variant == count_params(variant), variant.describe()
        assert abs(keras_control - keras_variant) <= 0.05 * keras_variant, control.describe()
        assert (control.pooling, control.padding, control.kernel_size) == (
            resized.pooling, resized.padding, resized.kernel_size), "only widths may change"


def test_chollet_no_pooling_figures_from_the_plan_and_from_keras():
    from pipeline.model.keras_builder import build_model

    assert (count_params(ORIGINAL), count_params(NO_POOLING)) == (104_202, 712_202)
    assert (flattened_features(ORIGINAL), flattened_features(NO_POOLING)) == (1_152, 61_952)
    model = build_model(NO_POOLING)
    assert model.count_params() == 712_202
    assert model.get_layer("conv3").output.shape[1:] == (22, 22, 128)
    assert model.get_layer("flatten").output.shape[1:] == (61_952,)
    assert layer_summary_sentence(ORIGINAL, NO_POOLING) == (
        "Without pooling, the network flattens 61,952 features instead of 1,152 and grows "
        "from 104,202 to 712,202 parameters.")


def test_the_head_is_resized_first_and_the_filters_only_where_it_cannot_reach():
    wider = match_params(BASELINE, 2_038_922, 0.05)  # the no-pooling variant's count
    assert wider.filters == BASELINE.filters and wider.dense_units == (3378,)
    assert count_params(wider) == 2_038_640  # 56,422 + 587 x 3,378 + 10, by hand
    smaller = match_params(BASELINE, 33_194, 0.05)  # 16-32-32: the conv part alone is 55,744
    assert smaller.filters != BASELINE.filters and smaller.dense_units[0] >= MIN_HIDDEN
    assert abs(count_params(smaller) - 33_194) <= 0.05 * 33_194
    no_head = match_params(ORIGINAL, 712_202, 0.05)  # no hidden Dense layer to widen
    assert no_head.dense_units == () and no_head.filters == (87, 174, 347)
    assert count_params(no_head) == 712_275


def test_only_variants_beyond_the_threshold_get_a_control():
    grid = load_grid(GRIDS / "default.yaml")
    controlled = {variant.describe(): count_params(control)
                  for variant, control in control_models(grid).items()}
    assert sorted(controlled) == [
        "cnn f16-32-32 k3 max valid h64", "cnn f32-64-64 k3 max same h64",
        "cnn f32-64-64 k3 none valid h64", "cnn f32-64-64 k5 max same h64", "dense h256-128"]
    # avg pooling (93,322, the same count) and dense h128 (101,770, +9%) need none;
    # 5x5 valid is infeasible and has no count to match.
    comparisons = control_comparisons(grid)
    assert len(comparisons) == 10 and {c.dataset for c in comparisons} == set(grid.datasets)
    runs = expand(grid, load_project(REPO_ROOT / "params.yaml").params.training_recipe())
    assert len(runs) == (9 + 5) * 2 * 2  # (variants + controls) x datasets x initial seeds


def unreachable_grid() -> dict:
    """One conv block and no hidden Dense layer: only the filter count can move, and 3 or 4
    filters miss the 27x27-kernel variant's 24,650 parameters by more than 5%."""
    return {"name": "unreachable", "datasets": ["mnist"], "seeds": [0],
            "controls": {"match": "params", "tolerance": 0.05},
            "cnn": {"baseline": {"arch": "cnn", "filters": [32], "dense_units": []},
                    "axes": {"kernel_size": [3, 27]}}}


def test_an_unreachable_target_is_refused_with_the_counts(tmp_path, synthetic_data_dir, capsys):
    from pipeline.cli import main
    from tests.conftest import write_project

    grid = GridSpec.model_validate(unreachable_grid())
    with pytest.raises(ConfigError) as error:
        control_models(grid)
    message = str(error.value)
    assert message.startswith("grid unreachable: controls: the control of cnn f32 k27 max "
                              "valid h- (24,650 parameters)")
    assert "within ±0.05 of 24,650 parameters" in message
    assert "the nearest reachable: 20,320 and 27,090" in message  # 3 and 4 filters, by hand
    with pytest.raises(InfeasibleControl):
        match_params(grid.cnn.baseline, 24_650, 0.05)

    params = write_project(tmp_path / "p", synthetic_data_dir, unreachable_grid())
    assert main(["--params", str(params), "plan"]) == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert printed.startswith("error: grid unreachable: controls: the control of cnn f32 k27")
    assert printed.endswith("the nearest reachable: 20,320 and 27,090")


def test_a_contrast_must_name_a_reference_with_the_same_recipe():
    data = yaml.safe_load((GRIDS / "default.yaml").read_text())
    lesson = next(r for r in data["references"]["runs"] if r.get("contrast"))
    lesson["contrast"] = "chollet-3rd-convnet"
    with pytest.raises(ValueError, match="contrast 'chollet-3rd-convnet' is not one of"):
        GridSpec.model_validate(data)
    lesson["contrast"] = "fashion-notes-cnn"
    with pytest.raises(ValueError, match="must use the same dataset and recipe"):
        GridSpec.model_validate(data)


def test_references_pair_the_lesson_with_its_original_and_a_control():
    grid = load_grid(GRIDS / "default.yaml")
    runs = expand_references(grid)
    models = {run.spec.model for run in runs}
    assert NO_POOLING in models and ORIGINAL in models
    control = reference_controls(grid)["chollet-2nd-convnet-no-pooling"]
    assert control in models and count_params(control) == 712_275
    recipes = {run.spec.model: run.spec.training for run in runs}
    assert recipes[control] == recipes[ORIGINAL] == recipes[NO_POOLING]
    assert len(runs) == 7 * len(grid.initial_seeds)  # 6 references + 1 control


def verdict_of(name: str, delta: float = 0.01) -> Verdict:
    return Verdict(delta=delta, low=delta - 0.001, high=delta + 0.001, standard_error=0.0005,
                   degrees_of_freedom=10.0, p_value=0.01, seeds=3, p_adjusted=0.02,
                   verdict=name, adjusted_level=0.99, adjusted_low=delta - 0.002,
                   adjusted_high=delta + 0.002)


@pytest.mark.parametrize(("base", "control", "opening"), [
    (BETTER, BETTER, "Yes: x is better than the baseline and still better"),
    (BETTER, WORSE, "No, it reverses: x is better than the baseline but worse"),
    (WORSE, EQUIVALENT, "No: x is worse than the baseline, but equivalent"),
    (BETTER, UNDECIDED, "Not shown: x is better than the baseline, but against a control of "
                        "equal capacity the difference is undecided"),
    (UNDECIDED, WORSE, "There is no decided effect against the baseline (undecided), but at "
                       "equal capacity x is worse"),
    (UNDECIDED, UNDECIDED, "No effect to explain"),
    (BETTER, None, "Not measured yet: x has no paired runs"),
])
def test_the_survival_sentence_follows_both_verdicts(base, control, opening):
    against_control = verdict_of(control) if control else None
    assert survival_sentence("x", verdict_of(base), against_control).startswith(opening)


def controlled_grid(project_root: Path, controls: bool, seeds: object = None) -> None:
    grid = {"name": "controlled", "datasets": ["mnist"], "seeds": seeds or [0],
            "cnn": {"baseline": {"arch": "cnn", "filters": [4, 8, 8], "dense_units": [8]},
                    "axes": {"pooling": ["max", "none"]}}}
    if controls:
        grid["controls"] = {"match": "params", "tolerance": 0.05, "threshold": 0.25}
    (project_root / "grid.yaml").write_text(yaml.safe_dump(grid))


IMAGES = 2000
ACCURACY = {"max": 0.90, "none": 0.90}


def right_answers(spec) -> np.ndarray:
    """Synthetic right/wrong per image, every network as good as the others (every comparison
    stays undecided, so seeds are added up to `max`)."""
    rng = np.random.default_rng([spec.seed, ord(spec.model.pooling[0]), spec.model.dense_units[0]])
    return rng.random(IMAGES) < ACCURACY[spec.model.pooling]


def test_a_control_takes_the_seeds_of_the_variant_it_controls(project):
    controlled_grid(project.root, True, {"initial": 2, "max": 4})
    project = load_project(project.params_path)
    grid = project.load_grid()
    (variant, control), = control_models(grid).items()
    added: list[int] = []

    def train(extra):
        plan = plan_grid(project, None, extra)
        for run in plan.pending:
            write_finished(project, run.spec, right_answers(run.spec))
        added.append(len(plan.pending))

    train({})
    extra = {}
    while True:  # as the train stage does: replay, train what the replay adds, replay again
        replication = replicate(grid, project.params.training_recipe(), project.results_dir,
                                evidence_settings(project, grid))
        if replication.extra_seeds == extra:
            break
        extra = replication.extra_seeds
        train(extra)
    assert added[0] == 6  # baseline, variant and control, 2 seeds each
    seeds = {}
    for run in expand(grid, project.params.training_recipe(), replication.extra_seeds):
        seeds.setdefault(run.spec.model, []).append(run.spec.seed)
    assert seeds[control] == seeds[variant], "a control must pair with its variant on every seed"
    assert seeds[variant] == [0, 1, 2, 3]
    assert [look["runs_added"] for look in replication.looks] == added[1:] == [3, 3], \
        "the extra-run budget must count the control's runs"


@pytest.mark.slow
def test_controls_train_once_and_reuse_the_variants_cache(project):
    from pipeline.report.stage import build_report

    controlled_grid(project.root, False)
    first = run_grid(load_project(project.params_path))
    assert len(first.trained) == 2  # baseline and no pooling
    controlled_grid(project.root, True)
    project = load_project(project.params_path)
    (control,) = control_models(project.load_grid()).values()
    second = run_grid(project)
    assert len(second.trained) == 1 and len(second.plan.reused) == 2, \
        "turning controls on must train only the control"
    assert second.trained == [record_id(RunSpec(dataset="mnist", seed=0, model=control,
                                                training=project.params.training_recipe()))]
    third = run_grid(project)
    assert third.trained == [] and len(third.plan.reused) == 3

    build_report(project)
    report = (project.reports_dir / "ablation.md").read_text()
    assert "## Capacity-matched controls" in report
    assert f"### Control: {control.describe()}" in report
    section = report.split("## Capacity-matched controls")[1].split("\n## ")[0]
    assert f"{control.describe()} ({count_params(control):,})" in section
    assert "- **pooling none**: " in section


def test_the_textbook_counter_example_is_paired_with_its_original_and_its_control(project):
    from pipeline.report.controls import contrast_section

    recipe = {"optimizer": "rmsprop", "batch_size": 64, "learning_rate": 0.001, "epochs": 5}
    references = [
        {"name": "original", "source": "the book", "dataset": "mnist", "expected": [0.5, 1.0],
         "model": ORIGINAL.model_dump(mode="json"), "recipe": recipe},
        {"name": "no-pooling", "source": "the book, code 8-5", "dataset": "mnist",
         "expected": [0.5, 1.0], "model": NO_POOLING.model_dump(mode="json"), "recipe": recipe,
         "contrast": "original"}]
    grid = GridSpec.model_validate({**unreachable_grid(), "name": "lesson", "seeds": [0, 1, 2],
                                    "cnn": {"baseline": BASELINE.model_dump(mode="json")},
                                    "references": {"runs": references}})
    accuracy = {ORIGINAL: 0.95, NO_POOLING: 0.90, reference_controls(grid)["no-pooling"]: 0.95}
    for run in expand_references(grid):
        rng = np.random.default_rng([run.spec.seed, count_params(run.spec.model)])
        write_finished(project, run.spec, rng.random(IMAGES) < accuracy[run.spec.model])
    lines = contrast_section(project.results_dir, grid, evidence_settings(project, grid))
    text = "\n".join(lines)
    assert ("**no-pooling** (the book, code 8-5) against **original**: without pooling, the "
            "network flattens 61,952 features instead of 1,152 and grows from 104,202 to "
            "712,202 parameters (the layer tables are under Layer shapes).") in text
    assert "| original resized to equal capacity: cnn f87-174-347 k3 max valid h- | 712,275 |" \
        in text
    assert text.count(": worse |") == 2, "a 5-point loss on 2,000 images x 3 seeds is decided"
    assert ("Yes: no-pooling is worse than original and still worse than a control of equal "
            "capacity") in text
