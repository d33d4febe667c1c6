"""The command line every stage entry shares: `--params`, then the stage's own options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.config import load_project
from pipeline.entry import run_command


def add_params_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=None,
                        help="params file (default: $CNN_LAB_PARAMS or ./params.yaml)")


def stage_main(name: str, add_options: Callable, run: Callable,
               argv: list[str] | None = None) -> int:
    """Parse a stage's arguments and run it under the lab's error handling; its --help
    describes it with the first paragraph of its module's docstring."""
    description = (sys.modules[run.__module__].__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog=f"python -m pipeline.stages.{name}",
                                     description=description)
    add_params_option(parser)
    add_options(parser)
    arguments = parser.parse_args(argv)
    return run_command(lambda: run(load_project(arguments.params), arguments),
                       arguments.params)


def jobs_value(text: str) -> int | str:
    """`--jobs`: a positive number or `auto`."""
    if text == "auto" or (text.isdigit() and int(text) >= 1):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"expected a positive number or auto, got {text!r}")


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default=None,
                        help="Optuna storage shared by workers: journal:///abs/file.log, "
                             "sqlite:///abs/file.db, postgresql://user:pw@host/db "
                             "(default: params `workers.storage`)")
    parser.add_argument("--study", default=None,
                        help="study name (default: params `workers.study`, else "
                             "grid-<grid name>)")


def add_budget_options(parser: argparse.ArgumentParser, default_trials: int | None) -> None:
    """A sweep's study-wide trial budget: --trials N in all, or --add-trials N."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, default=default_trials,
                        help="sweeps: run until the study holds N trials (all workers and "
                             "earlier runs count)")
    budget.add_argument("--add-trials", type=int, default=None, metavar="N",
                        help="sweeps: N trials more than the study holds now")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="sweeps: start no trial after this many seconds")
