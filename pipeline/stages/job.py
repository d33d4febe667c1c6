"""One job of the train stage's local executor (pipeline.workers.local starts N of them): a
worker on the stage's grid study that trains waiting cells and leaves when none is left.
The `worker` command (pipeline.stages.worker) runs the same loop for a grid study."""

from __future__ import annotations

import argparse

import optuna

from pipeline.config import Project
from pipeline.progress import console
from pipeline.redaction import redact
from pipeline.stages.arguments import add_storage_options, stage_main
from pipeline.stages.checks import grid_study
from pipeline.stores import check_store
from pipeline.training.threads import fix_threads
from pipeline.validation import ConfigError
from pipeline.workers.parent_watch import watch_parent
from pipeline.workers.queue import open_storage
from pipeline.workers.worker import WorkerSettings, study_tracking_uri, work


def add_options(parser: argparse.ArgumentParser) -> None:
    add_storage_options(parser)
    parser.add_argument("--max-runs", type=int, default=None, help="stop after N cells")
    parser.add_argument("--no-wait", action="store_true",
                        help="leave when no cell is waiting, even if others still run")


def load_joined(url: str, name: str) -> optuna.Study:
    """The study `name` on `url`; a one-line error when there is none."""
    try:
        return optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:
        raise ConfigError(f"no study {name!r} in {redact(url)}; start it with `python -m "
                          f"pipeline train --storage ...` or `python -m pipeline sweep`"
                          ) from None


def storage_of(project: Project, arguments: argparse.Namespace) -> str:
    url = arguments.storage or project.params.workers.storage
    if url is None:
        raise ConfigError("worker needs --storage URL (or params `workers.storage`)")
    return url


def work_on_grid(project: Project, study: optuna.Study, arguments: argparse.Namespace) -> None:
    """Train the grid study's waiting cells (a heartbeat each) until none is left."""
    check_store(study_tracking_uri(study), "MLflow tracking store")
    watch_parent()
    settings = WorkerSettings.from_params(project.params.workers)
    settings.max_runs = arguments.max_runs
    settings.wait_for_running = not arguments.no_wait
    outcome = work(study, project, settings)
    console.print(f"worker done: {len(outcome.trained)} trained, {len(outcome.failed)} failed, "
                  f"{len(outcome.reaped)} lost trials re-queued")


def run(project: Project, arguments: argparse.Namespace) -> None:
    fix_threads()  # before TensorFlow starts: every run, alone or beside others, alike
    study = load_joined(storage_of(project, arguments), grid_study(project, arguments.study))
    work_on_grid(project, study, arguments)


if __name__ == "__main__":
    raise SystemExit(stage_main("job", add_options, run))
