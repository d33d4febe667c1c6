"""The DVC `prepare` stage: locate, verify and split each dataset into data/prepared/."""

from __future__ import annotations

import time

from pipeline.config import Project
from pipeline.data.sources import locate
from pipeline.data.prepared import save, split
from pipeline.progress import console, make_progress, summary_table


def prepare_all(project: Project) -> list[dict]:
    """Prepare every dataset named in params `data.datasets`; returns their metadata."""
    data = project.params.data
    started = time.perf_counter()
    metas = []
    with make_progress() as progress:
        task = progress.add_task("preparing", total=len(data.datasets))
        for name in data.datasets:
            progress.update(task, description=f"preparing {name}")
            raw = locate(name, project.data_dir(), data.verify_digests, data.allow_download)
            splits = split(raw, data.validation_size, data.split_seed)
            metas.append(save(splits, project.prepared_dir, raw.source))
            progress.advance(task)
    rows = [(meta["dataset"], f"{meta['counts']['train']} train / "
             f"{meta['counts']['validation']} val / {meta['counts']['test']} test "
             f"from {meta['source']}") for meta in metas]
    rows.append(("wall time", f"{time.perf_counter() - started:.1f} s"))
    console.print(summary_table(f"prepared -> {project.prepared_dir}", rows))
    return metas
