"""The sentence the report puts above a variant's layer table: what the change does to the
flattened features and the parameter count, in words generated per registry factor."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.model.layer_table import flattened_features, layer_rows
from pipeline.specs.factors import FACTORS, Factor, level_text, widths_text
from pipeline.specs.model import ModelSpec

ARCH_NAMES = {"cnn": "CNN", "dense": "Dense network"}


def _pooling(before: ModelSpec, after: ModelSpec) -> str:
    if after.pooling == "none":
        return "without pooling"
    return f"with {after.pooling} pooling instead of {before.pooling}"


# How each factor's change reads, in the order the sentence lists changes; a factor missing
# here reads "with <title> <level> instead of <level>" (tests require an entry for each).
PHRASES: dict[str, Callable[[ModelSpec, ModelSpec], str]] = {
    "pooling": _pooling,
    "padding": lambda before, after: f"with {after.padding} padding instead of {before.padding}",
    "kernel_size": lambda before, after: (
        f"with {after.kernel_size}x{after.kernel_size} kernels instead of "
        f"{before.kernel_size}x{before.kernel_size}"),
    "filters": lambda before, after: (
        f"with filters {widths_text(after.filters)} instead of {widths_text(before.filters)}"),
    "dense_units": lambda before, after: (
        f"with hidden Dense {widths_text(after.dense_units)} instead of "
        f"{widths_text(before.dense_units)}"),
    "dropout": lambda before, after: (
        f"with dropout {after.dropout:g} instead of {before.dropout:g}"),
}


def _generic(factor: Factor) -> Callable[[ModelSpec, ModelSpec], str]:
    def phrase(before: ModelSpec, after: ModelSpec) -> str:
        return (f"with {factor.title.lower()} {level_text(factor, getattr(after, factor.name))} "
                f"instead of {level_text(factor, getattr(before, factor.name))}")
    return phrase


def change_phrase(baseline: ModelSpec, variant: ModelSpec) -> str:
    """What `variant` changes, e.g. `without pooling` or `with same padding instead of valid`."""
    if baseline.arch != variant.arch:
        return f"as a {ARCH_NAMES[variant.arch]} instead of a {ARCH_NAMES[baseline.arch]}"
    ordered = sorted(FACTORS, key=lambda factor: list(PHRASES).index(factor.name)
                     if factor.name in PHRASES else len(PHRASES))
    changes = [PHRASES.get(factor.name, _generic(factor))(baseline, variant) for factor in ordered
               if getattr(baseline, factor.name) != getattr(variant, factor.name)]
    return " and ".join(changes) or "with the same settings"


def layer_summary_sentence(baseline: ModelSpec, variant: ModelSpec) -> str:
    """What the variant does to the flattened features and the parameter count.

    e.g. "Without pooling, the network flattens 61,952 features instead of 1,152 and grows
    from 104,202 to 712,202 parameters."
    """
    before_features, after_features = flattened_features(baseline), flattened_features(variant)
    before_params = sum(row.params for row in layer_rows(baseline))
    after_params = sum(row.params for row in layer_rows(variant))
    if after_features == before_features:
        features = f"still flattens {after_features:,} features"
    else:
        features = f"flattens {after_features:,} features instead of {before_features:,}"
    if after_params == before_params:
        params = f"keeps its {after_params:,} parameters"
    else:
        verb = "grows" if after_params > before_params else "shrinks"
        params = f"{verb} from {before_params:,} to {after_params:,} parameters"
    phrase = change_phrase(baseline, variant)
    return f"{phrase[0].upper()}{phrase[1:]}, the network {features} and {params}."
