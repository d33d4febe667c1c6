"""The layout's rules: imports point down the stage layers, no cycles, Optuna internals in one
module, no function over 50 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import optuna

from pipeline.workers.queue import storage_of, trial_id_of

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"
# Lower layers never import higher ones; a unit is a subpackage or a top-level module.
# `entry` (how every process runs: errors, signals, secrets) sits just above `config`, so a
# local job's process (pipeline.workers.worker) runs under it as the stages and the CLI do.
LAYERS = {"hashing": 0, "validation": 0, "progress": 0, "evidence": 0, "redaction": 0,
          "process_group": 0, "signals": 0,
          "specs": 1, "stores": 1,
          "config": 2, "entry": 2.5, "data": 3, "model": 3, "training": 4, "runs": 5,
          "grid": 6, "report": 7, "workers": 7, "sweeps": 8, "bench": 8, "stages": 10,
          "cli": 11, "__main__": 12,
          "__init__": 0}


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(relative.parts).removesuffix(".__init__")


def type_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:`: imports for annotations only, which do not
    run, so they add no edge to the import graph (a section module may name ReportData)."""
    return {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            for inner in ast.walk(node)}


def imports_of(path: Path) -> set[str]:
    found = set()
    tree = ast.parse(path.read_text())
    skipped = type_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "pipeline"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("pipeline"))
    return found


def modules() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}


def test_every_unit_has_a_layer():
    units = {unit_of(name) for name in modules()}
    assert units <= set(LAYERS), f"give these a layer: {sorted(units - set(LAYERS))}"


def test_imports_point_down_the_layers():
    upward = [f"{name} -> {target}" for name, targets in modules().items() for target in targets
              if unit_of(target) != unit_of(name)
              and LAYERS[unit_of(target)] >= LAYERS[unit_of(name)] and target != "pipeline"]
    assert not upward, "imports that point up or sideways: " + ", ".join(sorted(upward))


def test_import_graph_has_no_cycles():
    graph = modules()
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in graph.get(node, ()):
            if state.get(target) == "open":
                raise AssertionError("cycle: " + " -> ".join([*trail, node, target]))
            if target in graph and target not in state:
                visit(target, [*trail, node])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_optuna_private_attributes_only_in_the_queue_module():
    users = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                   if "._storage" in path.read_text() or "._trial_id" in path.read_text())
    assert users == ["workers/queue.py"]


def test_optuna_private_attributes_still_exist(tmp_path):
    """Fails loudly when an Optuna upgrade renames the two private attributes we rely on."""
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}")
    study.enqueue_trial({})
    trial = study.get_trials()[0]
    assert isinstance(storage_of(study), optuna.storages.BaseStorage)
    assert storage_of(study).get_trial(trial_id_of(trial)).number == trial.number


def test_no_function_over_fifty_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 50:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.name} ({length} lines)")
    assert not long, long
