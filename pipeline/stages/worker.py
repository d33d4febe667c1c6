"""`python -m pipeline worker`: join a grid study (take its cells, as the train stage's local
jobs do: pipeline.stages.job) or a sweep study (add trials to it)."""

from __future__ import annotations

import argparse
import os

from pipeline.config import Project
from pipeline.stages import job
from pipeline.stages.arguments import add_budget_options
from pipeline.stages.checks import grid_study
from pipeline.stores import check_store
from pipeline.sweeps.stage import run_sweep, sweep_from_study
from pipeline.training.threads import fix_threads


def add_options(parser: argparse.ArgumentParser) -> None:
    job.add_options(parser)
    add_budget_options(parser, default_trials=None)  # None: the budget stored in the study


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
