"""DVC stage `prepare`: find and verify the IDX files, write data/prepared/ (dvc.yaml).

`python -m pipeline.stages.prepare [--params FILE]`, also `python -m pipeline prepare`.
"""

from __future__ import annotations

import argparse

from pipeline.config import Project
from pipeline.data.prepare import prepare_all
from pipeline.stages.arguments import stage_main


def add_options(parser: argparse.ArgumentParser) -> None:
    """The stage takes no options beyond --params."""


def run(project: Project, arguments: argparse.Namespace) -> None:
    prepare_all(project)


if __name__ == "__main__":
    raise SystemExit(stage_main("prepare", add_options, run))
