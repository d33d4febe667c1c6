"""Throw-away copies of this repository for tests that drive git and DVC for real."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

TRACKED = ("pipeline", "experiments", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore")


def run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """Run a command that must succeed; on failure the assertion shows its output."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def copy_repository(repo: Path) -> Path:
    """Copy the project's code, experiments and DVC files (no data, stores or caches)."""
    repo.mkdir(parents=True)
    for name in TRACKED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, repo / name)
    return repo
