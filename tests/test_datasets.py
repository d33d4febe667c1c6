"""Data: IDX checks, digests, where the lab looks, and the stratified validation split."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import load_project
from pipeline.data import idx
from pipeline.data.prepare import prepare_all
from pipeline.data.prepared import load_prepared, save, split
from pipeline.data.sampling import stratified_indices
from pipeline.data.sources import KNOWN_SHA256, DataNotFoundError, locate, read_folder
from tests.conftest import require_shared_datasets, write_project, write_synthetic_dataset


def test_synthetic_folder_reads_and_splits(tmp_path):
    write_synthetic_dataset(tmp_path / "mnist", train=500, test=100)
    raw = read_folder("mnist", tmp_path / "mnist", verify_digests=False)
    assert raw.arrays["train-images"].shape == (500, 28, 28)
    splits = split(raw, validation_size=100, split_seed=0)
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (400, 100, 100)
    assert np.bincount(splits.y_val, minlength=10).tolist() == [10] * 10


def test_prepared_file_round_trip_without_pickle(tmp_path):
    write_synthetic_dataset(tmp_path / "mnist", train=300, test=50)
    splits = split(read_folder("mnist", tmp_path / "mnist", False), 50, 0)
    save(splits, tmp_path / "prepared", "test")
    loaded = load_prepared(tmp_path / "prepared", "mnist")
    assert loaded.digest == splits.digest
    assert np.array_equal(loaded.x_train, splits.x_train)


def test_two_clones_beside_one_data_folder_prepare_byte_identical_files(tmp_path,
                                                                        synthetic_data_dir):
    """The documented layout (a clone beside `shared/`): the prepared files name their
    source relative to the project, so every clone prepares the same bytes and `dvc repro`
    on a fresh clone reproduces the committed dvc.lock; a folder further away is named
    as it is."""
    prepared = {}
    for clone in ("one", "two"):
        shared = tmp_path / clone / "shared"
        shutil.copytree(synthetic_data_dir, shared)
        project = load_project(write_project(tmp_path / clone / "main", Path("../shared")))
        prepare_all(project)
        prepared[clone] = {path.name: path.read_bytes()
                           for path in sorted(project.prepared_dir.iterdir())}
    assert prepared["one"] == prepared["two"] and len(prepared["one"]) == 4
    assert b'"source": "../shared/mnist"' in prepared["one"]["mnist.json"]
    far = load_project(write_project(tmp_path / "far" / "deeper" / "main", synthetic_data_dir))
    (meta,) = [meta for meta in prepare_all(far) if meta["dataset"] == "mnist"]
    assert meta["source"] == str(synthetic_data_dir / "mnist")


def test_truncated_file_names_file_and_sizes(tmp_path):
    write_synthetic_dataset(tmp_path / "mnist", train=100, test=20)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content[:-100]))
    with pytest.raises(idx.IdxError, match=r"train-images-idx3-ubyte.gz: truncated: header "
                                           r"declares \[100, 28, 28\] \(78416 bytes\)"):
        read_folder("mnist", tmp_path / "mnist", verify_digests=False)


def test_wrong_digest_is_rejected(tmp_path):
    write_synthetic_dataset(tmp_path / "mnist", train=100, test=20)
    with pytest.raises(idx.IdxError, match="sha256 of the decompressed content is .* expected "
                                           + KNOWN_SHA256["mnist"]["train-images"]):
        read_folder("mnist", tmp_path / "mnist", verify_digests=True)


def test_wrong_magic_number(tmp_path):
    write_synthetic_dataset(tmp_path / "mnist", train=100, test=20)
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    images = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    labels.write_bytes(images.read_bytes())
    with pytest.raises(idx.IdxError, match="magic number 2051 is not 2049"):
        read_folder("mnist", tmp_path / "mnist", verify_digests=False)


def test_missing_dataset_lists_where_it_looked(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        locate("mnist", tmp_path / "nowhere", verify_digests=True, allow_download=False)
    message = str(error.value)
    assert str(tmp_path / "nowhere" / "mnist") in message
    assert "CNN_LAB_DATA_DIR" in message


def test_missing_single_file_is_named(tmp_path):
    write_synthetic_dataset(tmp_path / "mnist", train=100, test=20)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match="t10k-labels-idx1-ubyte"):
        locate("mnist", tmp_path, verify_digests=False, allow_download=False)


def test_stratified_indices_keep_class_mix_and_are_deterministic():
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 100])
    chosen = stratified_indices(labels, 110, seed=3)
    assert len(chosen) == 110
    assert np.bincount(labels[chosen]).tolist() == [10, 20, 10, 10, 10, 10, 10, 10, 10, 10]
    assert np.array_equal(chosen, stratified_indices(labels, 110, seed=3))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_shared_datasets_match_published_digests_and_counts(name):
    raw = locate(name, require_shared_datasets(), verify_digests=True, allow_download=False)
    assert raw.sha256 == KNOWN_SHA256[name]
    counts = np.bincount(raw.arrays["test-labels"], minlength=10).tolist()
    expected = {"mnist": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
                "fashion_mnist": [1000] * 10}[name]
    assert counts == expected
