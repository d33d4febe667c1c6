"""A grid enqueued on a study for workers that the test (or benchmark) starts itself."""

from __future__ import annotations

from pipeline.grid.plan import plan_grid
from pipeline.runs.execute import RunContext
from pipeline.runs.tracking import Tracker, experiment_name
from pipeline.workers.coordinator import enqueue_cells, open_grid_study, publish
from pipeline.workers.queue import grid_study_name


def enqueue_only(project, storage_url: str, study_name: str | None = None):
    """Enqueue the grid's pending cells under an open parent run (left open for the
    workers' child runs). Returns the study, the plan and the parent run id."""
    plan = plan_grid(project)
    tracker = Tracker(project, experiment_name(project, plan.grid.name),
                      description=plan.grid.description)
    tags = {"grid": plan.grid.name}
    parent = tracker.start_parent(f"grid {plan.grid.name} ({project.params.profile}, workers)",
                                  tags, tags)
    study = open_grid_study(storage_url, study_name or grid_study_name(plan.grid.name))
    enqueue_cells(study, plan, plan.pending)
    publish(study, plan, RunContext(tracker, parent, plan.code_version),
            project.params.mlflow.log_models)
    return study, plan, parent
