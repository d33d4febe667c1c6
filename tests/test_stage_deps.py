"""dvc.yaml's code deps are the import graph: each stage depends on exactly the modules its
entry (pipeline/stages/<stage>.py) imports, directly or not, so a stage never misses code it
runs and never reruns for code it does not."""

from __future__ import annotations

import yaml

from pipeline.workers.local import JOB_MODULE
from tests.test_architecture import PACKAGE, modules

# Processes a stage starts by module name: an edge the import graph cannot see.
SPAWNED = {"train": [JOB_MODULE]}  # local jobs (pipeline/workers/local.py)


def dep_path(module: str) -> str:
    """Where dvc.yaml names a module: a subpackage by its folder, stage entries and top-level
    modules by their file."""
    parts = module.split(".")
    if len(parts) == 1:
        return "pipeline/__init__.py"
    if parts[1] == "stages":
        return f"{'/'.join(parts)}.py" if len(parts) > 2 else "pipeline/stages/__init__.py"
    if len(parts) == 2 and PACKAGE.joinpath(f"{parts[1]}.py").is_file():
        return f"pipeline/{parts[1]}.py"
    return f"pipeline/{parts[1]}"


def closure(start: list[str]) -> set[str]:
    graph, seen, todo = modules(), set(), list(start)
    while todo:
        module = todo.pop()
        if module in seen or module not in graph:
            continue
        seen.add(module)
        todo += graph[module]
        parent = module.rsplit(".", 1)[0]  # importing a.b.c runs a/b/__init__.py too
        todo += [parent] if parent != module else []
    return seen


def stage_code(stage: dict) -> set[str]:
    return {dep.rstrip("/") for dep in stage["deps"] if dep.startswith("pipeline")}


def test_every_stage_depends_on_exactly_the_code_it_imports():
    stages = yaml.safe_load((PACKAGE.parent / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        entry = f"pipeline.stages.{name}"
        assert stage["cmd"].startswith(f"python -m {entry}"), stage["cmd"]
        imported = {dep_path(module) for module in closure([entry, *SPAWNED.get(name, [])])}
        imported -= {"pipeline/__init__.py", "pipeline/stages/__init__.py"} - stage_code(stage)
        assert not imported - stage_code(stage), f"{name}: add to dvc.yaml deps: " \
            f"{sorted(imported - stage_code(stage))}"
        assert not stage_code(stage) - imported, f"{name}: dvc.yaml deps it never imports: " \
            f"{sorted(stage_code(stage) - imported)}"


def test_a_missing_dependency_is_found():
    """The check above can fail: the report stage imports pipeline/data (split sizes)."""
    assert "pipeline/data" in {dep_path(module) for module in closure(["pipeline.stages.report"])}
