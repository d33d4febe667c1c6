"""The report's capacity-matched controls: Δ against {baseline} and against the control.

A variant that changes the parameter count by more than the grid's threshold is also
compared with its control (the baseline resized to its parameters, pipeline.model.capacity).
For each one the section gives both Δs with their verdicts and one sentence: does the effect
survive at equal capacity? A textbook reference with a `contrast` (the book's own
counter-example, e.g. its convnet without pooling) is tested the same way: against the
contrast and against the contrast resized to its parameters.
"""

from __future__ import annotations

from pipeline.evidence.verdicts import BETTER, EQUIVALENT, WORSE, Verdict
from pipeline.grid.comparisons import CNN_VS_DENSE, Comparison, Settings, decide, factor_of
from pipeline.grid.controls import control_comparisons
from pipeline.grid.expansion import reference_controls
from pipeline.model.shapes import count_params
from pipeline.report.answers import factor_title
from pipeline.report.layer_prose import layer_summary_sentence
from pipeline.report.markdown import adjusted_cell, interval_cell, markdown_table
from pipeline.report.verdict_tables import level_label
from pipeline.specs.grid import Controls, GridSpec, Reference
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import variant_id

DECIDED = (BETTER, WORSE)


def delta_text(found: Verdict | None) -> str:
    """`+0.0042 [+0.0021, +0.0063]; verdict's [+0.0004, +0.0080] (99.64%): better`: Δ with
    its 95% interval, then the adjusted interval the verdict is read from; or `no runs`."""
    if found is None:
        return "no runs"
    adjusted = adjusted_cell(found.adjusted_level, found.adjusted_low, found.adjusted_high)
    return (f"{interval_cell(found.delta, found.low, found.high)}; verdict's {adjusted}: "
            f"{found.verdict}")


def survival_sentence(name: str, against_baseline: Verdict | None,
                      against_control: Verdict | None, baseline: str = "the baseline") -> str:
    """One sentence: does `name`'s effect against `baseline` survive at equal capacity?"""
    if against_baseline is None or against_control is None:
        return (f"Not measured yet: {name} has no paired runs against {baseline} or against "
                f"its control of equal capacity.")
    base, control = against_baseline.verdict, against_control.verdict
    if base in DECIDED and control == base:
        return (f"Yes: {name} is {base} than {baseline} and still {control} than a control "
                f"of equal capacity, so the effect is not capacity alone.")
    if base in DECIDED and control in DECIDED:
        return (f"No, it reverses: {name} is {base} than {baseline} but {control} than a "
                f"control of equal capacity, so capacity, not the change, explains the gap.")
    if base in DECIDED and control == EQUIVALENT:
        return (f"No: {name} is {base} than {baseline}, but equivalent to a control of "
                f"equal capacity, so capacity explains the effect.")
    if base in DECIDED:
        return (f"Not shown: {name} is {base} than {baseline}, but against a control of "
                f"equal capacity the difference is {control}, so capacity may explain it.")
    if control in DECIDED:
        return (f"There is no decided effect against {baseline} ({base}), but at equal "
                f"capacity {name} is {control} than the control.")
    return (f"No effect to explain: {name} is {base} against {baseline} and {control} "
            f"against a control of equal capacity.")


def control_rows(comparisons: list[Comparison], verdicts: dict,
                 baselines: dict[tuple[str, object], Comparison]) -> tuple[list, list[str]]:
    """Table rows and survival sentences, one per variant with a control."""
    rows, sentences = [], []
    for comparison in comparisons:
        main = baselines.get((comparison.dataset, comparison.variant))
        level = level_label(comparison.factor, comparison.variant)
        name = level if comparison.factor == CNN_VS_DENSE else \
            f"{factor_title(comparison.factor).lower()} {level}"
        against_baseline = verdicts.get(main) if main else None
        against_control = verdicts.get(comparison)
        rows.append([factor_title(comparison.factor), level,
                     f"{count_params(comparison.variant):,}",
                     f"{comparison.baseline.describe()} ({count_params(comparison.baseline):,})",
                     delta_text(against_baseline), delta_text(against_control)])
        sentences.append(f"- **{name}**: "
                         + survival_sentence(name, against_baseline, against_control))
    return rows, sentences


def controls_section(grid: GridSpec, comparisons: list[Comparison],
                     verdicts: dict) -> list[str]:
    """Per dataset: each controlled variant's Δ vs baseline and vs control, and a sentence."""
    controlled = control_comparisons(grid)
    if not controlled:
        return []
    settings = grid.controls or Controls()
    baselines = {(c.dataset, c.variant): c for c in comparisons}
    lines = ["## Capacity-matched controls", "",
             f"Every variant whose parameter count differs from the baseline's "
             f"({count_params(grid.cnn.baseline):,}) by more than {settings.threshold:.0%} "
             f"is also compared with a control: the baseline resized to within "
             f"±{settings.tolerance:.0%} of the variant's parameters (its Dense head widened "
             f"or narrowed; where that cannot reach, its filters scaled), trained with the "
             f"same seeds and recipe. Δ vs control is paired by seed and test image like Δ vs "
             f"baseline; both verdicts are read from intervals adjusted over the same family "
             f"(every comparison of this report, and the looks).", ""]
    headers = ["factor", "level", "params", "control (params)",
               "Δ vs baseline [95% CI]; verdict's interval: verdict",
               "Δ vs control [95% CI]; verdict's interval: verdict"]
    for dataset in grid.datasets:
        chosen = [c for c in controlled if c.dataset == dataset]
        rows, sentences = control_rows(chosen, verdicts, baselines)
        lines += [f"### {dataset}", "", markdown_table(headers, rows), "", *sentences, ""]
    return lines


def contrast_verdicts(results_dir, grid: GridSpec, reference: Reference, contrast: Reference,
                      recipe: TrainingRecipe, settings: Settings) -> tuple:
    """The reference against its contrast and against the capacity-matched control (paired
    by seed and test image; Bonferroni over these two, one look)."""
    factor = factor_of(grid, contrast.model, reference.model)
    against = Comparison(reference.dataset, factor, reference.model, contrast.model)
    control = reference_controls(grid).get(reference.name)
    pairs = [against] + ([Comparison(reference.dataset, factor, reference.model, control)]
                         if control is not None else [])
    seeds = {(reference.dataset, variant_id(reference.dataset, model)): grid.initial_seeds
             for model in (reference.model, contrast.model, control) if model is not None}
    found = decide(results_dir, pairs, recipe, seeds, Settings(settings.smallest_effect,
                                                               settings.alpha, 1))
    return control, found.get(against), found.get(pairs[-1]) if control is not None else None


def contrast_section(results_dir, grid: GridSpec, settings: Settings) -> list[str]:
    """Each textbook counter-example: what it does to the layers, and its Δ against the
    textbook network and against that network resized to equal capacity."""
    if grid.references is None or not grid.references.contrasts():
        return []
    recipes = {reference.name: recipe for reference, recipe in grid.references.recipes()}
    lines = ["### The textbooks' counter-examples, tested", ""]
    for reference, contrast in grid.references.contrasts():
        control, against, matched = contrast_verdicts(results_dir, grid, reference, contrast,
                                                      recipes[reference.name], settings)
        change = layer_summary_sentence(contrast.model, reference.model)
        lines += [f"**{reference.name}** ({reference.source}) against **{contrast.name}**: "
                  f"{change[0].lower()}{change[1:-1]} (the layer tables are under Layer "
                  f"shapes).", ""]
        rows = [[contrast.name, f"{count_params(contrast.model):,}", delta_text(against)]]
        if control is not None:
            rows.append([f"{contrast.name} resized to equal capacity: {control.describe()}",
                         f"{count_params(control):,}", delta_text(matched)])
        lines += [markdown_table([f"{reference.name} against", "params",
                                  "Δ [95% CI] (verdict)"], rows), "",
                  survival_sentence(reference.name, against, matched, contrast.name), ""]
    return lines
