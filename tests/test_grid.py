"""Grid expansion: deterministic order, stable ids, no Dense multiplication, infeasible cells."""

from pipeline.config import load_grid
from pipeline.grid.expansion import expand
from pipeline.specs.grid import GridSpec
from pipeline.specs.recipe import TrainingRecipe
from tests.conftest import REPO_ROOT, TINY_GRID

TRAINING = TrainingRecipe(epochs=1)


def test_tiny_grid_expands_one_factor_at_a_time():
    runs = expand(GridSpec.model_validate(TINY_GRID), TRAINING)
    names = [run.spec.model.describe() for run in runs]
    assert names == [
        "cnn f4-8-8 k3 max valid h8",
        "cnn f4-8-8 k3 avg valid h8",
        "cnn f4-8-8 k3 max same h8",
        "cnn f4-8-8 k5 max valid h8",
        "cnn f4-8-8 k5 max same h8",
        "dense h16",
    ]
    infeasible = [run.spec.model.describe() for run in runs if run.infeasible]
    assert infeasible == ["cnn f4-8-8 k5 max valid h8"]


def test_ids_are_stable_and_distinct():
    first = [run.spec.run_key for run in expand(GridSpec.model_validate(TINY_GRID), TRAINING)]
    again = [run.spec.run_key for run in expand(GridSpec.model_validate(TINY_GRID), TRAINING)]
    assert first == again
    assert len(set(first)) == len(first)
    assert first[0] == "cdf3e880b1-s0"  # a hash of the canonical config: same on every machine


def test_cnn_axes_do_not_multiply_dense_variants():
    grid = load_grid(REPO_ROOT / "experiments/grids/default.yaml")
    runs = expand(grid, TRAINING)
    dense = {run.spec.variant_id for run in runs if run.spec.model.arch == "dense"}
    assert len(dense) == 2 * len(grid.datasets)


def test_default_grid_covers_every_factor_on_both_datasets():
    grid = load_grid(REPO_ROOT / "experiments/grids/default.yaml")
    runs = expand(grid, TRAINING)
    feasible = [run.spec for run in runs if not run.infeasible]
    for dataset in ("mnist", "fashion_mnist"):
        models = [spec.model for spec in feasible if spec.dataset == dataset]
        assert {m.pooling for m in models if m.arch == "cnn"} == {"max", "avg", "none"}
        assert len({m.kernel_size for m in models if m.arch == "cnn"}) >= 2
        assert len({m.filters for m in models if m.arch == "cnn"}) >= 2
        assert {m.arch for m in models} == {"cnn", "dense"}
    assert len(grid.initial_seeds) >= 2
    assert sum(1 for run in runs if run.infeasible) == 2 * len(grid.initial_seeds)


def test_factorial_design_takes_the_full_product():
    grid = GridSpec.model_validate({**TINY_GRID, "design": "factorial"})
    cnn = {run.spec.variant_id for run in expand(grid, TRAINING) if run.spec.model.arch == "cnn"}
    assert len(cnn) == 2 * 2 * 2
