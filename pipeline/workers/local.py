"""The train stage's local-parallel executor: N worker processes on this machine.

No scheduler of its own: the pending runs go into a fresh Optuna journal file
(results/jobs/journal.log) and N worker processes (pipeline.workers.worker) take them, exactly as
workers on other machines take a shared study's cells; each writes its records into
results/runs. Every run trains with the fixed thread count (pipeline.training.threads), so
its numbers are the same with 1 or N jobs. Each job runs in its own process group, logs to
results/jobs/job-<i>.log, and Ctrl-C stops every job (each closes its MLflow run first);
a job whose stage was killed stops by itself (pipeline.workers.parent_watch).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from optuna.trial import TrialState

import pipeline
from pipeline.config import Project
from pipeline.grid.eta import Eta, longest_first, remaining_text
from pipeline.grid.plan import GridPlan
from pipeline.process_group import stop_group
from pipeline.progress import console, make_progress
from pipeline.training.threads import RUN_THREADS
from pipeline.workers.coordinator import enqueue_cells, open_grid_study, publish
from pipeline.workers.parent_watch import PARENT_ENV
from pipeline.workers.queue import JOURNAL_PREFIX, WORKER_ATTR, count, grid_study_name

if TYPE_CHECKING:
    import optuna

    from pipeline.grid.expansion import GridRun
    from pipeline.runs.execute import RunContext

JOB_MODULE = "pipeline.workers.worker"  # what each job process runs: a grid-study worker
POLL_S = 0.5
# A job process leaves after this many runs and a fresh one takes its place: Keras/TensorFlow
# keep about 10 MB per finished run in a process (benchmarks/memory_long_grid.py), so a job
# never grows by more than about 80 MB however long the grid.
RUNS_PER_PROCESS = 8


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def gpus_visible() -> bool:
    """True when TensorFlow sees a GPU; TensorFlow is asked only where nvidia-smi exists, so a
    CPU-only machine does not pay for importing it."""
    if shutil.which("nvidia-smi") is None:
        return False
    from pipeline.training.device import device_info

    return device_info()["gpu_count"] != "0"


def job_count(setting: int | str) -> int:
    """`auto`: one job per RUN_THREADS cores (at least 1), or one job when a GPU trains
    (jobs would share its memory and its kernels); else the number given."""
    if setting != "auto":
        return int(setting)
    return 1 if gpus_visible() else max(1, available_cores() // RUN_THREADS)


class LocalJobs:
    """Train runs in up to `jobs` local worker processes through a journal file; never more
    jobs than runs. Even one job trains in a job process, replaced after RUNS_PER_PROCESS
    runs, so the stage's memory stays bounded however long the grid (InProcess, which
    grows about 9 MB a run, is for the library and tests)."""

    def __init__(self, project: Project, jobs: int):
        self.project, self.jobs = project, jobs
        self.folder = project.results_dir.parent / "jobs"
        self.tags = {"jobs": str(jobs)}

    def execute(self, plan: GridPlan, runs: list[GridRun], context: RunContext,
                eta: Eta | None = None) -> None:
        jobs = min(self.jobs, len(runs))
        journal = self.folder / "journal.log"
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in (journal, *self.folder.glob("job-*.log")):
            stale.unlink(missing_ok=True)  # each call enqueues exactly the runs it was given
        url = f"{JOURNAL_PREFIX}{journal.resolve()}"
        study = open_grid_study(url, grid_study_name(plan.grid.name))
        enqueue_cells(study, plan, longest_first(self.project, runs, eta))  # jobs end together
        publish(study, plan, context, self.project.params.mlflow.log_models)
        processes = [self.start(url, study.study_name, number) for number in range(jobs)]
        by_key = {plan.key_of(run): run for run in runs}

        def left(finished: set[str]) -> str:
            remaining = [run for key, run in by_key.items() if key not in finished]
            return remaining_text(self.project, remaining, jobs, eta)

        try:
            watch(study, processes, len(runs),
                  lambda number: self.start(url, study.study_name, number), left)
        except KeyboardInterrupt:
            console.print(f"[yellow]stopping {jobs} job(s)[/]")
            for process in processes:
                stop_group(process)
            raise
        for number, process in enumerate(processes):
            if process.wait() != 0:
                console.print(f"[red]job {number + 1} exited with {process.returncode}[/]: "
                              f"see {self.log_path(number)}", highlight=False)

    def log_path(self, number: int) -> Path:
        return self.folder / f"job-{number + 1}.log"

    def start(self, url: str, study_name: str, number: int) -> subprocess.Popen:
        """One worker in its own process group, leaving when no cell waits or after
        RUNS_PER_PROCESS runs."""
        command = [sys.executable, "-m", JOB_MODULE, str(self.project.params_path), url,
                   study_name, str(RUNS_PER_PROCESS)]
        root = str(Path(pipeline.__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        with self.log_path(number).open("a") as log:
            return subprocess.Popen(command, cwd=self.project.root, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "PYTHONPATH": path,
                                         PARENT_ENV: str(os.getpid()),
                                         # jobs sharing a GPU take its memory as needed
                                         "TF_FORCE_GPU_ALLOW_GROWTH": "true"})


def watch(study: optuna.Study, processes: list[subprocess.Popen], total: int,
          restart, left) -> None:
    """Show each job's run and the overall progress, with `left(finished cache keys)` as its
    ETA, until no cell waits or runs, or every job has exited; a job that left after its runs
    is `restart(number)`ed."""
    with make_progress(eta_field=True) as progress:
        overall = progress.add_task(f"{len(processes)} jobs", total=total, left=left(set()))
        lines = [progress.add_task(f"job {number + 1}: starting", total=None, left="")
                 for number in range(len(processes))]
        while count(study, TrialState.WAITING, TrialState.RUNNING):
            for number, process in enumerate(processes):
                if process.poll() == 0 and count(study, TrialState.WAITING):
                    processes[number] = restart(number)
            if all(process.poll() is not None for process in processes):
                break
            jobs = {str(process.pid): number for number, process in enumerate(processes)}
            for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                pid = str(trial.system_attrs.get(WORKER_ATTR, "")).rsplit(":", 1)[-1]
                if pid in jobs:
                    progress.update(lines[jobs[pid]], description=f"job {jobs[pid] + 1}: "
                                    f"{trial.user_attrs.get('run_key')}")
            finished = {trial.user_attrs.get("cache_key") for trial in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))}
            if len(finished) != progress.tasks[overall].completed:
                progress.update(overall, completed=len(finished), left=left(finished))
            time.sleep(POLL_S)
        progress.update(overall, completed=count(study, TrialState.COMPLETE, TrialState.FAIL))
