"""The DVC `prepare` stage: locate, verify and split each dataset into data/prepared/."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline.config import Project
from pipeline.data.prepared import save, split
from pipeline.data.sources import locate
from pipeline.progress import console, make_progress, summary_table


def prepare_all(project: Project) -> list[dict]:
    """Prepare every dataset named in params `data.datasets`; returns their metadata.

    All or nothing: every dataset is located, checked and split before any file is written,
    so a failure on the second dataset leaves the first one's previous files untouched.
    """
    data = project.params.data
    started = time.perf_counter()
    data_dirs = searched_dirs(project)
    located = []
    with make_progress() as progress:
        task = progress.add_task("preparing", total=2 * len(data.datasets))
        for name in data.datasets:
            progress.update(task, description=f"checking {name}")
            raw = locate(name, data_dirs, data.verify_digests, data.allow_download)
            located.append((split(raw, data.validation_size, data.split_seed),
                            portable_source(project.root, raw.source)))
            progress.advance(task)
        metas = []
        for splits, source in located:
            progress.update(task, description=f"writing {splits.name}")
            metas.append(save(splits, project.prepared_dir, source))
            progress.advance(task)
    rows = [(meta["dataset"], f"{meta['counts']['train']} train / "
             f"{meta['counts']['validation']} val / {meta['counts']['test']} test "
             f"from {meta['source']}") for meta in metas]
    rows.append(("wall time", f"{time.perf_counter() - started:.1f} s"))
    console.print(summary_table(f"prepared -> {project.prepared_dir}", rows))
    return metas


def portable_source(root: Path, source: str) -> str:
    """`source` relative to the project when it lies in or beside it (`../shared/datasets/..`),
    so the prepared metadata, and the hash DVC locks for it, are the same in every clone; a
    folder further away, or a download, is named as it is."""
    if not Path(source).is_absolute():
        return source
    try:
        relative = os.path.relpath(source, root)
    except ValueError:  # Windows: another drive has no relative path
        return source
    return source if relative.startswith(os.path.join(os.pardir, os.pardir)) else relative


def searched_dirs(project: Project) -> list:
    """The configured data folders that exist; a missing one is said, and the search goes on
    (the next configured folder, Debian's folder, then a download)."""
    found = []
    for label, folder in project.data_dirs():
        if folder.is_dir():
            found.append(folder)
        else:
            console.print(f"[yellow]note:[/] {label} = {folder}: folder is missing; continuing "
                          f"the documented search", highlight=False, soft_wrap=True)
    return found
