"""Command line: `python -m pipeline <command>`. Thin: parses arguments, calls functions."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from rich.markup import escape

from pipeline.config import load_project
from pipeline.data.idx import IdxError
from pipeline.data.sources import DataNotFoundError
from pipeline.model.shapes import InfeasibleSpec
from pipeline.progress import console
from pipeline.redaction import redact, redact_log_records
from pipeline.runs.records import EvidenceError
from pipeline.stores import bound_http_retries, check_store
from pipeline.validation import ConfigError

USER_ERRORS = (ConfigError, DataNotFoundError, IdxError, InfeasibleSpec, EvidenceError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    parser.add_argument("--params", type=Path, default=None,
                        help="params file (default: $CNN_LAB_PARAMS or ./params.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="verify the IDX files and write data/prepared/"
                        ).set_defaults(handler=prepare)
    train = commands.add_parser("train", help="train every grid run without a valid result")
    train.set_defaults(handler=train_stage)
    add_storage_options(train)
    train.add_argument("--no-work", action="store_true",
                       help="with --storage: only enqueue and wait for other workers")
    add_budget_guard_options(train)
    train.add_argument("--jobs", default=None, type=jobs_value, metavar="N|auto",
                       help="training processes on this machine (default: params `jobs`, "
                            "auto = one per core); results are the same for any N")
    worker = commands.add_parser("worker", help="join a grid or sweep study on shared storage")
    worker.set_defaults(handler=join_study)
    add_storage_options(worker)
    worker.add_argument("--max-runs", type=int, default=None, help="stop after N cells")
    add_budget_options(worker, default_trials=None)
    worker.add_argument("--no-wait", action="store_true",
                        help="leave when no cell is waiting, even if others still run")
    sweep = commands.add_parser("sweep", help="create or resume an Optuna sweep")
    sweep.set_defaults(handler=sweep_study)
    sweep.add_argument("spec", type=Path, help="sweep spec, e.g. experiments/sweep.yaml")
    add_budget_options(sweep, default_trials=30)
    sweep.add_argument("--storage", default=None, help="Optuna storage URL (overrides spec)")
    sweep.add_argument("--no-best", action="store_true",
                       help="skip the test-set evaluation of the best trial")
    dashboard = commands.add_parser("dashboard", help="optuna-dashboard on a study storage")
    dashboard.set_defaults(handler=serve_dashboard)
    dashboard.add_argument("--storage", default=None,
                           help="default: the sweeps' SQLite store optuna/studies.db")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8080)
    commands.add_parser("report", help="write reports/ablation.md, results.csv and figures"
                        ).set_defaults(handler=report)
    add_plan_command(commands)
    add_bench_command(commands)
    ui = commands.add_parser("ui", help="serve the MLflow UI for the project's store")
    ui.set_defaults(handler=serve_ui)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    return parser


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


def jobs_value(text: str) -> int | str:
    """`--jobs`: a positive number or `auto`."""
    if text == "auto" or (text.isdigit() and int(text) >= 1):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"expected a positive number or auto, got {text!r}")


def add_budget_options(parser: argparse.ArgumentParser, default_trials: int | None) -> None:
    """A sweep's study-wide trial budget (issue 10): --trials N in all, or --add-trials N."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, default=default_trials,
                        help="sweeps: run until the study holds N trials (all workers and "
                             "earlier runs count)")
    budget.add_argument("--add-trials", type=int, default=None, metavar="N",
                        help="sweeps: N trials more than the study holds now")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="sweeps: start no trial after this many seconds")


def add_budget_guard_options(parser: argparse.ArgumentParser) -> None:
    """`train` refuses a grid whose ETA exceeds the profile's max_hours (issue 17)."""
    parser.add_argument("--max-hours", type=float, default=None, metavar="HOURS",
                        help="train if the ETA is within HOURS (default: profile max_hours)")
    parser.add_argument("--force", action="store_true", help="train whatever the ETA")


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default=None,
                        help="Optuna storage shared by workers: journal:///abs/file.log, "
                             "sqlite:///abs/file.db, postgresql://user:pw@host/db "
                             "(default: params `workers.storage`)")
    parser.add_argument("--study", default=None, help="study name (default: grid-<grid name>)")


def main(argv: list[str] | None = None) -> int:
    from pipeline.training.threads import fix_threads

    arguments = build_parser().parse_args(argv)
    fix_threads()  # before TensorFlow starts: every run, alone or beside others, alike
    signal.signal(signal.SIGTERM, _interrupt)
    bound_http_retries()
    redact_log_records()
    try:
        return dispatch(arguments)
    except USER_ERRORS as error:
        console.print(f"[bold red]error:[/] {escape(redact(error))}", highlight=False,
                      soft_wrap=True)
        return 2
    except Exception as error:  # noqa: BLE001 - a bug still shows its traceback, masked
        if busy_store(error, arguments):
            return 2
        console.print(escape(redact(traceback.format_exc())), highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: finished runs are saved; run again to resume")
        return 130


def busy_store(error: Exception, arguments: argparse.Namespace) -> bool:
    """One line, not a SQLAlchemy traceback, when the MLflow store stayed locked."""
    from pipeline.runs.tracking import locked_store_line, store_locked, tracking_uri

    if not store_locked(error):
        return False
    uri = tracking_uri(load_project(arguments.params))
    console.print(f"[bold red]error:[/] {escape(redact(locked_store_line(uri)))}",
                  highlight=False, soft_wrap=True)
    return True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def dispatch(arguments: argparse.Namespace) -> int:
    project = load_project(arguments.params)
    return arguments.handler(project, arguments) or 0


def prepare(project, arguments) -> None:
    from pipeline.data.prepare import prepare_all

    prepare_all(project)


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


def report(project, arguments) -> None:
    from pipeline.report.stage import build_report

    build_report(project)


def worker_settings(project):
    from pipeline.workers.worker import WorkerSettings

    return WorkerSettings.from_params(project.params.workers)


def train_stage(project, arguments) -> int:
    """`pipeline train`: writes reports/run.json and shares the run cache with home."""
    from pipeline.grid.settings import write_run_settings
    from pipeline.runs.shared_cache import shared_run_cache

    write_run_settings(project)
    with shared_run_cache(project):
        seed_committed_evidence(project)
        return train_grid(project, arguments)


def seed_committed_evidence(project) -> None:
    """Records kept in git beside the report become cache entries (a clean clone retrains
    nothing they answer)."""
    from pipeline.runs.committed_evidence import evidence_dir, seed_from_evidence

    folder = evidence_dir(project.reports_dir)
    seeded = seed_from_evidence(folder, project.results_dir)
    if seeded:
        console.print(f"evidence: {seeded} record(s) restored from {folder}")


def train_grid(project, arguments) -> int:
    """The DVC train stage: in this process, in N local processes, or through a shared
    storage with workers; one stage, the executor differs."""
    from pipeline.grid.stage import run_grid

    storage = arguments.storage or project.params.workers.storage
    check_stores(project, storage)
    executor = choose_executor(project, arguments, storage)
    guard_grid(project, arguments, getattr(executor, "jobs", 1))
    outcome = run_grid(project, executor)
    if outcome.failed:
        console.print(f"[yellow]{len(outcome.failed)} run(s) failed[/]; the report lists them. "
                      "Fix the cause, then `dvc repro -f -s train` retrains only those.")
    return 0


def guard_grid(project, arguments, jobs: int) -> None:
    """Print the pending runs' count and ETA; refuse an ETA over the budget (OverBudget)."""
    from pipeline.grid.eta import guard_training
    from pipeline.grid.plan import plan_grid

    guard_training(project, plan_grid(project).pending, jobs, max_hours=arguments.max_hours,
                   force=arguments.force)


def choose_executor(project, arguments, storage: str | None):
    """A shared study when a storage is given; else N local jobs (1: this process)."""
    if storage is not None:
        from pipeline.workers.coordinator import StudyExecutor, grid_study_name

        name = arguments.study or project.params.workers.study or grid_study_name(
            project.load_grid().name)
        return StudyExecutor(project, storage, name, worker_settings(project),
                             work_here=not arguments.no_work)
    from pipeline.workers.local import LocalJobs, job_count

    return LocalJobs(project, job_count(arguments.jobs or project.params.jobs))


def check_stores(project, storage: str | None) -> None:
    """Probe the MLflow tracking store and the Optuna storage before anything trains."""
    from pipeline.runs.tracking import tracking_uri
    from pipeline.workers.queue import open_storage

    check_store(tracking_uri(project), "MLflow tracking store")
    if storage is not None:
        open_storage(storage)


def check_study_tracking(project, study) -> None:
    """Probe the tracking store a joined study logs to (a grid study names its own)."""
    from pipeline.runs.tracking import tracking_uri
    from pipeline.workers.worker import study_tracking_uri

    grid = study.user_attrs.get("kind") == "grid"
    check_store(study_tracking_uri(study) if grid else tracking_uri(project),
                "MLflow tracking store")


def join_study(project, arguments) -> int:
    """`pipeline worker`: take cells of a grid study, or add trials to a sweep study."""
    import optuna

    from pipeline.workers.queue import open_storage

    url = arguments.storage or project.params.workers.storage
    if url is None or arguments.study is None:
        console.print("[bold red]error:[/] worker needs --storage URL and --study NAME")
        return 2
    try:
        study = optuna.load_study(study_name=arguments.study, storage=open_storage(url))
    except KeyError:
        console.print(f"[bold red]error:[/] no study {arguments.study!r} in {redact(url)}",
                      highlight=False)
        return 2
    check_study_tracking(project, study)
    if study.user_attrs.get("kind") == "sweep":
        from pipeline.sweeps.stage import run_sweep, sweep_from_study

        run_sweep(project, sweep_from_study(study), arguments.trials, url,
                  evaluate_best=False, seed_offset=os.getpid(),
                  add_trials=arguments.add_trials, timeout_s=arguments.timeout)
        return 0
    from pipeline.workers.parent_watch import watch_parent
    from pipeline.workers.worker import work

    watch_parent()
    settings = worker_settings(project)
    settings.max_runs = arguments.max_runs
    settings.wait_for_running = not arguments.no_wait
    outcome = work(study, project, settings)
    console.print(f"worker done: {len(outcome.trained)} trained, {len(outcome.failed)} failed, "
                  f"{len(outcome.reaped)} lost trials re-queued")
    return 0


def serve_dashboard(project, arguments) -> int:
    from pipeline.process_group import run_in_group
    from pipeline.sweeps.stage import default_storage
    from pipeline.workers.queue import JOURNAL_PREFIX, journal_path

    storage = arguments.storage or default_storage(project)
    console.print(f"optuna-dashboard for {redact(storage)} on "
                  f"http://{arguments.host}:{arguments.port}", highlight=False)
    if storage.startswith(JOURNAL_PREFIX):
        storage = str(journal_path(storage))
    else:
        check_store(storage, "Optuna storage")
    executable = Path(sys.executable).parent / "optuna-dashboard"
    return run_in_group([str(executable), storage, "--host", arguments.host,
                         "--port", str(arguments.port)])


def show_plan(project, arguments) -> None:
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
    for shown in plan_view(plan, estimate(project, plan.pending, jobs), arguments.all):
        console.print(shown, highlight=False)


def benchmark(project, arguments) -> None:
    from pipeline.bench.run import run_bench

    run_bench(project, arguments.output, arguments.quick, arguments.records,
              " ".join(["python -m pipeline", *sys.argv[1:]]))


def serve_ui(project, arguments) -> int:
    from pipeline.process_group import run_in_group
    from pipeline.runs.tracking import tracking_uri

    host, port = arguments.host, arguments.port
    uri = tracking_uri(project)
    check_store(uri, "MLflow tracking store")
    # The store URI goes through the environment, so no password shows in the process list.
    command = [sys.executable, "-m", "mlflow", "ui", "--host", host, "--port", str(port),
               "--workers", "1"]
    console.print(f"MLflow UI for {redact(uri)} on http://{host}:{port} (Ctrl-C to stop)",
                  highlight=False)
    return run_in_group(command, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
                                      "MLFLOW_BACKEND_STORE_URI": uri})
