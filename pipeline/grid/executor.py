"""How the train stage's pending runs get trained: `InProcess` here, one after another;
pipeline.workers: through a shared Optuna study (`StudyExecutor`) or N local jobs.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol

from pipeline.config import Project
from pipeline.data.prepared import load_prepared
from pipeline.grid.eta import Eta, remaining_text
from pipeline.grid.expansion import GridRun
from pipeline.grid.plan import GridPlan
from pipeline.progress import epoch_callback, make_progress
from pipeline.runs.records import record_path, write_record

if TYPE_CHECKING:
    from pipeline.runs.execute import RunContext


class Executor(Protocol):
    """Trains runs; `tags` go on the stage's MLflow parent run (study name, job count);
    `jobs` is how many runs it trains at once on this machine (for the ETA)."""

    tags: dict[str, str]
    jobs: int

    def execute(self, plan: GridPlan, runs: list[GridRun], context: RunContext,
                eta: Eta | None = None) -> None:
        """Train `runs`, writing each one's record into the plan's results folder; `eta` is
        the stage's estimate for them (progress shows it until records measure better)."""


class InProcess:
    """Train runs one by one in this process, dataset by dataset."""

    tags: dict[str, str] = {}
    jobs = 1

    def __init__(self, project: Project):
        self.project = project

    def execute(self, plan: GridPlan, runs: list[GridRun], context: RunContext,
                eta: Eta | None = None) -> None:
        from pipeline.runs.execute import RunOptions, execute_run

        log_model = self.project.params.mlflow.log_models
        ordered = [run for dataset in plan.grid.datasets for run in runs
                   if run.spec.dataset == dataset]
        with make_progress(eta_field=True) as progress:
            task = progress.add_task("training", total=len(runs), left="")
            splits = None
            for number, run in enumerate(ordered):
                left = remaining_text(self.project, ordered[number:], self.jobs, eta)
                progress.update(task, description=run.spec.name, left=left)
                if splits is None or splits.name != run.spec.dataset:
                    splits = load_prepared(self.project.prepared_dir, run.spec.dataset)
                shown = epoch_callback(progress, task, run.spec.name, run.spec.training.epochs)
                execute_run(run.spec, splits, context, RunOptions(
                    log_model=log_model, callbacks=(shown,),
                    keep=partial(write_record, record_path(plan.results_dir, run.spec))))
                progress.advance(task)

