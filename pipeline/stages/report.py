"""DVC stage `report`: the report of the active profile's grid from its stored runs
(reports/ablation.md and .html, comparisons.csv, results.csv, metrics.json, figures).

`python -m pipeline.stages.report [--params FILE]`, also `python -m pipeline report`.
"""

from __future__ import annotations

import argparse

from pipeline.config import Project
from pipeline.report.stage import build_report
from pipeline.stages.arguments import stage_main


def add_options(parser: argparse.ArgumentParser) -> None:
    """The stage takes no options beyond --params."""


def run(project: Project, arguments: argparse.Namespace) -> None:
    build_report(project)


if __name__ == "__main__":
    raise SystemExit(stage_main("report", add_options, run))
