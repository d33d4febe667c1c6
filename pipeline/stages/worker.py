"""`python -m pipeline worker`: join a grid study (take its cells, as the train stage's local
jobs do) or a sweep study (add trials to it)."""

from __future__ import annotations

import argparse
import os

from pipeline.config import Project
from pipeline.stages.arguments import add_budget_options, add_storage_options
from pipeline.stages.checks import grid_study
from pipeline.stores import check_store
from pipeline.sweeps.stage import run_sweep, sweep_from_study
from pipeline.training.threads import fix_threads
from pipeline.validation import ConfigError
from pipeline.workers.worker import join_study, work_on_grid


def add_options(parser: argparse.ArgumentParser) -> None:
    add_storage_options(parser)
    parser.add_argument("--max-runs", type=int, default=None, help="stop after N cells")
    parser.add_argument("--no-wait", action="store_true",
                        help="leave when no cell is waiting, even if others still run")
    add_budget_options(parser, default_trials=None)  # None: the budget stored in the study


def run(project: Project, arguments: argparse.Namespace) -> None:
    fix_threads()  # before TensorFlow starts: every run, alone or beside others, alike
    url = arguments.storage or project.params.workers.storage
    if url is None:
        raise ConfigError("worker needs --storage URL (or params `workers.storage`)")
    study = join_study(url, grid_study(project, arguments.study))
    if study.user_attrs.get("kind") != "sweep":
        work_on_grid(project, study, arguments.max_runs,
                     wait_for_running=not arguments.no_wait)
        return
    check_store(project.tracking_uri, "MLflow tracking store")
    run_sweep(project, sweep_from_study(study), arguments.trials, url, evaluate_best=False,
              seed_offset=os.getpid(), add_trials=arguments.add_trials,
              timeout_s=arguments.timeout)
