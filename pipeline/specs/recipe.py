"""The training recipe: one type for params, profiles, grids and sweeps.

`Budget` (epochs and data per run) and `Optimization` (batch, optimizer, learning rate) are
declared once; a profile carries a Budget, params.yaml `training:` an Optimization, a sweep a
Budget plus its optimizer, and every run the full TrainingRecipe made of both.

`precision` came later than the rest: its default (float32) is left out of a recipe's
identity, so float32 runs keep the result files they had before the option existed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.specs.choices import LearningRate, Optimizer
from pipeline.validation import Strict

Precision = Literal["float32", "mixed_bfloat16", "mixed_float16"]
DEFAULT_PRECISION = "float32"


class Budget(Strict):
    """How much each run trains: epochs and (optional) caps on the images used."""

    epochs: int = Field(ge=1)
    train_samples: int | None = Field(default=None, ge=1)
    val_samples: int | None = Field(default=None, ge=1)
    test_samples: int | None = Field(default=None, ge=1)
    include_validation: bool = Field(
        default=False, description="train on the validation split too (all 60,000 training "
        "images, as the textbooks do); validation metrics are then not held out")


class Optimization(Strict):
    """How each run optimises: batch size, optimizer and learning rate."""

    batch_size: int = Field(default=64, ge=1)
    optimizer: Optimizer = "adam"
    learning_rate: LearningRate = 1e-3
    precision: Precision = Field(
        default=DEFAULT_PRECISION, description="Keras dtype policy of the hidden layers: "
        "mixed_bfloat16 on CPUs with bf16 instructions, mixed_float16 on GPUs; the output "
        "layer stays float32")


class TrainingRecipe(Budget, Optimization):
    """Everything that decides how one run trains (part of its cache key)."""

    @classmethod
    def combine(cls, budget: Budget, optimization: Optimization) -> TrainingRecipe:
        budget_fields = budget.model_dump(include=set(Budget.model_fields))
        return cls(**budget_fields,
                   **optimization.model_dump(include=set(Optimization.model_fields)))

    def identity(self) -> dict[str, object]:
        """The recipe as hashed into cache keys and file names: the default precision is
        left out, so adding the option kept every float32 run's key."""
        fields = self.model_dump(mode="json")
        if fields["precision"] == DEFAULT_PRECISION:
            del fields["precision"]
        return fields

def capped(available: int, cap: int | None) -> int:
    """How many of `available` images a budget cap (None: no cap) lets a run use."""
    return available if cap is None else min(available, cap)


def training_image_count(budget: Budget, train_split: int, val_split: int) -> int:
    """Images one run trains on: the train split, plus the validation split when the budget
    sets `include_validation`, capped at `train_samples` (as training/train.py selects them)."""
    available = train_split + (val_split if budget.include_validation else 0)
    return capped(available, budget.train_samples)
