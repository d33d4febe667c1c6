"""`python -m pipeline bench`: run every case in one run, write reports/performance.md.

Order: the speed cases in alternating rounds (1-3), scaling and the precision effect (6),
the `dvc repro` case (5), then the train stage A B C, A B C (7); the stage overhead (4)
comes from case 7's runs and, with `--records`, from a finished default run. Everything
trains in scratch projects under one temporary folder (pipeline.bench.scratch).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pipeline.bench import closing, document, scaling_document, stage_document
from pipeline.bench.cases import FULL, QUICK, Sizes, planned_steps
from pipeline.bench.machine import this_machine
from pipeline.bench.measure import (
    Speeds,
    effect_jobs,
    effect_of,
    measure_round,
    scaling_jobs,
    scaling_of,
)
from pipeline.bench.measurements import Measurements
from pipeline.bench.overhead import from_records
from pipeline.bench.repro import measure_repro
from pipeline.bench.scratch import Scratch, make_scratch
from pipeline.bench.stage import measure_stage, stage_modes
from pipeline.bench.steps import Steps
from pipeline.config import Project
from pipeline.progress import console, summary_table


def measure_speed_cases(project: Project, scratch: Scratch, sizes: Sizes,
                        precisions: tuple[str, ...], steps: Steps) -> dict:
    """Sections 1-3 round by round; the last round also trains scaling and the precision
    effect (6)."""
    recipe = project.params.training_recipe()
    datasets = project.params.data.datasets
    datasets = datasets[:1] if sizes is QUICK else datasets
    scaling = scaling_jobs(sizes)
    effect = effect_jobs(sizes, recipe, datasets, precisions) if len(precisions) > 1 else []
    speeds = Speeds()
    for number in range(1, sizes.rounds + 1):
        last = number == sizes.rounds
        label = f"1-3. speed cases, round {number}/{sizes.rounds}"
        with steps.step(label + ("; 6. scaling, precision effect" if last else ""),
                        "last round" if last else "round"):
            extra = measure_round(scratch.base, sizes, precisions, speeds,
                                  scaling + effect if last else [])
    samples = sizes.effect_samples or recipe.train_samples
    return {"speeds": speeds, "scaling": scaling_of(sizes, extra[:len(scaling)]),
            "effect": effect_of(effect, extra[len(scaling):]),
            "effect_recipe": f"{samples or 'all'} images x "
                             f"{sizes.effect_epochs or recipe.epochs} epoch(s), batch "
                             f"{recipe.batch_size}, {sizes.effect_seeds} seeds"}


def measure_all(project: Project, root: Path, sizes: Sizes, precisions: tuple[str, ...],
                records_dir: Path | None) -> dict:
    """Every case, under one progress bar with an ETA; the Measurements' fields."""
    console.print("bench: preparing the data and an empty MLflow store in a scratch folder")
    scratch = make_scratch(project, root)
    low = precisions[1] if len(precisions) > 1 else None
    modes = [mode.key for mode in stage_modes(low)]
    with Steps(sizes.expected, planned_steps(sizes, modes)) as steps:
        fields = measure_speed_cases(project, scratch, sizes, precisions, steps)
        fields["repro"] = measure_repro(project, scratch, sizes, steps.step)
        fields["stage"] = measure_stage(scratch, sizes, low, steps.step)
    fields["records"] = from_records(records_dir) if records_dir else None
    return fields


def render(found: Measurements, project: Project) -> list[str]:
    evidence = project.params.evidence
    return (document.header(found) + document.seed_script_section(found)
            + document.flops_section(found) + document.threads_section(found)
            + stage_document.overhead_section(found) + stage_document.repro_section(found)
            + scaling_document.scaling_section(found) + stage_document.stage_section(found)
            + scaling_document.effect_section(found, evidence.smallest_effect, evidence.alpha)
            + closing.gpu_section(found) + closing.closing_note(found))


def run_bench(project: Project, output: Path | None, quick: bool, records_dir: Path | None,
              command: str) -> Path:
    """Measure everything, then write the document (default reports/performance.md)."""
    started = time.perf_counter()
    sizes, machine = (QUICK if quick else FULL), this_machine()
    low = machine.low_precision
    precisions = ("float32", low) if low else ("float32",)
    with tempfile.TemporaryDirectory(prefix="cnn-lab-bench-") as folder:
        fields = measure_all(project, Path(folder), sizes, precisions, records_dir)
    found = Measurements(command=command, machine=machine, sizes=sizes, precisions=precisions,
                         records_dir=records_dir, seconds=time.perf_counter() - started,
                         **fields)
    path = output or project.reports_dir / "performance.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(render(found, project)))
    rows = list(closing.closing_figures(found))
    rows += [("written", str(path)), ("minutes", f"{found.seconds / 60:.1f}")]
    console.print(summary_table("bench: summary", rows))
    return path
