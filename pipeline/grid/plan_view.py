"""What `pipeline plan` shows: the count and the ETA first, then the runs or a summary.

A grid of more than LIST_LIMIT rows is summarised per dataset and architecture (a factorial
grid of 48,000 cells would otherwise print for most of a minute); `--all` lists every run.
"""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from pipeline.grid.eta import Eta, duration_text
from pipeline.grid.plan import GridPlan
from pipeline.runs.records import record_id

LIST_LIMIT = 200
TO_TRAIN, CACHED, INFEASIBLE = "to train", "cached", "infeasible"


def run_states(plan: GridPlan) -> dict[str, str]:
    """record id -> to train, cached or infeasible."""
    states = {record_id(run.spec): TO_TRAIN for run in plan.pending}
    states.update({record_id(run.spec): CACHED for run in plan.reused})
    states.update({record_id(run.spec): INFEASIBLE for run in plan.infeasible})
    return states


def counts_line(plan: GridPlan) -> str:
    return (f"grid {plan.grid.name}: {len(plan.runs):,} runs: {len(plan.pending):,} to train, "
            f"{len(plan.reused):,} cached, {len(plan.infeasible):,} infeasible")


def run_table(plan: GridPlan, eta: Eta, list_all: bool) -> Table:
    """One row per run to train (every run with `list_all`), with its expected time."""
    table = Table(title=f"grid {plan.grid.name}")
    for column in ("run", "dataset", "variant", "seed", "state", "expected"):
        table.add_column(column)
    states = run_states(plan)
    for run in plan.runs:
        key, identity = run.spec.run_key, record_id(run.spec)
        if list_all or states[identity] == TO_TRAIN:
            expected = duration_text(eta.per_run[identity]) if identity in eta.per_run else "-"
            table.add_row(key, run.spec.dataset, run.spec.model.describe(), str(run.spec.seed),
                          states[identity], expected)
    return table


def summary_table(plan: GridPlan, eta: Eta) -> Table:
    """Runs per dataset, architecture and state, with the expected time of those to train."""
    states = run_states(plan)
    groups = Counter((run.spec.dataset, run.spec.model.arch, states[record_id(run.spec)])
                     for run in plan.runs)
    seconds = Counter()
    for run in plan.pending:
        seconds[(run.spec.dataset, run.spec.model.arch)] += eta.per_run.get(record_id(run.spec), 0)
    table = Table(title=f"grid {plan.grid.name}: summary ({len(plan.runs):,} runs; --all "
                        f"lists each)")
    for column in ("dataset", "arch", TO_TRAIN, CACHED, INFEASIBLE, "expected (1 job)"):
        table.add_column(column, justify="left" if column in ("dataset", "arch") else "right")
    for dataset, arch in dict.fromkeys((key[0], key[1]) for key in groups):
        table.add_row(dataset, arch, *(f"{groups[(dataset, arch, state)]:,}"
                                       for state in (TO_TRAIN, CACHED, INFEASIBLE)),
                      duration_text(seconds[(dataset, arch)]))
    return table


def plan_view(plan: GridPlan, eta: Eta, list_all: bool) -> list[object]:
    """Printable lines and tables: counts and ETA, then a run table or a summary."""
    listed = len(plan.runs) if list_all else len(plan.pending)
    table = (run_table(plan, eta, list_all) if list_all or listed <= LIST_LIMIT
             else summary_table(plan, eta))
    return [counts_line(plan), eta.line(), table]
