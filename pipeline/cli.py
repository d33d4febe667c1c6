"""Command line: `python -m pipeline <command>`: the argument parser and one short handler per
command; the DVC stages' handlers are pipeline/stages/, the work is in the library."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.entry import run_command
from pipeline.progress import console
from pipeline.redaction import redact
from pipeline.stages import prepare, report, train, worker
from pipeline.stages.arguments import add_budget_options, add_params_option, jobs_value
from pipeline.stages.checks import check_stores
from pipeline.stores import check_store

DESCRIPTION = ("CNN ablation lab: prepare the data, train the ablation grid (every run "
               "logged to MLflow), write the report; sweeps, workers, the MLflow UI.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION)
    add_params_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, stage, text in (
            ("prepare", prepare, "DVC stage: verify the IDX files and write data/prepared/"),
            ("train", train, "DVC stage: train every grid run without a valid result"),
            ("report", report, "DVC stage: write reports/ablation.md, results.csv and figures"),
            ("worker", worker, "join a grid or sweep study on shared storage")):
        command = commands.add_parser(name, help=text)
        stage.add_options(command)
        command.set_defaults(handler=stage.run)
    add_sweep_command(commands)
    add_plan_command(commands)
    add_bench_command(commands)
    add_server_commands(commands)
    return parser


def add_sweep_command(commands) -> None:
    sweep = commands.add_parser("sweep", help="create or resume an Optuna sweep")
    sweep.set_defaults(handler=sweep_study)
    sweep.add_argument("spec", type=Path, help="sweep spec, e.g. experiments/sweep.yaml")
    add_budget_options(sweep, default_trials=30)
    sweep.add_argument("--storage", default=None, help="Optuna storage URL (overrides spec)")
    sweep.add_argument("--no-best", action="store_true",
                       help="skip the test-set evaluation of the best trial")


def add_plan_command(commands) -> None:
    plan = commands.add_parser("plan", help="count the grid's runs, estimate the time of those "
                               "to train, and list them (a summary for large grids)")
    plan.set_defaults(handler=show_plan)
    plan.add_argument("--all", action="store_true",
                      help="list every run, cached and infeasible ones too, however many")
    plan.add_argument("--jobs", default=None, type=jobs_value, metavar="N|auto",
                      help="training processes the ETA assumes (default: params `jobs`)")
    plan.add_argument("--settle", action="store_true",
                      help="list the runs that would settle the undecided comparisons, and ETA")


def add_bench_command(commands) -> None:
    bench = commands.add_parser("bench", help="measure training speed (about 10 min), write "
                                "reports/performance.md")
    bench.set_defaults(handler=benchmark)
    bench.add_argument("--quick", action="store_true", help="tiny sizes, to test the command")
    bench.add_argument("--output", type=Path, default=None)
    bench.add_argument("--records", type=Path, default=None,
                       help="a finished run's results/runs, for the stage-overhead case")


def add_server_commands(commands) -> None:
    dashboard = commands.add_parser("dashboard", help="optuna-dashboard on a study storage")
    dashboard.set_defaults(handler=serve_dashboard)
    dashboard.add_argument("--storage", default=None,
                           help="default: the sweeps' SQLite store optuna/studies.db")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8080)
    ui = commands.add_parser("ui", help="serve the MLflow UI for the project's store")
    ui.set_defaults(handler=serve_ui)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import load_project
    from pipeline.training.threads import fix_threads

    arguments = build_parser().parse_args(argv)
    fix_threads()  # before TensorFlow starts: every run, alone or beside others, alike
    return run_command(lambda: arguments.handler(load_project(arguments.params), arguments),
                       arguments.params)


def sweep_study(project, arguments) -> None:
    from pipeline.sweeps.report import write_sweep_report
    from pipeline.sweeps.stage import default_storage, load_sweep, run_sweep

    sweep = load_sweep(arguments.spec)
    check_stores(project, arguments.storage or sweep.storage or default_storage(project))
    outcome = run_sweep(project, sweep, arguments.trials, arguments.storage,
                        evaluate_best=not arguments.no_best, add_trials=arguments.add_trials,
                        timeout_s=arguments.timeout)
    path = write_sweep_report(outcome.study, sweep.dataset, project)
    console.print(f"sweep report: {path}")


def serve_dashboard(project, arguments) -> int:
    from pipeline.process_group import run_in_group
    from pipeline.sweeps.stage import default_storage
    from pipeline.workers.queue import JOURNAL_PREFIX, journal_path

    storage = arguments.storage or default_storage(project)
    console.print(f"optuna-dashboard for {redact(storage)} on "
                  f"http://{arguments.host}:{arguments.port}", highlight=False)
    if storage.startswith(JOURNAL_PREFIX):
        storage = str(journal_path(storage))  # optuna-dashboard takes the journal file's path
    else:
        check_store(storage, "Optuna storage")
    executable = Path(sys.executable).parent / "optuna-dashboard"
    return run_in_group([str(executable), storage, "--host", arguments.host,
                         "--port", str(arguments.port)])


def show_plan(project, arguments) -> None:
    """`pipeline plan`: counts and ETA first, then the runs (a summary for large grids)."""
    if arguments.settle:
        from pipeline.report.settle_plan import settle_plan_lines

        console.print("\n".join(settle_plan_lines(project)), markup=False)
        return
    from pipeline.grid.eta import estimate
    from pipeline.grid.plan import plan_grid
    from pipeline.grid.plan_view import plan_view
    from pipeline.workers.local import job_count

    plan = plan_grid(project)
    jobs = job_count(arguments.jobs or project.params.jobs)
    eta = estimate(project, plan.pending, jobs, calibrate_outside=True)
    for shown in plan_view(plan, eta, arguments.all):
        console.print(shown, highlight=False)


def benchmark(project, arguments) -> None:
    from pipeline.bench.run import run_bench

    run_bench(project, arguments.output, arguments.quick, arguments.records,
              " ".join(["python -m pipeline", *sys.argv[1:]]))


def serve_ui(project, arguments) -> int:
    from pipeline.process_group import run_in_group

    host, port = arguments.host, arguments.port
    uri = project.tracking_uri
    check_store(uri, "MLflow tracking store")
    # The store URI goes through the environment, so no password shows in the process list.
    command = [sys.executable, "-m", "mlflow", "ui", "--host", host, "--port", str(port),
               "--workers", "1"]
    console.print(f"MLflow UI for {redact(uri)} on http://{host}:{port} (Ctrl-C to stop)",
                  highlight=False)
    return run_in_group(command, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
                                      "MLFLOW_BACKEND_STORE_URI": uri})
