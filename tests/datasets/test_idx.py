import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from prefstudy.datasets.embedded import fashion_mnist_sample_dir
from prefstudy.datasets.readers.idx import read_idx
from prefstudy.errors import PrefstudyError


def test_reads_the_embedded_real_fashion_mnist_test_split():
    images = read_idx(fashion_mnist_sample_dir() / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(fashion_mnist_sample_dir() / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert np.bincount(labels).tolist() == [1000] * 10  # the official test split is balanced
    assert labels[:5].tolist() == [9, 2, 1, 1, 6]  # Ankle boot, Pullover, Trouser, Trouser, Shirt


def test_reads_raw_and_gzipped_files_alike(tmp_path: Path):
    data = struct.pack(">HBBII", 0, 8, 2, 2, 3) + bytes(range(6))
    (tmp_path / "a").write_bytes(data)
    (tmp_path / "a.gz").write_bytes(gzip.compress(data))
    assert read_idx(tmp_path / "a").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert read_idx(tmp_path / "a.gz").tolist() == [[0, 1, 2], [3, 4, 5]]


def test_a_truncated_gzip_file_is_one_clear_error(tmp_path: Path):
    whole = (fashion_mnist_sample_dir() / "t10k-labels-idx1-ubyte.gz").read_bytes()
    cut = tmp_path / "t10k-labels-idx1-ubyte.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(PrefstudyError, match="truncated or corrupt"):
        read_idx(cut)


def test_a_truncated_payload_reports_declared_and_held_sizes(tmp_path: Path):
    data = struct.pack(">HBBIII", 0, 8, 3, 10, 28, 28) + bytes(500)
    (tmp_path / "x").write_bytes(data)
    with pytest.raises(PrefstudyError, match=r"declares shape \(10, 28, 28\) \(7840 bytes\), it holds 500"):
        read_idx(tmp_path / "x")


def test_a_file_that_is_not_idx_is_rejected(tmp_path: Path):
    (tmp_path / "x").write_bytes(b"hello world, not idx")
    with pytest.raises(PrefstudyError, match="not an unsigned-byte IDX file"):
        read_idx(tmp_path / "x")
