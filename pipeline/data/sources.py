"""Finding and verifying the raw IDX files of MNIST and Fashion-MNIST (the documented search)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data import idx
from pipeline.validation import user_error

PARTS = ("train-images", "train-labels", "test-images", "test-labels")
FILE_NAMES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}
FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
CLASS_NAMES = {  # the report names classes in confusion tables
    "mnist": [str(digit) for digit in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
DEBIAN_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
COUNTS = {"train": 60000, "test": 10000}
DOWNLOAD_TIMEOUT_S = 10.0

# sha256 of the decompressed IDX files (../shared/datasets/README.md).
KNOWN_SHA256 = {
    "mnist": {
        "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "test-images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "test-labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

@user_error
class DataNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found; the message lists every place looked at."""


@dataclass(frozen=True)
class RawDataset:
    """The four arrays of a dataset and where they came from."""

    name: str
    arrays: dict[str, np.ndarray]
    sha256: dict[str, str]
    source: str


def find_file(folder: Path, part: str) -> Path | None:
    """The IDX file of `part` in `folder`, gzipped or not."""
    for candidate in (folder / f"{FILE_NAMES[part]}.gz", folder / FILE_NAMES[part]):
        if candidate.is_file():
            return candidate
    return None


def candidate_folders(name: str, data_dirs: Path | list[Path] | None) -> list[Path]:
    """Folders to try, in order: `<data_dir>/<dataset>/` for each data dir, then Debian's."""
    if data_dirs is None:
        data_dirs = []
    elif isinstance(data_dirs, Path):
        data_dirs = [data_dirs]
    folders = [data_dir / FOLDERS[name] for data_dir in data_dirs]
    if name in DEBIAN_DIRS:
        folders.append(DEBIAN_DIRS[name])
    return folders


def read_folder(name: str, folder: Path, verify_digests: bool) -> RawDataset:
    """Read and check the four files of `name` in `folder`."""
    arrays, digests = {}, {}
    for part in PARTS:
        path = find_file(folder, part)
        if path is None:
            raise DataNotFoundError(
                f"{folder}: {FILE_NAMES[part]}(.gz) is missing for dataset {name!r}"
            )
        loaded = idx.read_idx(path, part.split("-")[1])
        if verify_digests:
            expected = KNOWN_SHA256[name][part]
            if loaded.sha256 != expected:
                raise idx.IdxError(
                    f"{path}: sha256 of the decompressed content is {loaded.sha256}, expected "
                    f"{expected} for {name} {part}; the file is corrupt or not {name}"
                )
            expected_count = COUNTS[part.split("-")[0]]
            if len(loaded.array) != expected_count:
                raise idx.IdxError(f"{path}: {len(loaded.array)} items, expected {expected_count}")
        arrays[part], digests[part] = loaded.array, loaded.sha256
    for split in ("train", "test"):
        images, labels = arrays[f"{split}-images"], arrays[f"{split}-labels"]
        if len(images) != len(labels):
            raise idx.IdxError(
                f"{folder}: {split} has {len(images)} images but {len(labels)} labels"
            )
        if labels.max(initial=0) > 9:
            raise idx.IdxError(f"{folder}: {split} labels exceed 9 (max {labels.max()})")
    return RawDataset(name, arrays, digests, str(folder))


def download(name: str) -> RawDataset:
    """Keras' online copy, for users with internet; digests are checked like local files."""
    import hashlib
    import socket

    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # offline machines fail in seconds, not minutes
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    finally:
        socket.setdefaulttimeout(previous)
    arrays = {"train-images": x_train, "train-labels": y_train,
              "test-images": x_test, "test-labels": y_test}
    digests = {part: hashlib.sha256(idx.encode(array)).hexdigest()
               for part, array in arrays.items()}
    for part, digest in digests.items():
        if digest != KNOWN_SHA256[name][part]:
            raise idx.IdxError(f"keras download of {name} {part}: sha256 {digest} is unexpected")
    return RawDataset(name, arrays, digests, f"keras.datasets.{name}")


def locate(name: str, data_dirs: Path | list[Path] | None, verify_digests: bool,
           allow_download: bool) -> RawDataset:
    """Load `name` from the first place that has it, or explain where the lab looked."""
    looked = []
    for folder in candidate_folders(name, data_dirs):
        if folder.is_dir() and any(find_file(folder, part) for part in PARTS):
            return read_folder(name, folder, verify_digests)
        looked.append(str(folder))
    if allow_download:
        try:
            return download(name)
        except Exception as error:  # noqa: BLE001 - any network failure means "not found here"
            looked.append(f"keras download ({type(error).__name__}: {error})")
    raise DataNotFoundError(
        f"dataset {name!r} not found. Looked in: {'; '.join(looked) or 'nowhere'}. "
        f"Set CNN_LAB_DATA_DIR or `data.dir` in params.yaml to a directory holding "
        f"{FOLDERS[name]}/{FILE_NAMES['train-images']}.gz and the three other IDX files."
    )
