"""The train stage's local-parallel executor: N worker processes on this machine.

No scheduler of its own: the pending runs go into a fresh Optuna journal file
(results/jobs/journal.log) and N worker processes (pipeline.stages.job) take them, exactly as
workers on other machines take a shared study's cells; each writes its records into
results/runs. The jobs started for the stage's first look wait for its later looks (adaptive
seeds) until the stage closes the study, so each imports TensorFlow once. Every run trains
with the fixed thread count (pipeline.training.threads), so its numbers are the same with 1
or N jobs. Each job runs in its own process group, logs to
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
from pipeline.workers.queue import (
    JOURNAL_PREFIX,
    WORKER_ATTR,
    close_study,
    count,
    grid_study_name,
)

if TYPE_CHECKING:
    import optuna

    from pipeline.grid.expansion import GridRun
    from pipeline.runs.execute import RunContext

JOB_MODULE = "pipeline.stages.job"  # what each job process runs: a grid-study worker
POLL_S = 0.5
# A job process leaves after this many runs and a fresh one takes its place: Keras/TensorFlow
# keep about 10 MB per finished run in a process (benchmarks/memory_long_grid.py), so a job
# never grows by more than about 80 MB however long the grid.
RUNS_PER_PROCESS = 8
CLOSE_TIMEOUT_S = 30.0  # waiting jobs see the closed study within a second


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
        self.study: optuna.Study | None = None
        self.url = ""
        self.processes: list[subprocess.Popen] = []
        self.reported: set[int] = set()  # pids of the failed jobs already named

    def execute(self, plan: GridPlan, runs: list[GridRun], context: RunContext,
                eta: Eta | None = None) -> None:
        """Enqueue `runs` (longest first, so the jobs end together) and train them; the job
        processes started for the first look wait for the next one until `close`."""
        study = self.study or self.open(plan)
        publish(study, plan, context, self.project.params.mlflow.log_models)
        enqueue_cells(study, plan, longest_first(self.project, runs, eta))
        while len(self.processes) < min(self.jobs, len(runs)):
            self.processes.append(self.start(len(self.processes)))
        by_key = {plan.key_of(run): run for run in runs}

        def left(finished: set[str]) -> str:
            remaining = [run for key, run in by_key.items() if key not in finished]
            return remaining_text(self.project, remaining, len(self.processes), eta)

        try:
            watch(study, self.processes, set(by_key), self.start, left)
        except KeyboardInterrupt:
            console.print(f"[yellow]stopping {len(self.processes)} job(s)[/]")
            for process in self.processes:
                stop_group(process)
            self.processes = []
            raise
        self.report_exits(running=True)

    def open(self, plan: GridPlan) -> optuna.Study:
        """A fresh journal for this stage's looks (a killed stage's journal is stale)."""
        journal = self.folder / "journal.log"
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in (journal, *self.folder.glob("job-*.log")):
            stale.unlink(missing_ok=True)
        self.url = f"{JOURNAL_PREFIX}{journal.resolve()}"
        self.study = open_grid_study(self.url, grid_study_name(plan.grid.name))
        return self.study

    def close(self) -> None:
        """No look follows: the waiting jobs leave; say which job failed, and how."""
        if self.study is None:
            return
        close_study(self.study)
        for process in self.processes:
            try:
                process.wait(timeout=CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                stop_group(process)
        self.report_exits(running=False)

    def report_exits(self, running: bool) -> None:
        """Name each job that exited with an error (once), with its log."""
        for number, process in enumerate(self.processes):
            code = process.poll() if running else process.wait()
            if code not in (None, 0) and process.pid not in self.reported:
                self.reported.add(process.pid)
                console.print(f"[red]job {number + 1} exited with {code}[/]: "
                              f"see {self.log_path(number)}", highlight=False)

    def log_path(self, number: int) -> Path:
        return self.folder / f"job-{number + 1}.log"

    def start(self, number: int) -> subprocess.Popen:
        """One `pipeline worker` in its own process group, waiting for cells until the study
        is closed, or leaving after RUNS_PER_PROCESS runs."""
        command = [sys.executable, "-m", JOB_MODULE, "--params", str(self.project.params_path),
                   "--storage", self.url, "--study", self.study.study_name,
                   "--until-closed", "--no-wait", "--max-runs", str(RUNS_PER_PROCESS)]
        root = str(Path(pipeline.__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        with self.log_path(number).open("a") as log:
            return subprocess.Popen(command, cwd=self.project.root, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "PYTHONPATH": path,
                                         PARENT_ENV: str(os.getpid()),
                                         # jobs sharing a GPU take its memory as needed
                                         "TF_FORCE_GPU_ALLOW_GROWTH": "true"})


def watch(study: optuna.Study, processes: list[subprocess.Popen], keys: set[str],
          restart, left) -> None:
    """Show each job's run and the overall progress, with `left(finished cache keys)` as its
    ETA, until no cell waits or runs, or every job has exited; a job that left after its runs
    is `restart(number)`ed."""
    with make_progress(eta_field=True) as progress:
        overall = progress.add_task(f"{len(processes)} jobs", total=len(keys), left=left(set()))
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
            finished = finished_keys(study) & keys
            if len(finished) != progress.tasks[overall].completed:
                progress.update(overall, completed=len(finished), left=left(finished))
            time.sleep(POLL_S)
        progress.update(overall, completed=len(finished_keys(study) & keys))


def finished_keys(study: optuna.Study) -> set[str]:
    """The cache keys of the study's finished cells (trained or failed), every look's."""
    return {trial.user_attrs.get("cache_key") for trial in study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))}
