"""A sweep's trial budget: a study-wide number of trials and an optional time limit.

`--trials N` means "the study holds N trials", counted across every process and earlier
execution sharing the storage (like `optuna.study.MaxTrialsCallback`, but checked before each
ask so no worker starts a trial past the budget); `--add-trials N` means N more than now.
The budget is stored in the study, so a worker joining without a number works towards it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

BUDGET_ATTR = "trial_budget"
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


def counted_trials(study: optuna.Study) -> int:
    """Trials finished or running in the study (waiting ones are not yet spent)."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


@dataclass
class TrialBudget:
    """Stop asking when the study holds `total` trials or `timeout_s` seconds have passed."""

    total: int
    timeout_s: float | None = None
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def for_study(cls, study: optuna.Study, trials: int | None, add_trials: int | None = None,
                  timeout_s: float | None = None) -> TrialBudget:
        """`trials` study-wide, or `add_trials` more than the study holds now, or else the
        budget the sweep stored in the study (a worker joining without a number)."""
        if add_trials is not None:
            total = counted_trials(study) + add_trials
        elif trials is not None:
            total = trials
        else:
            return cls(int(study.user_attrs.get(BUDGET_ATTR, 0)), timeout_s)
        study.set_user_attr(BUDGET_ATTR, total)
        return cls(total, timeout_s)

    def remaining(self, study: optuna.Study) -> int:
        return max(0, self.total - counted_trials(study))

    def timed_out(self) -> bool:
        return self.timeout_s is not None and time.monotonic() - self.started >= self.timeout_s

    def allows_another(self, study: optuna.Study) -> bool:
        """True while the study is under its trial budget and the time limit is not reached."""
        return not self.timed_out() and self.remaining(study) > 0

    def describe(self) -> str:
        limit = f", at most {self.timeout_s:g} s" if self.timeout_s is not None else ""
        return f"up to {self.total} trials{limit}"
