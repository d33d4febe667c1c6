"""RunSpec: one training run, a model on a dataset with one seed and one training recipe."""

from __future__ import annotations

from functools import lru_cache

from pipeline.hashing import stable_hash
from pipeline.specs.choices import DatasetName
from pipeline.specs.model import ModelSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.validation import Strict


@lru_cache(maxsize=65536)  # a 48,000-cell grid asks for each id several times while planning
def variant_id(dataset: str, model: ModelSpec) -> str:
    """Identifies a variant (dataset + network) across seeds and training recipes."""
    return stable_hash({"dataset": dataset, "model": model.canonical()}, 10)


class RunSpec(Strict):
    """One training run: a model on a dataset with one seed and one training recipe."""

    dataset: DatasetName
    seed: int
    model: ModelSpec
    training: TrainingRecipe

    @property
    def variant_id(self) -> str:
        """Identifies the variant (dataset + network) across seeds and training recipes."""
        return variant_id(self.dataset, self.model)

    @property
    def run_key(self) -> str:
        """Identifies this variant and seed; names the result file."""
        return f"{self.variant_id}-s{self.seed}"

    @property
    def name(self) -> str:
        return f"{self.dataset} {self.model.describe()} seed{self.seed}"

    def identity(self) -> dict[str, object]:
        """The spec as cache keys hash it (see TrainingRecipe.identity)."""
        return {**self.model_dump(mode="json"), "training": self.training.identity()}

    def flat_params(self) -> dict[str, object]:
        """Dotted parameter names, as MLflow and the report show them."""
        params: dict[str, object] = {"dataset": self.dataset, "seed": self.seed}
        for name, value in self.model.canonical().items():
            params[f"model.{name}"] = _as_param(value)
        for name, value in self.training.model_dump(mode="json").items():
            params[f"training.{name}"] = _as_param(value)
        return params


def _as_param(value: object) -> object:
    if isinstance(value, list):
        return "-".join(map(str, value)) if value else "none"
    return "none" if value is None else value
