"""What the train stage (pipeline.stages.train) did, counted once from the records, and the
lines it prints: each look's counts and the closing summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.grid.eta import Eta, duration_text
from pipeline.grid.expansion import GridRun
from pipeline.grid.plan import GridPlan
from pipeline.progress import console, summary_table
from pipeline.runs.records import DONE, record_id


@dataclass
class GridOutcome:
    """What one train stage did. Each run of the final plan is in exactly one list, counted
    when first planned (cached, infeasible) or when executed (trained, failed, unfinished)."""

    plan: GridPlan | None = None
    trained: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # no record: workers lost, say
    adaptive: str | None = None
    parent_run_id: str | None = None
    seconds: float = 0.0

    @property
    def executed(self) -> set[str]:
        return {*self.trained, *self.failed, *self.unfinished}

    def count(self, plan: GridPlan, executed: list[GridRun] = ()) -> None:
        """Count the cached runs this plan shows first, then the outcome of `executed`."""
        self.plan = plan
        seen = {*self.executed, *self.reused}
        self.reused += [record_id(run.spec) for run in plan.reused
                        if record_id(run.spec) not in seen]
        for run in executed:
            record = plan.stored(run)
            status = record["status"] if record else None
            target = self.trained if status == DONE else self.failed if record else \
                self.unfinished
            target.append(record_id(run.spec))


def announce(plan: GridPlan, todo: list[GridRun], eta: Eta | None, first: bool) -> None:
    if first:
        console.print(f"grid [bold]{plan.grid.name}[/]: {len(plan.runs)} runs, "
                      f"{len(plan.reused)} cached, {len(plan.infeasible)} infeasible, "
                      f"{len(todo)} to train")
    elif todo:
        expected = f", expected {duration_text(eta.seconds)}" if eta is not None else ""
        console.print(f"more seeds: {len(todo)} more run(s) where a comparison is still "
                      f"undecided{expected}", highlight=False)


def print_summary(outcome: GridOutcome) -> None:
    """The one summary of the train stage (its counts add up to the final plan's runs)."""
    rows = [("trained", len(outcome.trained)), ("reused from cache", len(outcome.reused)),
            ("infeasible", len(outcome.plan.infeasible)), ("failed", len(outcome.failed))]
    if outcome.unfinished:
        rows.append(("unfinished (no record)", len(outcome.unfinished)))
    if outcome.adaptive:
        rows.append(("adaptive seeds", outcome.adaptive))
    rows.append(("wall time", f"{outcome.seconds:.1f} s"))
    if outcome.parent_run_id:
        rows.append(("MLflow parent run", outcome.parent_run_id))
    console.print(summary_table(f"grid {outcome.plan.grid.name}: summary", rows))
    for key in outcome.failed:
        console.print(f"[red]failed[/] {key}: the reason is in results/runs/{key}.json")
