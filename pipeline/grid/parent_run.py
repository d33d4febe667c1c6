"""The train stage's MLflow parent run: opened when the first run is about to train (a stage
with nothing to train leaves no empty parent), closed with the trained and failed counts."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from pipeline.config import Project
from pipeline.grid.outcome import GridOutcome
from pipeline.grid.plan import GridPlan
from pipeline.progress import console
from pipeline.specs.grid import GridSpec

if TYPE_CHECKING:
    from pipeline.runs.execute import RunContext


class ParentOnDemand(ExitStack):
    """The stage's MLflow parent run, opened when the first run is about to train; it ends
    with the trained and failed counts."""

    def __init__(self, project: Project, grid: GridSpec, tags: dict[str, str],
                 outcome: GridOutcome):
        super().__init__()
        self.project, self.grid, self.outcome = project, grid, outcome
        self.tags = {"grid": grid.name, "profile": project.params.profile}
        self.parent_tags = {**self.tags, **tags}
        self.parent = self.opened = None

    def __exit__(self, *exc_info) -> bool:
        if self.parent is not None:
            self.parent.metrics = {"runs.trained": len(self.outcome.trained),
                                   "runs.failed": len(self.outcome.failed)}
            self.parent.failed = bool(self.outcome.failed or self.outcome.unfinished)
        return super().__exit__(*exc_info)

    def context(self, plan: GridPlan) -> RunContext:
        """The run context under the parent run (opened, with the plan's counts, at first)."""
        from pipeline.runs.execute import RunContext
        from pipeline.runs.tracking import Tracker, experiment_name

        if self.opened is None:
            tracker = Tracker(self.project, experiment_name(self.project, self.grid.name),
                              description=self.grid.description)
            if closed := tracker.close_abandoned_runs():
                console.print(f"closed {closed} MLflow run(s) left RUNNING by a killed stage")
            counts = {"runs.total": len(plan.runs), "runs.pending": len(plan.pending),
                      "runs.cached": len(plan.reused), "runs.infeasible": len(plan.infeasible)}
            self.parent = self.enter_context(tracker.parent_run(
                f"grid {self.grid.name} ({self.project.params.profile})",
                {**self.parent_tags, **counts}, self.parent_tags))
            self.outcome.parent_run_id = self.parent.run_id
            self.opened = RunContext(tracker, self.parent.run_id, plan.code_version, self.tags)
        return self.opened
