"""What the benchmark trains, and how much: the models, the sizes of every case, the jobs.

A job is one training a child process runs (pipeline.bench.child); `Sizes` says how many
images each case trains so that the whole benchmark takes about 10 minutes on 2 cores
(FULL), or a minute or two of mostly process start-ups (QUICK, for its test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.workers.local import job_count

BASELINE = {"arch": "cnn", "filters": [32, 64, 64], "dense_units": [64]}
NO_POOLING = {**BASELINE, "pooling": "none"}
MODELS = {"baseline CNN": BASELINE, "no-pooling CNN": NO_POOLING,
          "Dense 128": {"arch": "dense", "dense_units": [128]}}


@dataclass(frozen=True)
class StageBudget:
    """What each run of the train-stage case (7) trains: a cut-down default profile."""

    epochs: int
    train_samples: int
    val_samples: int
    test_samples: int
    axes: tuple[str, ...] | None = None  # the default grid's CNN axes kept (None: all)


@dataclass(frozen=True)
class Sizes:
    """How much each case trains; FULL takes about 10 minutes on 2 cores, QUICK seconds."""

    rounds: int
    compare_samples: int
    compare_epochs: int
    flops_samples: dict[str, int]
    process_samples: int
    split_no_pooling_samples: int
    train_sizes: tuple[int, ...]
    grid_sizes: tuple[int, ...]
    grid_samples: int
    effect_seeds: int
    effect_samples: int | None  # None: the active profile's own recipe
    effect_epochs: int | None  # None: the active profile's own recipe
    stage: StageBudget
    repro_grid: str  # "smoke": experiments/grids/smoke.yaml as it is; "tiny": 2 cells
    repro_stages: tuple[str, ...]  # what `dvc repro` is given: () the whole pipeline
    expected: dict[str, float]  # seconds of each kind of step (pipeline.bench.steps)
    log_models: bool = True  # the stage and repro cases log each model, as by default
    val_samples: int = 1000
    processes: int = field(default_factory=lambda: job_count("auto"))


FULL = Sizes(rounds=2, compare_samples=12000, compare_epochs=2,
             flops_samples={"baseline CNN": 10000, "no-pooling CNN": 2000, "Dense 128": 20000},
             process_samples=10000, split_no_pooling_samples=1500,
             train_sizes=(5000, 15000, 30000, 55000), grid_sizes=(1, 2, 4), grid_samples=5000,
             effect_seeds=3, effect_samples=10000, effect_epochs=2,
             # the default profile's images per run (20,000 train, 2,000 validation, all
             # 10,000 test), 2 of its 3 epochs: runs as long as the grid's, so start-up and
             # logging weigh what they weigh in a real stage
             stage=StageBudget(epochs=2, train_samples=20000, val_samples=2000,
                               test_samples=10000),
             repro_grid="smoke", repro_stages=(),
             expected={"round": 61, "last round": 156, "first repro": 70, "no-op repro": 2,
                       "changed repro": 52, "A": 100, "B": 70, "C": 55})
QUICK = Sizes(rounds=1, compare_samples=300, compare_epochs=1,
              flops_samples=dict.fromkeys(MODELS, 200), process_samples=200,
              split_no_pooling_samples=100, train_sizes=(200, 400), grid_sizes=(1, 2),
              grid_samples=200, effect_seeds=2, effect_samples=300, effect_epochs=1,
              stage=StageBudget(epochs=1, train_samples=100, val_samples=50, test_samples=100,
                                axes=("pooling",)),
              repro_grid="tiny", repro_stages=("train",), val_samples=100, processes=2,
              log_models=False,
              expected={"round": 15, "last round": 23, "first repro": 15, "no-op repro": 3,
                        "changed repro": 10, "A": 8, "B": 12, "C": 12})


def planned_steps(sizes: Sizes, modes: list[str]) -> list[str]:
    """The kinds of step a run takes, in order: speed rounds (the last with scaling), the
    three repros, then the train-stage modes round by round."""
    return (["round"] * (sizes.rounds - 1) + ["last round", "first repro", "no-op repro",
                                               "changed repro"] + modes * sizes.rounds)


def job(kind: str, model: dict, samples: int | None, epochs: int = 1,
        precision: str = "float32", sizes: Sizes = FULL, **extra) -> dict:
    """One training for a child: `kind` picks the code path (pipeline, seed_script, grid)."""
    return {"kind": kind, "model": model, "samples": samples, "epochs": epochs,
            "precision": precision, "dataset": "mnist", "seed": 0, "batch_size": 64,
            "val_samples": sizes.val_samples, **extra}
