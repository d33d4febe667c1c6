"""Starting the benchmark's child processes, each with the environment its case needs.

`python -m pipeline` fixes TensorFlow at one thread for every command (cli.main calls
pipeline.training.threads.fix_threads, which exports TF_NUM_INTRAOP_THREADS=1 and
TF_NUM_INTEROP_THREADS=1), so a child started with this process's environment as it is
would run one thread even where a case means TensorFlow's default. Every child therefore
gets its thread variables from here: removed for the default, set for a one-thread case.
Variables that would point a child at the user's stores (MLflow, the project's home or
params) are removed too: children work on the benchmark's scratch projects only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pipeline
from pipeline.training.threads import ENVIRONMENT as THREAD_VARIABLES

REPO_ROOT = Path(pipeline.__file__).resolve().parent.parent
FOREIGN = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "CNN_LAB_HOME", "CNN_LAB_PARAMS")


def child_environment(threads: int | None = None) -> dict[str, str]:
    """This process's environment for a child: TensorFlow's default threads when `threads`
    is None, else exactly `threads`; the repository importable; no foreign store."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in (*THREAD_VARIABLES, *FOREIGN)}
    if threads:
        environment.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**environment, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2",
            "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1"}


class ChildFailed(RuntimeError):
    """A benchmark child exited with an error; the message ends with its last stderr line."""


def failure(what: str, code: int, stderr: str) -> ChildFailed:
    lines = stderr.strip().splitlines()
    return ChildFailed(f"{what} failed ({code}): {lines[-1] if lines else 'no output'}")


@dataclass(frozen=True)
class ChildRun:
    """One child's results (one per job) and the threads it recorded."""

    results: list[dict]
    threads: dict


def run_children(params: Path, jobs: list[dict], threads: int | None = None,
                 copies: int = 1) -> list[ChildRun]:
    """Run `copies` children at once on the same jobs (pipeline.bench.child); their runs."""
    command = [sys.executable, "-m", "pipeline.bench.child", "--params", str(params)]
    if threads:
        command += ["--threads", str(threads)]
    children = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env=child_environment(threads), cwd=REPO_ROOT)
                for _ in range(copies)]
    outputs = [child.communicate(json.dumps(jobs)) for child in children]
    runs = []
    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        if child.returncode != 0:
            raise failure("benchmark child", child.returncode, stderr)
        answer = json.loads(stdout.strip().splitlines()[-1])
        runs.append(ChildRun(answer["results"], answer["threads"]))
    return runs


@dataclass(frozen=True)
class Timed:
    """A command's wall seconds (start to exit, imports included) and its output."""

    seconds: float
    stdout: str
    stderr: str


def run_timed(command: list[str], cwd: Path, environment: dict[str, str],
              what: str) -> Timed:
    """Run `command` to its end; ChildFailed (with its last error line) when it fails."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise failure(what, done.returncode, done.stderr or done.stdout)
    return Timed(seconds, done.stdout, done.stderr)
