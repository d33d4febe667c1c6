"""How long the pending runs will take, and the budget that stops a runaway grid early.

Seconds per run = overhead + cost / FLOP/s (pipeline.grid.throughput). The FLOP/s come from
stored records of networks of the same architecture and FLOPs, else interpolated (in log
FLOPs) between them; with no records, from a few seconds of training on a tiny slice
(pipeline.grid.calibration), or, when even a pessimistic rate fits the budget, not at all.
The printed ETA also calibrates the networks far outside the records' FLOPs (a grid whose
no-pooling runs finished first would otherwise price the baseline at their rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.config import Project
from pipeline.grid.calibration import calibrate
from pipeline.grid.expansion import GridRun
from pipeline.grid.throughput import (
    Throughput,
    dataset_sizes,
    pessimistic,
    run_cost,
    throughput_from_records,
)
from pipeline.model.shapes import count_flops
from pipeline.progress import console
from pipeline.runs.records import record_id
from pipeline.specs.model import ModelSpec
from pipeline.validation import ConfigError

STARTUP_S = 10.0  # importing TensorFlow and opening the MLflow store, once per train stage
CALIBRATE_ABOVE_S = 300.0  # below this pessimistic bound, a grid trains without calibrating


@dataclass(frozen=True)
class Eta:
    """Expected seconds of every pending run and of all of them with `jobs` processes."""

    per_run: dict[str, float]
    jobs: int
    source: str
    runs: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", len(self.per_run))

    @property
    def seconds(self) -> float:
        """The whole stage: start-up (TensorFlow import, MLflow store) and every run."""
        return STARTUP_S + self.remaining(set()) if self.per_run else 0.0

    def remaining(self, done: set[str]) -> float:
        """Wall seconds of training still ahead once the runs in `done` (`run_id`s) finished."""
        left = [seconds for key, seconds in self.per_run.items() if key not in done]
        return max(sum(left) / self.jobs, max(left, default=0.0))

    def left_text(self, done: set[str]) -> str:
        """`eta 12 min` for a progress line, `done` holding the finished runs' `run_id`s."""
        return f"eta {duration_text(self.remaining(done))}"


    def line(self) -> str:
        return (f"{self.runs:,} run(s) to train, expected {duration_text(self.seconds)} with "
                f"{self.jobs} job(s) (throughput {self.source})")


def measured_eta(project: Project, runs: list[GridRun], jobs: int) -> Eta | None:
    """The ETA of `runs` from the stored records' FLOP/s alone; None without a record."""
    throughput = throughput_from_records(project)
    return None if throughput is None or not runs else estimate(project, runs, jobs,
                                                                 throughput)


def remaining_text(project: Project, remaining: list[GridRun], jobs: int,
                   first: Eta | None = None) -> str:
    """The progress line's ETA for the runs not finished yet: from the stored records'
    FLOP/s as they accrue, else from `first` (the stage's estimate before any record)."""
    throughput = throughput_from_records(project)
    if throughput is not None:
        eta = estimate(project, remaining, jobs, throughput)
        return f"eta {duration_text(eta.remaining(set()))}"
    if first is not None and first.runs:
        done = set(first.per_run) - {record_id(run.spec) for run in remaining}
        return first.left_text(done)
    return "eta after the first run"


def longest_first(project: Project, runs: list[GridRun], eta: Eta | None = None) -> list[GridRun]:
    """`runs` by expected seconds, longest first (the ETA's, else FLOPs x images), so that
    parallel jobs finish together: a no-pooling cell (11x the baseline's FLOPs) claimed last
    would train alone while the other jobs sit idle."""
    if eta is not None and all(record_id(run.spec) in eta.per_run for run in runs):
        return sorted(runs, key=lambda run: eta.per_run[record_id(run.spec)], reverse=True)
    sizes = dataset_sizes(project)
    return sorted(runs, key=lambda run: run_cost(run.spec, sizes[run.spec.dataset],
                                                 count_flops(run.spec.model)), reverse=True)


def duration_text(seconds: float) -> str:
    """`40 s`, `12 min`, `1 h 41 min`, `26 d 3 h`."""
    minutes, hours = seconds / 60, seconds / 3600
    if seconds < 90:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if hours < 48:
        return f"{int(hours)} h {int(minutes % 60)} min"
    return f"{int(hours // 24)} d {int(hours % 24)} h"


def estimate(project: Project, runs: list[GridRun], jobs: int = 1,
             throughput: Throughput | None = None, calibrate_outside: bool = False) -> Eta:
    """Expected wall time of `runs` with `jobs` processes; calibrates when no record exists,
    and with `calibrate_outside` also the networks the records' FLOPs do not cover."""
    if not runs:
        return Eta({}, jobs, "nothing to measure")
    sizes = dataset_sizes(project)
    flops = network_flops(runs)
    if throughput is None:
        throughput = throughput_from_records(project)
    if throughput is None:
        throughput = calibrate(list(flops), flops)
    elif calibrate_outside and (outside := uncovered(throughput, flops)):
        throughput = throughput.joined(calibrate(outside, flops))
    rates = {model: throughput.rate(model, size) for model, size in flops.items()}
    per_run = {record_id(run.spec): throughput.overhead_s + run_cost(
        run.spec, sizes[run.spec.dataset], flops[run.spec.model]) / rates[run.spec.model]
        for run in runs}
    return Eta(per_run, max(1, jobs), throughput.source)


def network_flops(runs: list[GridRun]) -> dict[ModelSpec, float]:
    """Forward FLOPs of each distinct network of `runs`."""
    return {model: count_flops(model) for model in {run.spec.model for run in runs}}


def uncovered(throughput: Throughput, flops: dict[ModelSpec, float]) -> list[ModelSpec]:
    """The networks whose FLOPs lie outside the stored records' (beyond EXTRAPOLATE)."""
    return [model for model, size in flops.items() if not throughput.covers(model, size)]


class OverBudget(ConfigError):
    """The pending runs' ETA exceeds the profile's `max_hours`; nothing has trained."""


def check_budget(eta: Eta, max_hours: float, where: str) -> None:
    """Raise OverBudget (one line: the ETA, the budget, how to go on) when over budget."""
    if eta.seconds > max_hours * 3600:
        raise OverBudget(
            f"{eta.line()}: over the {max_hours:g} h budget ({where}); shrink the grid, or "
            f"go on with `train --max-hours N` or `train --force`, or raise max_hours there")


def guard_training(project: Project, runs: list[GridRun], jobs: int = 1,
                   max_hours: float | None = None, force: bool = False) -> Eta | None:
    """Print the count and ETA of `runs`, and refuse (OverBudget) an ETA over `max_hours`
    (default: the profile's) unless `force`; returns the estimate (None: not measured).

    Networks no record measures (all of them, without records) are calibrated with a few
    seconds of training, unless even a pessimistic rate gives the runs at most
    CALIBRATE_ABOVE_S: a small grid is not worth measuring (the smoke grid's calibration
    took longer than its training)."""
    budget = project.params.active.max_hours if max_hours is None else max_hours
    throughput = throughput_from_records(project)
    if throughput is None or uncovered(throughput, network_flops(runs)):
        bound = estimate(project, runs, jobs, pessimistic())
        if bound.seconds <= CALIBRATE_ABOVE_S:
            console.print(bound.line(), highlight=False)
            return None
    eta = estimate(project, runs, jobs, throughput, calibrate_outside=True)
    console.print(eta.line(), highlight=False)
    if not force:
        where = (f"--max-hours {max_hours:g}" if max_hours is not None else
                 f"max_hours of profile {project.params.profile!r} in "
                 f"{project.params.profiles_file}")
        check_budget(eta, budget, where)
    return eta
