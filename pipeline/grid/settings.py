"""reports/run.json: the effective settings of a grid execution, for `dvc exp show`.

DVC shows a stage's params and metrics as columns. The profiles live in their own file (a
file dependency), so the train stage states here, as metrics, what the chosen profile
resolved to: one column per setting instead of one per setting of every profile.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import Project
from pipeline.grid.expansion import grid_models
from pipeline.runs.records import recipe_tag
from pipeline.specs.grid import AdaptiveSeeds, GridSpec

RUN_SETTINGS_FILE = "run.json"


def seeds_setting(grid: GridSpec) -> int | str:
    """The number of seeds per variant, or `initial-max` for adaptive replication."""
    if isinstance(grid.seeds, AdaptiveSeeds):
        return f"{grid.seeds.initial}-{grid.seeds.max}"
    return f"{len(grid.seeds)}+settle" if grid.settle is not None else len(grid.seeds)


def run_settings(project: Project) -> dict[str, object]:
    """Profile, grid, budget and seeds of the active profile, as they apply to every run;
    `recipe` is the tag that ends the grid runs' record names (references have their own)."""
    grid = project.load_grid()
    recipe = project.params.training_recipe()
    return {"profile": project.params.profile, "grid": grid.name,
            "variants": len(grid_models(grid)), "datasets": len(grid.datasets),
            "seeds": seeds_setting(grid), "epochs": recipe.epochs,
            "train_images": recipe.train_samples or "all",
            "val_images": recipe.val_samples or "all",
            "test_images": recipe.test_samples or "all", "recipe": recipe_tag(recipe)}


def write_run_settings(project: Project) -> Path:
    """Write {"run": settings} to reports/run.json (declared as metrics of the train stage)."""
    path = project.reports_dir / RUN_SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": run_settings(project)}, indent=2) + "\n")
    return path
