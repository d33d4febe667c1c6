"""The baseline's recipe against the textbooks': which comparisons, and their paired Δs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.grid.comparisons import Settings
from pipeline.report.recipe_gap import GRID_BASELINE, recipe_gap_section, recipe_steps
from pipeline.specs.grid import GridSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec
from tests.conftest import TINY_GRID, write_project
from tests.synthetic_records import write_finished

ROOT = Path(__file__).resolve().parent.parent
IMAGES = 3000
STANDARD = (55000, 5000)  # train and validation images of MNIST with validation_size 5000


def load_grid(name: str) -> GridSpec:
    return GridSpec.model_validate(yaml.safe_load((ROOT / "experiments/grids" / name)
                                                  .read_text()))


def committed_recipe(profile: str) -> TrainingRecipe:
    """The training recipe params.yaml gives the named profile of experiments/profiles.yaml."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    budget = yaml.safe_load((ROOT / "experiments/profiles.yaml").read_text())[profile]
    return TrainingRecipe(**params["training"],
                          **{key: budget[key] for key in TrainingRecipe.model_fields
                             if key in budget})


def test_full_grid_splits_each_textbook_recipe_into_single_changes():
    full = committed_recipe("full")
    assert (full.optimizer, full.batch_size, full.epochs) == ("adam", 64, 5)
    rows = [(step.dataset, step.name, step.against, step.change)
            for step in recipe_steps(load_grid("full.yaml"), full, STANDARD)]
    images = {"training images": ("all 55,000", "all 60,000")}
    assert rows == [
        ("mnist", "grid-recipe-all-images-mnist", GRID_BASELINE, images),
        ("mnist", "chollet-1st-convnet", "grid-recipe-all-images-mnist",
         {"optimizer": ("adam", "rmsprop")}),
        ("mnist", "chollet-1st-convnet", GRID_BASELINE,
         {**images, "optimizer": ("adam", "rmsprop")}),
        ("fashion_mnist", "grid-recipe-all-images-fashion", GRID_BASELINE, images),
        ("fashion_mnist", "fashion-notes-cnn", "grid-recipe-all-images-fashion",
         {"batch": (64, 32)}),
        ("fashion_mnist", "fashion-notes-cnn", GRID_BASELINE, {**images, "batch": (64, 32)}),
    ]


def test_cheap_references_measure_the_budget_so_they_take_no_part():
    assert load_grid("default.yaml").references.budget is not None
    assert recipe_steps(load_grid("default.yaml"), committed_recipe("default"), STANDARD) == []


def reference(name: str, **recipe) -> dict:
    return {"name": name, "source": "test", "dataset": "mnist",
            "model": TINY_GRID["cnn"]["baseline"], "expected": [0.0, 1.0],
            "recipe": {"epochs": 1, "train_samples": 300, "val_samples": 100, **recipe}}


def write_done(project, spec: RunSpec, accuracy: float) -> np.ndarray:
    """A finished record whose test predictions are right with probability `accuracy`."""
    right = np.random.default_rng([spec.seed, int(accuracy * 100)]).random(IMAGES) < accuracy
    write_finished(project, spec, right)
    return right


def test_section_pairs_the_same_network_by_seed_and_reports_missing_runs(tmp_path,
                                                                        synthetic_data_dir):
    grid = {**TINY_GRID, "datasets": ["mnist"], "seeds": [0, 1, 2],
            "references": {"runs": [reference("rmsprop", optimizer="rmsprop"),
                                    reference("rmsprop-batch-32", optimizer="rmsprop",
                                              batch_size=32)]}}
    project = load_project(write_project(tmp_path / "project", synthetic_data_dir, grid))
    prepare_all(project)
    loaded = project.load_grid()
    training = project.params.training_recipe()
    rmsprop = loaded.references.runs[0].recipe
    model = loaded.cnn.baseline
    gains = []
    for seed in loaded.initial_seeds:
        base = write_done(project, RunSpec(dataset="mnist", seed=seed, model=model,
                                           training=training), 0.80)
        other = write_done(project, RunSpec(dataset="mnist", seed=seed, model=model,
                                            training=rmsprop), 0.90)
        gains.append(other.mean() - base.mean())
    lines = recipe_gap_section(project.results_dir, loaded, training, Settings(), (1000, 200))
    rows = [line for line in "\n".join(lines).splitlines() if line.startswith("| mnist")]
    assert len(rows) == 3, "rmsprop vs grid, batch 32 vs rmsprop, and batch 32 vs grid"
    rmsprop_row = next(row for row in rows
                       if row.startswith(f"| mnist | rmsprop | {GRID_BASELINE}"))
    assert "optimizer adam → rmsprop" in rmsprop_row
    assert f"{np.mean(gains):+.4f} [" in rmsprop_row
    assert "better (3 seeds)" in rmsprop_row
    missing = [row for row in rows if "rmsprop-batch-32 |" in row]
    assert len(missing) == 2 and all("no finished runs" in row for row in missing)
    assert any("batch 64 → 32 |" in row for row in missing)
