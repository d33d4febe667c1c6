"""Case 4: the stage's overhead, its wall time against the fit and test-inference seconds.

Overhead is the share of the stage's capacity, wall seconds x jobs, that neither fit nor
test inference used: start-up, model building, MLflow logging, idle jobs at the end. With
N parallel jobs the runs' seconds add up to more than the wall time, so comparing them
with the wall time alone would give a negative overhead; the capacity never does.

From records (`--records`), the stage's wall time is not stored: it is taken as the time
some run was in progress (runs more than GAP_S apart start a new stage), and the jobs as the
most runs in progress at once; the start-up before the first run is then not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.runs.records import DONE, read_record

GAP_S = 300.0  # a pause this long between runs means another stage


def done_records(results: Path) -> list[dict]:
    """The finished runs' records in `results`, in file order."""
    return [record for path in sorted(results.glob("*.json"))
            if (record := read_record(path)) and record.get("status") == DONE]


def records_sums(results: Path) -> tuple[int, float, float]:
    """Finished runs, their fit seconds and their test-inference seconds."""
    done = done_records(results)
    return (len(done), sum(record["metrics"]["time/train_s"] for record in done),
            sum(record["metrics"].get("time/test_s", 0.0) for record in done))


@dataclass(frozen=True)
class Overhead:
    """A stage's work (fit + test seconds of its runs) against its capacity."""

    source: str
    runs: int
    fit_s: float
    test_s: float
    wall_s: float
    jobs: int
    run_wall_s: float | None = None  # the runs' own seconds (records only)

    @property
    def capacity_s(self) -> float:
        return self.wall_s * self.jobs

    @property
    def share(self) -> float:
        """1 - work / capacity, never below 0 (clocks of several machines may disagree)."""
        return max(0.0, 1.0 - (self.fit_s + self.test_s) / self.capacity_s) \
            if self.capacity_s else 0.0


def busy_spans(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merged (start, end) spans in which some run was in progress, pauses < GAP_S bridged."""
    spans: list[list[float]] = []
    for start, end in sorted(intervals):
        if spans and start <= spans[-1][1] + GAP_S:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(start, end) for start, end in spans]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def from_records(results: Path) -> Overhead | None:
    """The overhead of the stage(s) that wrote `results`; None without a timed finished run."""
    done = [record for record in done_records(results) if record.get("started_at")]
    if not done:
        return None
    intervals = [(record["started_at"], record["finished_at"]) for record in done]
    wall = sum(end - start for start, end in busy_spans(intervals))
    return Overhead(f"the records in `{results}`", len(done),
                    sum(record["metrics"]["time/train_s"] for record in done),
                    sum(record["metrics"].get("time/test_s", 0.0) for record in done),
                    wall, most_at_once(intervals),
                    sum(end - start for start, end in intervals))
