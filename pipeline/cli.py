"""Command line: `python -m pipeline <command>`. Thin: parses arguments, calls functions."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from pipeline.config import load_project
from pipeline.datasets import DataNotFoundError
from pipeline.idx import IdxError
from pipeline.progress import console
from pipeline.shapes import InfeasibleSpec
from pipeline.validation import ConfigError

USER_ERRORS = (ConfigError, DataNotFoundError, IdxError, InfeasibleSpec)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    parser.add_argument("--params", type=Path, default=None,
                        help="params file (default: $CNN_LAB_PARAMS or ./params.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="verify the IDX files and write data/prepared/")
    commands.add_parser("train", help="train every grid run without a valid result")
    commands.add_parser("report", help="write reports/ablation.md, results.csv and figures")
    plan = commands.add_parser("plan", help="list the grid's runs and whether each is cached")
    plan.add_argument("--all", action="store_true", help="list cached runs too")
    ui = commands.add_parser("ui", help="serve the MLflow UI for the project's store")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return dispatch(arguments)
    except USER_ERRORS as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: finished runs are saved; run again to resume")
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def dispatch(arguments: argparse.Namespace) -> int:
    project = load_project(arguments.params)
    if arguments.command == "prepare":
        from pipeline.prepare import prepare_all

        prepare_all(project)
    elif arguments.command == "train":
        from pipeline.runner import run_grid

        outcome = run_grid(project)
        return 1 if outcome.failed else 0
    elif arguments.command == "report":
        from pipeline.report import build_report

        build_report(project)
    elif arguments.command == "plan":
        from pipeline.runner import plan_grid

        show_plan(plan_grid(project), arguments.all)
    elif arguments.command == "ui":
        return serve_ui(project, arguments.host, arguments.port)
    return 0


def show_plan(plan, show_all: bool) -> None:
    from rich.table import Table

    table = Table(title=f"grid {plan.grid.name}")
    for column in ("run", "dataset", "variant", "seed", "state"):
        table.add_column(column)
    states = {id(run): "cached" for run in plan.reused}
    states.update({id(run): "infeasible" for run in plan.infeasible})
    for run in plan.runs:
        state = states.get(id(run), "to train")
        if show_all or state == "to train":
            table.add_row(run.spec.run_key, run.spec.dataset, run.spec.model.describe(),
                          str(run.spec.seed), state)
    console.print(table)
    console.print(f"{len(plan.pending)} to train, {len(plan.reused)} cached, "
                  f"{len(plan.infeasible)} infeasible")


def serve_ui(project, host: str, port: int) -> int:
    from pipeline.tracking import tracking_uri

    uri = tracking_uri(project)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
               "--host", host, "--port", str(port), "--workers", "1"]
    console.print(f"MLflow UI for {uri} on http://{host}:{port} (Ctrl-C to stop)")
    return subprocess.call(command, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
