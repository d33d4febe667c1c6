"""A sweep's budget is study-wide (--trials), extendable (--add-trials) and timed (--timeout);
its report exports every trial as CSV. Infeasible trials fail without training: fast."""

import optuna
import pandas as pd
import pytest
import yaml

from pipeline.cli import main
from tests.conftest import REPO_ROOT


def infeasible_sweep(tmp_path):
    spec = yaml.safe_load((REPO_ROOT / "experiments" / "sweep_smoke.yaml").read_text())
    spec["name"] = "budget"
    spec["space"].update(arch=["cnn"], kernel_size=[5], padding=["valid"], pooling=["max"])
    path = tmp_path / "sweep_budget.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_trials_are_a_study_wide_budget(project, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    base = ["--params", str(project.params_path), "sweep", str(infeasible_sweep(tmp_path)),
            "--storage", storage, "--no-best"]

    def trials() -> int:
        return len(optuna.load_study(study_name="budget", storage=storage).trials)

    assert main([*base, "--trials", "2"]) == 0 and trials() == 2
    assert main([*base, "--trials", "2"]) == 0 and trials() == 2, "budget already reached"
    assert main([*base, "--add-trials", "1"]) == 0 and trials() == 3
    assert main([*base, "--add-trials", "5", "--timeout", "0"]) == 0 and trials() == 3
    worker = ["--params", str(project.params_path), "worker", "--storage", storage,
              "--study", "budget"]
    assert main(worker) == 0 and trials() == 8, "a worker works to the stored budget (3 + 5)"
    assert main(worker) == 0 and trials() == 8

    sweeps = project.reports_dir / "sweeps"
    frame = pd.read_csv(sweeps / "budget-trials.csv")
    assert list(frame["state"]) == ["FAIL"] * 3  # the report of the last `sweep` command
    report = (sweeps / "budget.md").read_text()
    assert "Trials: 3 (FAIL 3)" in report and "budget-trials.csv" in report
    assert "## Optimization history" in report
