"""`python -m pipeline worker`: join a grid study (take its cells, as the train stage's local
jobs do: pipeline.stages.job) or a sweep study (add trials to it)."""

from __future__ import annotations

import argparse
import os

from pipeline.config import Project
from pipeline.stages import job
from pipeline.stages.checks import grid_study
from pipeline.stores import check_store
from pipeline.sweeps.stage import run_sweep, sweep_from_study
from pipeline.training.threads import fix_threads


def add_options(parser: argparse.ArgumentParser) -> None:
    job.add_options(parser)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, default=None,
                        help="sweeps: run until the study holds N trials (all workers and "
                             "earlier runs count; default: the budget stored in the study)")
    budget.add_argument("--add-trials", type=int, default=None, metavar="N",
                        help="sweeps: N trials more than the study holds now")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="sweeps: start no trial after this many seconds")


def run(project: Project, arguments: argparse.Namespace) -> None:
    fix_threads()  # before TensorFlow starts: every run, alone or beside others, alike
    url = job.storage_of(project, arguments)
    study = job.load_joined(url, grid_study(project, arguments.study))
    if study.user_attrs.get("kind") != "sweep":
        job.work_on_grid(project, study, arguments)
        return
    check_store(project.tracking_uri, "MLflow tracking store")
    run_sweep(project, sweep_from_study(study), arguments.trials, url, evaluate_best=False,
              seed_offset=os.getpid(), add_trials=arguments.add_trials,
              timeout_s=arguments.timeout)
