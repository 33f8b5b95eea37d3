"""Property tests for deeplearning101.data: data loaders, stratified splits, the IDX reader, the generators."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl
from deeplearning101.data import (DataLoader, TensorDataset, load_mnist, make_blobs, make_moons, make_spirals,
                                  make_xor, read_idx, stratified_split, write_idx)

sizes = st.integers(1, 60)
batch_sizes = st.integers(1, 70)


def epoch(loader):
    "The label batches of one pass over `loader`, as NumPy arrays."
    return [yb.data.copy() for _, yb in loader]


def dataset(n):
    X = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    return TensorDataset(X, np.arange(n))


# ---- DataLoader ---------------------------------------------------------------------------------------
@given(n=sizes, b=batch_sizes, shuffle=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_every_sample_exactly_once_per_epoch(n, b, shuffle, seed):
    loader = DataLoader(dataset(n), batch_size=b, shuffle=shuffle, seed=seed)
    for _ in range(3):                                          # every epoch, not just the first
        batches = epoch(loader)
        assert len(batches) == len(loader) == -(-n // b)
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
        assert [len(x) for x in batches[:-1]] == [b] * (len(batches) - 1)
        assert 1 <= len(batches[-1]) <= b


@given(n=sizes, b=batch_sizes, shuffle=st.booleans(), seed=st.integers(0, 1000))
def test_drop_last(n, b, shuffle, seed):
    loader = DataLoader(dataset(n), batch_size=b, shuffle=shuffle, seed=seed, drop_last=True)
    if n < b:
        assert len(loader) == 0 and epoch(loader) == []
        return
    batches = epoch(loader)
    assert len(batches) == len(loader) == n // b
    assert all(len(x) == b for x in batches)
    got = np.concatenate(batches)
    assert len(set(got.tolist())) == len(got) == (n // b) * b   # no repeats; only the last n % b dropped


@given(n=st.integers(2, 60), b=batch_sizes, seed=st.integers(0, 2**32 - 1))
def test_shuffling_is_reproducible_with_a_seed(n, b, seed):
    a = DataLoader(dataset(n), batch_size=b, shuffle=True, seed=seed)
    c = DataLoader(dataset(n), batch_size=b, shuffle=True, seed=seed)
    for _ in range(3):                                          # the same *sequence* of epochs
        ea, ec = epoch(a), epoch(c)
        assert all(np.array_equal(x, y) for x, y in zip(ea, ec)) and len(ea) == len(ec)


def test_epochs_differ_and_unshuffled_order_is_kept():
    loader = DataLoader(dataset(50), batch_size=7, shuffle=True, seed=0)
    e1, e2 = np.concatenate(epoch(loader)), np.concatenate(epoch(loader))
    assert not np.array_equal(e1, e2)
    assert np.array_equal(np.concatenate(epoch(DataLoader(dataset(50), batch_size=7))), np.arange(50))


def test_batches_are_tensors_that_keep_dtypes():
    X = np.random.default_rng(0).standard_normal((9, 3))       # float64 stays float64
    ds = TensorDataset(X, np.arange(9, dtype=np.int32), dl.tensor(np.ones(9, np.float32)))
    for xb, yb, wb in DataLoader(ds, batch_size=4, shuffle=True, seed=1):
        assert isinstance(xb, dl.Tensor) and xb.dtype == np.float64 and yb.dtype == np.int32
        assert wb.dtype == np.float32 and xb.shape[1:] == (3,)
        assert np.array_equal(X[yb.data], xb.data)             # features and labels stay paired


def test_unshuffled_batches_do_not_copy():
    X = np.zeros((10, 3), np.float32)
    xb, = next(iter(DataLoader(TensorDataset(X), batch_size=4)))
    assert np.shares_memory(xb.data, X)


def test_generic_dataset_is_collated():
    class Pairs:
        def __len__(self): return 7
        def __getitem__(self, i): return np.full(2, i, np.float32), i
    batches = list(DataLoader(Pairs(), batch_size=3, shuffle=True, seed=0))
    assert [len(yb) for _, yb in batches] == [3, 3, 1]
    for xb, yb in batches:
        assert xb.shape == (len(yb), 2) and np.array_equal(xb.data[:, 0], yb.data)


def test_tensor_dataset_indexing():
    ds = dataset(6)
    x, y = ds[2]
    assert isinstance(x, dl.Tensor) and x.tolist() == [4.0, 5.0] and y.item() == 2
    assert ds[1:4][1].tolist() == [1, 2, 3]
    assert ds[np.array([5, 0, 5])][1].tolist() == [5, 0, 5]
    assert len(ds) == 6


@pytest.mark.parametrize("make, match", [
    (lambda: TensorDataset(np.zeros(3), np.zeros(4)), r"lengths \[3, 4\]"),
    (lambda: TensorDataset(), "at least one array"),
    (lambda: TensorDataset(np.float32(1.0)), "scalar"),
    (lambda: DataLoader(dataset(3), batch_size=0), "batch_size must be a positive integer, got 0"),
    (lambda: DataLoader(dataset(3), batch_size=-1), "got -1"),
    (lambda: DataLoader(dataset(3), batch_size=True), "got True"),
    (lambda: DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=2), "empty"),
])
def test_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---- stratified split ----------------------------------------------------------------------------------
@given(counts=st.lists(st.integers(1, 40), min_size=1, max_size=6), test_size=st.floats(0.05, 0.95),
       seed=st.integers(0, 1000))
def test_stratification_keeps_class_proportions(counts, test_size, seed):
    y = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    tr, te = stratified_split(y, test_size, seed)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(y)))   # a partition
    got = np.bincount(y[te], minlength=len(counts))
    assert np.all(np.abs(got - test_size * np.array(counts)) <= 0.5 + 1e-9)   # each class, up to rounding
    tr2, te2 = stratified_split(y, test_size, seed)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)


def test_stratified_split_errors():
    with pytest.raises(ValueError, match="test_size"):
        stratified_split(np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        stratified_split(np.zeros((5, 2)), 0.2)


def test_load_digits_split():
    pytest.importorskip("sklearn")
    Xtr, ytr, Xte, yte = dl.load_digits(test_size=0.25, seed=3)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64 and Xtr.shape[1] == 64
    assert len(Xtr) + len(Xte) == 1797 and 0 <= Xtr.min() and Xtr.max() <= 1
    n_c = np.bincount(np.concatenate([ytr, yte]))
    assert np.all(np.abs(np.bincount(yte) - 0.25 * n_c) <= 0.5)


# ---- IDX files -----------------------------------------------------------------------------------------
def idx_bytes(arr, code):
    "An IDX file written by hand (independently of write_idx)."
    header = struct.pack('>BBBB', 0, 0, code, arr.ndim) + struct.pack(f'>{arr.ndim}I', *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder('>')).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_uint8(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    for name, arr in [('images', images), ('labels', labels)]:
        raw = idx_bytes(arr, 0x08)
        path = tmp_path / (name + ('.gz' if gz else ''))
        path.write_bytes(gzip.compress(raw) if gz else raw)
        back = read_idx(path)
        assert back.dtype == np.uint8 and back.shape == arr.shape and np.array_equal(back, arr)


@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
       dtype=st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
       gz=st.booleans())
def test_write_read_round_trip(tmp_path_factory, shape, dtype, gz):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path_factory.mktemp('idx') / ('a.gz' if gz else 'a')
    write_idx(path, arr)
    assert (path.read_bytes()[:2] == b'\x1f\x8b') == gz
    back = read_idx(path)
    assert back.dtype == dtype and back.shape == tuple(shape) and np.array_equal(back, arr)


def test_multibyte_values_are_big_endian(tmp_path):
    path = tmp_path / 'ints'
    path.write_bytes(struct.pack('>BBBBI', 0, 0, 0x0C, 1, 2) + struct.pack('>ii', 1, -70000))
    assert read_idx(path).tolist() == [1, -70000]


@pytest.mark.parametrize("mangle, match", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b'\x00', "trailing data"),
    (lambda b: b[:6], "ends inside the header"),
    (lambda b: b'\x01' + b[1:], "first two bytes must be zero"),
    (lambda b: b[:2] + b'\x0A' + b[3:], "unknown IDX element type 0x0A"),
    (lambda b: b'', "not an IDX file"),
    (lambda b: gzip.compress(b)[:-8], "corrupt gzip"),
])
def test_corrupt_idx_files(tmp_path, mangle, match):
    good = idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08)
    path = tmp_path / 'bad'
    path.write_bytes(mangle(good))
    with pytest.raises(ValueError, match=match):
        read_idx(path)


def test_load_mnist_from_written_files(tmp_path):
    rng = np.random.default_rng(0)
    files = {'train-images-idx3-ubyte.gz': rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
             'train-labels-idx1-ubyte.gz': rng.integers(0, 10, 4, dtype=np.uint8),
             't10k-images-idx3-ubyte': rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
             't10k-labels-idx1-ubyte': rng.integers(0, 10, 2, dtype=np.uint8)}
    for name, arr in files.items():
        raw = idx_bytes(arr, 0x08)
        (tmp_path / name).write_bytes(gzip.compress(raw) if name.endswith('.gz') else raw)
    Xtr, ytr, Xte, yte = load_mnist(tmp_path)
    assert Xtr.shape == (4, 784) and Xte.shape == (2, 784) and ytr.dtype == np.int64
    assert np.allclose(Xtr * 255, files['train-images-idx3-ubyte.gz'].reshape(4, -1))
    assert np.array_equal(yte, files['t10k-labels-idx1-ubyte'])
    (tmp_path / 't10k-labels-idx1-ubyte').write_bytes(idx_bytes(np.zeros(3, np.uint8), 0x08))
    with pytest.raises(ValueError, match="do not match"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_mnist(tmp_path / 'missing')


# ---- generators ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, n, k", [(make_blobs, 200, 2), (make_xor, 200, 2), (make_moons, 200, 2),
                                        (make_spirals, 300, 3)])
def test_generators_contract(make, n, k):
    X, y = make(seed=5)
    assert X.dtype == np.float32 and y.dtype == np.int64 and X.shape == (n, 2) and y.shape == (n,)
    assert set(y.tolist()) == set(range(k))
    X2, y2 = make(seed=5)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert len(np.unique(y[:20])) > 1                           # shuffled, not sorted by class
