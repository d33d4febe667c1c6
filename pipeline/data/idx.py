"""Reading IDX files (the MNIST container format): header checks, then raw uint8 arrays."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.validation import user_error

IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SIDE = 28


@user_error
class IdxError(ValueError):
    """An IDX file is missing, truncated, or not what its name says."""


@dataclass(frozen=True)
class IdxArray:
    """An IDX file's content and the sha256 of its decompressed bytes."""

    array: np.ndarray
    sha256: str
    path: Path


def read_bytes(path: Path) -> bytes:
    """Decompressed content of `path` (gzip if it ends in .gz)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise IdxError(f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'IDX'}"
                       f" ({error}); replace the file") from error


def parse(content: bytes, path: Path, kind: str) -> np.ndarray:
    """Check the header of an images or labels IDX file and return its array (no copy)."""
    expected_magic, expected_dims = {"images": (IMAGE_MAGIC, 3), "labels": (LABEL_MAGIC, 1)}[kind]
    if len(content) < 4 + 4 * expected_dims:
        raise IdxError(f"{path}: {len(content)} bytes is too short for an IDX {kind} header")
    magic = int.from_bytes(content[0:4], "big")
    if magic != expected_magic:
        raise IdxError(
            f"{path}: magic number {magic} is not {expected_magic} (IDX {kind} of unsigned bytes)"
        )
    dims = [int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_dims)]
    if kind == "images" and dims[1:] != [IMAGE_SIDE, IMAGE_SIDE]:
        raise IdxError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    header = 4 + 4 * expected_dims
    expected_size = header + int(np.prod(dims))
    if len(content) != expected_size:
        state = "truncated" if len(content) < expected_size else "longer than its header says"
        raise IdxError(
            f"{path}: {state}: header declares {dims} ({expected_size} bytes), "
            f"file holds {len(content)} bytes"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: Path, kind: str) -> IdxArray:
    """Read, check and digest one IDX file."""
    content = read_bytes(path)
    array = parse(content, path, kind)
    return IdxArray(array=array, sha256=hashlib.sha256(content).hexdigest(), path=path)


def encode(array: np.ndarray) -> bytes:
    """IDX bytes of a uint8 array (images N x 28 x 28, or labels N); used for digests and tests."""
    magic = IMAGE_MAGIC if array.ndim == 3 else LABEL_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
