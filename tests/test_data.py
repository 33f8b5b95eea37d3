"""Tests for deeplearning101.data: datasets, data loaders and splits (with parity tests
against torch.utils.data), stratified splits, the IDX reader, MNIST downloads (from a
local web server and file:// mirrors only: nothing here touches the network) and the
synthetic data generators.
"""

import collections
import gzip
import hashlib
import http.server
import struct
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl
import deeplearning101.data as dd
from deeplearning101.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    download_verified,
    load_mnist,
    make_blobs,
    make_moons,
    make_spirals,
    make_xor,
    random_split,
    read_idx,
    stratified_split,
    write_idx,
)

sizes = st.integers(1, 60)
batch_sizes = st.integers(1, 70)


def epoch(loader):
    "The label batches of one pass over `loader`, as NumPy arrays."
    return [yb.numpy().copy() for _, yb in loader]


def dataset(n):
    X = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    return TensorDataset(X, np.arange(n))


# ---- DataLoader ----------------------------------------------------------------------
@given(n=sizes, b=batch_sizes, shuffle=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_every_sample_exactly_once_per_epoch(n, b, shuffle, seed):
    loader = DataLoader(dataset(n), batch_size=b, shuffle=shuffle, seed=seed)
    for _ in range(3):  # every epoch, not just the first
        batches = epoch(loader)
        assert len(batches) == len(loader) == -(-n // b)
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
        assert [len(x) for x in batches[:-1]] == [b] * (len(batches) - 1)
        assert 1 <= len(batches[-1]) <= b


@given(n=sizes, b=batch_sizes, shuffle=st.booleans(), seed=st.integers(0, 1000))
def test_drop_last(n, b, shuffle, seed):
    loader = DataLoader(
        dataset(n), batch_size=b, shuffle=shuffle, seed=seed, drop_last=True
    )
    if n < b:
        assert len(loader) == 0 and epoch(loader) == []
        return
    batches = epoch(loader)
    assert len(batches) == len(loader) == n // b
    assert all(len(x) == b for x in batches)
    got = np.concatenate(batches)
    assert (
        len(set(got.tolist())) == len(got) == (n // b) * b
    )  # no repeats; only the last n % b dropped


@given(n=st.integers(2, 60), b=batch_sizes, seed=st.integers(0, 2**32 - 1))
def test_shuffling_is_reproducible_with_a_seed(n, b, seed):
    a = DataLoader(dataset(n), batch_size=b, shuffle=True, seed=seed)
    c = DataLoader(
        dataset(n),
        batch_size=b,
        shuffle=True,
        generator=dl.Generator().manual_seed(seed),
    )
    for _ in range(3):  # the same *sequence* of epochs
        ea, ec = epoch(a), epoch(c)
        assert all(np.array_equal(x, y) for x, y in zip(ea, ec)) and len(ea) == len(ec)


def test_default_generator_makes_epochs_reproducible():
    loader = DataLoader(dataset(30), batch_size=4, shuffle=True)
    dl.manual_seed(123)
    first = [np.concatenate(epoch(loader)) for _ in range(3)]
    dl.manual_seed(123)
    again = [
        np.concatenate(epoch(DataLoader(dataset(30), batch_size=4, shuffle=True)))
        for _ in range(3)
    ]
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert not np.array_equal(first[0], first[1])  # but consecutive epochs differ
    g = dl.Generator().manual_seed(5)  # generator= draws from g, not the default
    dl.manual_seed(0)
    x = np.concatenate(
        epoch(DataLoader(dataset(30), batch_size=4, shuffle=True, generator=g))
    )
    assert (
        np.array_equal(dl.default_generator.get_state().numpy(),
                       dl.manual_seed(0).get_state().numpy())
    )  # default one untouched
    assert np.array_equal(
        x,
        np.concatenate(
            epoch(
                DataLoader(
                    dataset(30),
                    batch_size=4,
                    shuffle=True,
                    generator=dl.Generator().manual_seed(5),
                )
            )
        ),
    )


def test_order_is_drawn_when_the_epoch_starts():
    loader = DataLoader(dataset(20), batch_size=5, shuffle=True, seed=0)
    it1 = iter(loader)
    it2 = iter(loader)  # two epochs, drawn in this order
    e1, e2 = [np.concatenate([yb.numpy() for _, yb in it]) for it in (it1, it2)]
    fresh = DataLoader(dataset(20), batch_size=5, shuffle=True, seed=0)
    assert np.array_equal(e1, np.concatenate(epoch(fresh))) and np.array_equal(
        e2, np.concatenate(epoch(fresh))
    )


def test_epochs_differ_and_unshuffled_order_is_kept():
    loader = DataLoader(dataset(50), batch_size=7, shuffle=True, seed=0)
    e1, e2 = np.concatenate(epoch(loader)), np.concatenate(epoch(loader))
    assert not np.array_equal(e1, e2)
    assert np.array_equal(
        np.concatenate(epoch(DataLoader(dataset(50), batch_size=7))), np.arange(50)
    )


def test_batches_are_tensors_that_keep_dtypes():
    X = np.random.default_rng(0).standard_normal((9, 3))  # float64 stays float64
    ds = TensorDataset(
        X, np.arange(9, dtype=np.int32), dl.tensor(np.ones(9, np.float32))
    )
    for batch in DataLoader(ds, batch_size=4, shuffle=True, seed=1):
        assert isinstance(batch, list) and len(batch) == 3  # a list, as in PyTorch
        xb, yb, wb = batch
        assert (
            isinstance(xb, dl.Tensor)
            and xb.dtype == dl.float64
            and yb.dtype == dl.int32
        )
        assert wb.dtype == dl.float32 and xb.shape[1:] == (3,)
        assert np.array_equal(
            X[yb.numpy()], xb.numpy()
        )  # features and labels stay paired


class Views(Dataset):
    "A generic dataset whose samples are views of its array."

    def __init__(self, X):
        self.X = dl.from_numpy(X)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], i


class ViewsTD(TensorDataset):
    "A TensorDataset whose __getitem__ is overridden: the loader must call it."

    def __getitem__(self, i):
        return tuple(t[i] for t in self.tensors)


@pytest.mark.parametrize(
    "make",
    [
        lambda X: TensorDataset(X),
        lambda X: Subset(TensorDataset(X), [5, 0, 2, 1]),
        lambda X: Views(X),
        lambda X: ViewsTD(X),
        lambda X: [x for x in X],
        lambda X: ConcatDataset([TensorDataset(X[:3]), TensorDataset(X[3:])]),
    ],
    ids=['TensorDataset', 'Subset', 'generic', 'subclass', 'list', 'concat'],
)
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("b", [1, 3, 6])
def test_batches_never_alias_the_dataset(make, shuffle, b):
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    keep = X.copy()
    for batch in DataLoader(make(X), batch_size=b, shuffle=shuffle, seed=0):
        xb = batch[0] if isinstance(batch, list) else batch
        assert not np.shares_memory(xb.numpy(), X)
        xb += 1000  # an in-place edit of the batch ...
        xb[0] = -1
    assert np.array_equal(X, keep)  # ... never reaches the dataset


def test_tensor_dataset_shortcut_equals_generic_collation():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((23, 4)).astype(np.float32), rng.integers(0, 5, 23)
    for shuffle in (False, True):
        fast = DataLoader(TensorDataset(X, y), batch_size=5, shuffle=shuffle, seed=7)
        slow = DataLoader(ViewsTD(X, y), batch_size=5, shuffle=shuffle, seed=7)
        for (a, b), (c, d) in zip(fast, slow, strict=True):
            assert a.dtype == c.dtype and b.dtype == d.dtype
            assert np.array_equal(a.numpy(), c.numpy()) and np.array_equal(
                b.numpy(), d.numpy()
            )


def test_generic_dataset_is_collated():
    class Pairs:
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.full(2, i, np.float32), i

    batches = list(DataLoader(Pairs(), batch_size=3, shuffle=True, seed=0))
    assert [len(yb) for _, yb in batches] == [3, 3, 1]
    for xb, yb in batches:
        assert xb.shape == (len(yb), 2) and np.array_equal(xb.numpy()[:, 0], yb.numpy())
        assert xb.dtype == dl.float32 and yb.dtype == dl.int64


def test_dataset_that_requires_grad_keeps_the_graph():
    X = dl.randn(6, 2, requires_grad=True)  # as in PyTorch: the batch is stacked
    (xb,) = next(iter(DataLoader(TensorDataset(X), batch_size=4)))
    assert xb.requires_grad
    xb.sum().backward()
    assert np.array_equal(X.grad.numpy(), np.r_[np.ones((4, 2)), np.zeros((2, 2))])


def test_samplers_and_no_batching():
    ds = dataset(10)
    assert [
        yb.tolist() for _, yb in DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 0])
    ] == [[9, 8, 7], [0]]
    assert [yb.tolist() for _, yb in DataLoader(ds, batch_sampler=[[1, 2], [5]])] == [
        [1, 2],
        [5],
    ]
    assert len(DataLoader(ds, batch_size=3, sampler=range(7), drop_last=True)) == 2
    samples = list(DataLoader(ds, batch_size=None))
    assert (
        len(samples) == 10 and samples[4][1].item() == 4 and samples[4][0].shape == (2,)
    )
    got = list(
        DataLoader(ds, batch_size=2, collate_fn=lambda s: [int(y) for _, y in s])
    )
    assert got == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


def test_tensor_dataset_indexing():
    ds = dataset(6)
    x, y = ds[2]
    assert isinstance(x, dl.Tensor) and x.tolist() == [4.0, 5.0] and y.item() == 2
    assert ds[1:4][1].tolist() == [1, 2, 3]
    assert ds[np.array([5, 0, 5])][1].tolist() == [5, 0, 5]
    assert len(ds) == 6 and len(ds.tensors) == 2
    X = np.zeros((3, 2))
    assert np.shares_memory(
        TensorDataset(X).tensors[0].numpy(), X
    )  # wrapped, not copied


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: TensorDataset(np.zeros(3), np.zeros(4)), r"lengths \[3, 4\]"),
        (lambda: TensorDataset(), "at least one tensor"),
        (lambda: TensorDataset(np.float32(1.0)), "scalar"),
        (
            lambda: DataLoader(dataset(3), batch_size=0),
            "batch_size must be a positive integer .*got 0",
        ),
        (lambda: DataLoader(dataset(3), batch_size=-1), "got -1"),
        (lambda: DataLoader(dataset(3), batch_size=True), "got True"),
        (
            lambda: DataLoader(
                TensorDataset(np.zeros((0, 2))), batch_size=2, shuffle=True
            ),
            "empty",
        ),
        (
            lambda: DataLoader(dataset(3), sampler=[0, 1], shuffle=True),
            "mutually exclusive with shuffle",
        ),
        (
            lambda: DataLoader(dataset(3), batch_size=2, batch_sampler=[[0]]),
            "mutually exclusive",
        ),
        (lambda: DataLoader(dataset(3), seed=1, generator=dl.Generator()), "not both"),
        (lambda: DataLoader(dataset(3), num_workers=-1), "num_workers"),
        (
            lambda: random_split(dataset(10), [5, 4]),
            r"sum of input lengths \[5, 4\] is 9",
        ),
        (lambda: random_split(dataset(10), [0.5, -0.5, 1.0]), "fraction at index 1"),
        (lambda: random_split(dataset(10), [5.5, 4.5]), "non-negative integers"),
        (lambda: ConcatDataset([]), "empty"),
    ],
)
def test_clear_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def gen():
    yield from range(3)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: TensorDataset(np.array(['cat', 'dog'])),
            "argument 0 .* holds strings",
        ),
        (lambda: TensorDataset(np.zeros(2), ['a', 'b']), "argument 1 .* holds strings"),
        (lambda: TensorDataset(np.zeros(2), [[1, 2], [3]]), "ragged"),
        (lambda: TensorDataset(np.array([{}, {}])), "Python objects"),
        (
            lambda: DataLoader(gen()),
            "got generator: an iterator or generator can't be indexed",
        ),
        (lambda: DataLoader(iter([1, 2])), "can't be indexed"),
        (lambda: DataLoader(42), "got int: it has no __getitem__"),
        (lambda: DataLoader(Dataset()), "it has no __len__"),
        (
            lambda: DataLoader(dataset(3), generator=3),
            "generator must be a dl.Generator",
        ),
        (lambda: DataLoader(dataset(3), seed=1.5), "seed must be an int"),
        (lambda: DataLoader(dataset(3), collate_fn=3), "collate_fn must be callable"),
        (lambda: ConcatDataset([dataset(2), gen()]), "got generator"),
        (lambda: default_collate([object(), object()]), "found object"),
        (lambda: default_collate([np.array(['a']), np.array(['b'])]), "dtype <U1"),
    ],
)
def test_clear_type_errors(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_collate_refuses_ragged_samples():
    with pytest.raises(RuntimeError, match=r"one shape .*\(2,\), \(3,\)"):
        next(iter(DataLoader([np.zeros(2), np.zeros(3)], batch_size=2)))
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (3,)])


def test_empty_dataset_gives_no_batches():
    assert list(DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=4)) == []
    assert len(DataLoader([], batch_size=4)) == 0


def test_base_dataset_and_concatenation():
    with pytest.raises(NotImplementedError, match="must implement __getitem__"):
        Dataset()[0]
    a, b = dataset(3), dataset(4)
    both = a + b
    assert (
        isinstance(both, ConcatDataset)
        and len(both) == 7
        and both.cumulative_sizes == [3, 7]
    )
    assert both[3][1].item() == 0 and both[-1][1].item() == 3 and both[2][1].item() == 2
    assert [int(y) for _, y in both] == [
        0,
        1,
        2,
        0,
        1,
        2,
        3,
    ]  # iteration stops at IndexError
    with pytest.raises(IndexError):
        both[7]
    assert [yb.tolist() for _, yb in DataLoader(both, batch_size=4)] == [
        [0, 1, 2, 0],
        [1, 2, 3],
    ]


# ---- Subset and random_split ---------------------------------------------------------
@given(n=st.integers(0, 80), k=st.integers(1, 5), seed=st.integers(0, 1000))
def test_random_split_is_a_partition(n, k, seed):
    cuts = np.sort(np.random.default_rng(seed).integers(0, n + 1, k - 1))
    lengths = np.diff(np.r_[0, cuts, n]).tolist()
    parts = random_split(range(n), lengths, generator=dl.Generator().manual_seed(seed))
    assert [len(p) for p in parts] == lengths and all(
        isinstance(p, Subset) for p in parts
    )
    assert sorted(i for p in parts for i in p) == list(range(n))
    again = random_split(range(n), lengths, generator=dl.Generator().manual_seed(seed))
    assert [p.indices for p in parts] == [p.indices for p in again]


def test_random_split_uses_the_default_generator():
    dl.manual_seed(9)
    a = [p.indices for p in random_split(dataset(12), [0.5, 0.5])]
    dl.manual_seed(9)
    assert a == [p.indices for p in random_split(dataset(12), [6, 6])]


def test_subset():
    ds = dataset(10)
    sub = Subset(ds, [7, 2, 2])
    assert len(sub) == 3 and sub[0][1].item() == 7 and sub[-1][1].item() == 2
    assert sub[[0, 1]][1].tolist() == [7, 2]  # a list index, as in PyTorch
    nested = Subset(sub, [2, 0])
    assert [yb.tolist() for _, yb in DataLoader(nested, batch_size=2)] == [[2, 7]]


# ---- parity with torch.utils.data ----------------------------------------------------
def plain(x):
    "A batch of either library as nested Python data; a tensor: (dtype, shape, values)."
    if hasattr(x, 'detach') and hasattr(x, 'numpy'):
        a = x.detach().numpy()
        return ('tensor', a.dtype.name, a.shape, a.tolist())
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, '_fields'):
        return (type(x).__name__, [plain(v) for v in x])
    if isinstance(x, list):
        return ['list', [plain(v) for v in x]]
    return x


Point = collections.namedtuple('Point', 'x y')


def samples(kind, torch, n=7):
    "n samples of one kind, for each library (with its own tensor type)."
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    out = []
    for lib in ('dl', 'torch'):
        T = dl.tensor if lib == 'dl' else torch.tensor
        out.append(
            {
                'tensors': [(T(X[i]), T(i)) for i in range(n)],
                'arrays': [(X[i], np.int32(i), np.float64(i / 2)) for i in range(n)],
                'numbers': [(i / 3, i, i % 2 == 0) for i in range(n)],
                'dicts': [{'x': X[i], 'y': i, 'name': f"s{i}"} for i in range(n)],
                'named': [Point(X[i], float(i)) for i in range(n)],
                'single': [T(X[i]) for i in range(n)],
                'lists': [[X[i, :2], i] for i in range(n)],
            }[kind]
        )
    return out


@pytest.mark.parametrize(
    "kind", ['tensors', 'arrays', 'numbers', 'dicts', 'named', 'single', 'lists']
)
@pytest.mark.parametrize(
    "b, drop_last", [(1, False), (3, False), (3, True), (7, False), (10, False)]
)
def test_generic_batches_match_torch(kind, b, drop_last):
    torch = pytest.importorskip("torch")
    ours, theirs = samples(kind, torch)
    a = DataLoader(ours, batch_size=b, drop_last=drop_last)
    t = torch.utils.data.DataLoader(theirs, batch_size=b, drop_last=drop_last)
    assert len(a) == len(t)
    assert [plain(x) for x in a] == [plain(x) for x in t]
    assert plain(default_collate(ours)) == plain(
        torch.utils.data.default_collate(theirs)
    )


@pytest.mark.parametrize(
    "n, b, drop_last",
    [
        (11, 4, False),
        (11, 4, True),
        (8, 8, False),
        (3, 5, False),
        (3, 5, True),
        (1, 1, False),
    ],
)
def test_tensor_dataset_batches_match_torch(n, b, drop_last):
    torch = pytest.importorskip("torch")
    tud = torch.utils.data
    rng = np.random.default_rng(n)
    arrays = [
        rng.standard_normal((n, 2, 3)).astype(np.float32),
        rng.integers(0, 9, n),
        rng.random(n),
        rng.random(n) < 0.5,
    ]
    a = DataLoader(TensorDataset(*arrays), batch_size=b, drop_last=drop_last)
    t = tud.DataLoader(
        tud.TensorDataset(*map(torch.from_numpy, arrays)),
        batch_size=b,
        drop_last=drop_last,
    )
    assert len(a) == len(t) and [plain(x) for x in a] == [plain(x) for x in t]
    sub_a = DataLoader(
        Subset(TensorDataset(*arrays), [0] * 2 + list(range(n))[::-1]), batch_size=b
    )
    sub_t = tud.DataLoader(
        tud.Subset(
            tud.TensorDataset(*map(torch.from_numpy, arrays)),
            [0] * 2 + list(range(n))[::-1],
        ),
        batch_size=b,
    )
    assert [plain(x) for x in sub_a] == [plain(x) for x in sub_t]
    sample = tud.TensorDataset(*map(torch.from_numpy, arrays))[n - 1]
    assert plain(list(TensorDataset(*arrays)[n - 1])) == plain(list(sample))


@given(
    n=st.integers(0, 300), weights=st.lists(st.integers(1, 50), min_size=1, max_size=8)
)
def test_random_split_lengths_match_torch(n, weights):
    torch = pytest.importorskip("torch")
    fractions = [w / sum(weights) for w in weights]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty splits warn in both
        try:
            theirs = [
                len(p) for p in torch.utils.data.random_split(range(n), fractions)
            ]
        except ValueError:
            theirs = ValueError
        try:
            ours = [len(p) for p in random_split(range(n), fractions)]
        except ValueError:
            ours = ValueError
    assert ours == theirs


@pytest.mark.parametrize(
    "fractions",
    [
        [0.8, 0.2],
        [0.33, 0.33, 0.34],
        [0.1] * 10,
        [1.0],
        [0.25, 0.25, 0.5],
        [0.0, 1.0],
        [0.5, 0.2],
    ],
)
@pytest.mark.parametrize("n", [0, 1, 7, 10, 101])
def test_random_split_fractions_match_torch(fractions, n):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings(record=True) as w_theirs:
        warnings.simplefilter("always")
        try:
            theirs = [
                len(p) for p in torch.utils.data.random_split(range(n), fractions)
            ]
        except ValueError:
            theirs = ValueError
    with warnings.catch_warnings(record=True) as w_ours:
        warnings.simplefilter("always")
        try:
            ours = [len(p) for p in random_split(range(n), fractions)]
        except ValueError:
            ours = ValueError
    assert ours == theirs and len(w_ours) == len(w_theirs)


def test_concat_dataset_matches_torch():
    torch = pytest.importorskip("torch")
    parts = [list(range(0, 3)), [], list(range(10, 14)), [99]]
    ours, theirs = ConcatDataset(parts), torch.utils.data.ConcatDataset(parts)
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-len(ours), len(ours))] == [
        theirs[i] for i in range(-len(theirs), len(theirs))
    ]


def test_dataloader_signature_follows_torch():
    torch = pytest.importorskip("torch")
    import inspect

    ours = list(inspect.signature(DataLoader).parameters)
    theirs = list(inspect.signature(torch.utils.data.DataLoader).parameters)
    positional = ours[: ours.index('generator') + 1]
    assert positional == theirs[: len(positional)]  # same names in the same places
    defaults = {
        k: v.default for k, v in inspect.signature(DataLoader).parameters.items()
    }
    assert (
        defaults['batch_size'] == 1
        and defaults['shuffle'] is None
        and defaults['drop_last'] is False
    )


# ---- stratified split ----------------------------------------------------------------
@given(
    counts=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    test_size=st.floats(0.05, 0.95),
    seed=st.integers(0, 1000),
)
def test_stratification_keeps_class_proportions(counts, test_size, seed):
    y = np.random.default_rng(seed).permutation(
        np.repeat(np.arange(len(counts)), counts)
    )
    tr, te = stratified_split(y, test_size, seed)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(
        range(len(y))
    )  # a partition
    got = np.bincount(y[te], minlength=len(counts))
    assert np.all(
        np.abs(got - test_size * np.array(counts)) <= 0.5 + 1e-9
    )  # each class, up to rounding
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


# ---- IDX files -----------------------------------------------------------------------
def idx_bytes(arr, code):
    "An IDX file written by hand (independently of write_idx)."
    header = struct.pack('>BBBB', 0, 0, code, arr.ndim) + struct.pack(
        f'>{arr.ndim}I', *arr.shape
    )
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
        assert (
            back.dtype == np.uint8
            and back.shape == arr.shape
            and np.array_equal(back, arr)
        )


@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    dtype=st.sampled_from(
        [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
    ),
    gz=st.booleans(),
)
def test_write_read_round_trip(tmp_path_factory, shape, dtype, gz):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path_factory.mktemp('idx') / ('a.gz' if gz else 'a')
    write_idx(path, arr)
    assert (path.read_bytes()[:2] == b'\x1f\x8b') == gz
    back = read_idx(path)
    assert (
        back.dtype == dtype and back.shape == tuple(shape) and np.array_equal(back, arr)
    )


def test_multibyte_values_are_big_endian(tmp_path):
    path = tmp_path / 'ints'
    path.write_bytes(
        struct.pack('>BBBBI', 0, 0, 0x0C, 1, 2) + struct.pack('>ii', 1, -70000)
    )
    assert read_idx(path).tolist() == [1, -70000]


@pytest.mark.parametrize(
    "mangle, match",
    [
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b'\x00', "trailing data"),
        (lambda b: b[:6], "ends inside the header"),
        (lambda b: b'\x01' + b[1:], "first two bytes must be zero"),
        (lambda b: b[:2] + b'\x0a' + b[3:], "unknown IDX element type 0x0A"),
        (lambda b: b'', "not an IDX file"),
        (lambda b: gzip.compress(b)[:-8], "corrupt gzip"),
    ],
)
def test_corrupt_idx_files(tmp_path, mangle, match):
    good = idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08)
    path = tmp_path / 'bad'
    path.write_bytes(mangle(good))
    with pytest.raises(ValueError, match=match):
        read_idx(path)


def test_load_mnist_from_written_files(tmp_path):
    rng = np.random.default_rng(0)
    files = {
        'train-images-idx3-ubyte.gz': rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        'train-labels-idx1-ubyte.gz': rng.integers(0, 10, 4, dtype=np.uint8),
        't10k-images-idx3-ubyte': rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        't10k-labels-idx1-ubyte': rng.integers(0, 10, 2, dtype=np.uint8),
    }
    for name, arr in files.items():
        raw = idx_bytes(arr, 0x08)
        (tmp_path / name).write_bytes(
            gzip.compress(raw) if name.endswith('.gz') else raw
        )
    Xtr, ytr, Xte, yte = load_mnist(tmp_path)
    assert Xtr.shape == (4, 784) and Xte.shape == (2, 784) and ytr.dtype == np.int64
    assert np.allclose(Xtr * 255, files['train-images-idx3-ubyte.gz'].reshape(4, -1))
    assert np.array_equal(yte, files['t10k-labels-idx1-ubyte'])
    (tmp_path / 't10k-labels-idx1-ubyte').write_bytes(
        idx_bytes(np.zeros(3, np.uint8), 0x08)
    )
    with pytest.raises(ValueError, match="do not match"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_mnist(tmp_path / 'missing')


# ---- downloads: a web server on 127.0.0.1 and file:// mirrors, never the network -----
class _Handler(http.server.BaseHTTPRequestHandler):
    "Serves `files` {path: (mode, bytes)}; modes 'ok', 'truncated', 'chunked', 'slow'."

    protocol_version = 'HTTP/1.1'
    files, requests = {}, []

    def do_GET(self):
        self.requests.append(self.path)
        mode, data = self.files.get(self.path, ('missing', b''))
        self.close_connection = True
        if mode == 'missing':
            self.send_error(404)
            return
        if mode == 'slow':
            time.sleep(2)
        self.send_response(200)
        if mode == 'chunked':
            self.send_header('Transfer-Encoding', 'chunked')
            self.send_header('Connection', 'close')
            self.end_headers()
            half = data[: len(data) // 2]
            self.wfile.write(
                b'%x\r\n' % len(half) + half + b'\r\n'
            )  # then the connection drops
        else:
            self.send_header('Content-Length', str(len(data)))
            self.send_header('Connection', 'close')
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if mode == 'truncated' else data)
        self.wfile.flush()

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out: not our business


@pytest.fixture
def server(monkeypatch):
    "A base URL of a local web server, and its `files` table and request log."
    for var in ('NO_PROXY', 'no_proxy'):
        monkeypatch.setenv(var, '127.0.0.1,localhost')
    for var in (
        'HTTP_PROXY',
        'http_proxy',
        'HTTPS_PROXY',
        'https_proxy',
        'ALL_PROXY',
        'all_proxy',
    ):
        monkeypatch.delenv(var, raising=False)
    _Handler.files, _Handler.requests = {}, []
    srv = _Server(('127.0.0.1', 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    yield base, _Handler.files, _Handler.requests
    srv.shutdown()
    srv.server_close()


@pytest.fixture(params=['pooch', 'urllib'])
def downloader(request, monkeypatch):
    "Run a download test with pooch (when installed) and with the urllib fallback."
    if request.param == 'pooch':
        pytest.importorskip('pooch')
    else:
        monkeypatch.setattr(dd, '_pooch', lambda: None)
    return request.param


def payload(n=5000):
    data = gzip.compress(idx_bytes(np.arange(n, dtype=np.uint8) % 251, 0x08), mtime=0)
    return data, hashlib.sha256(data).hexdigest()


def test_download_from_a_local_server(tmp_path, server, downloader):
    base, files, requests = server
    data, digest = payload()
    files['/mnist/a.gz'] = ('ok', data)
    got = download_verified(
        'a.gz', tmp_path, mirrors=[base + 'mnist'], sha256={'a.gz': digest}
    )
    assert (
        got == tmp_path / 'a.gz'
        and got.read_bytes() == data
        and requests == ['/mnist/a.gz']
    )
    assert [p.name for p in tmp_path.iterdir()] == ['a.gz']


@pytest.mark.parametrize("mode", ['truncated', 'chunked'])
def test_interrupted_transfer_is_reported_and_leaves_nothing(
    tmp_path, server, downloader, mode
):
    base, files, _ = server
    data, digest = payload()
    files['/a.gz'] = (mode, data)
    with pytest.raises(
        RuntimeError,
        match=r"(?s)could not get a verified copy of a\.gz.*"
        + base.replace('.', r'\.')
        + r"a\.gz: .*interrupted",
    ):
        download_verified('a.gz', tmp_path, mirrors=[base], sha256={'a.gz': digest})
    assert list(tmp_path.iterdir()) == []  # no .part file, no temporary file


def test_next_mirror_after_a_failure(tmp_path, server, downloader):
    base, files, requests = server
    data, digest = payload()
    files['/broken/a.gz'], files['/good/a.gz'] = ('truncated', data), ('ok', data)
    mirrors = [base + 'missing/', base + 'broken/', base + 'good/']
    assert (
        download_verified('a.gz', tmp_path, mirrors, {'a.gz': digest}).read_bytes()
        == data
    )
    assert requests == ['/missing/a.gz', '/broken/a.gz', '/good/a.gz']
    assert [p.name for p in tmp_path.iterdir()] == ['a.gz']


def test_wrong_digest_and_missing_file(tmp_path, server, downloader):
    base, files, _ = server
    data, _ = payload()
    files['/a.gz'] = ('ok', data)
    with pytest.raises(RuntimeError) as e:
        download_verified(
            'a.gz',
            tmp_path,
            mirrors=[base, base + 'nothing/'],
            sha256={'a.gz': '0' * 64},
        )
    msg = str(e.value)
    assert (
        f"{base}a.gz: " in msg
        and "0" * 64 in msg
        and f"{base}nothing/a.gz: " in msg
        and "404" in msg
    )
    assert "tried 2 mirrors" in msg and list(tmp_path.iterdir()) == []


def test_timeout_is_a_parameter(tmp_path, server, downloader):
    base, files, _ = server
    data, digest = payload()
    files['/a.gz'] = ('slow', data)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"a\.gz: no answer within timeout=0\.3 s"):
        download_verified(
            'a.gz', tmp_path, mirrors=[base], sha256={'a.gz': digest}, timeout=0.3
        )
    assert time.perf_counter() - start < 1.8 and list(tmp_path.iterdir()) == []
    for bad in [0, -1, 'soon', True, float('inf')]:
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            download_verified(
                'a.gz', tmp_path, mirrors=[base], sha256={'a.gz': digest}, timeout=bad
            )


@pytest.mark.parametrize(
    "mirror, why",
    [
        ('example.com/mnist/', "must start with https://"),
        ('htps://example.com/', "must start with https://"),
        ('https:///mnist/', "names no host"),
        ('http://host:port/', "Port"),
        ('https://exa mple.com/', "white space"),
        ('file://', "names no folder"),
        (b'https://example.com/', "must be a URL string"),
    ],
)
def test_malformed_mirror_is_refused_before_any_request(tmp_path, server, mirror, why):
    base, files, requests = server
    files['/a.gz'] = ('ok', b'x')
    with pytest.raises(ValueError, match=why) as e:
        download_verified(
            'a.gz', tmp_path, mirrors=[base, mirror], sha256={'a.gz': '0' * 64}
        )
    assert repr(mirror)[:20] in str(e.value) and requests == []


def test_file_mirror_and_a_single_mirror_string(tmp_path, downloader):
    src = tmp_path / 'src'
    src.mkdir()
    data, digest = payload()
    (src / 'a.gz').write_bytes(data)
    got = download_verified(
        'a.gz', tmp_path / 'out', mirrors=src.as_uri(), sha256={'a.gz': digest}
    )
    assert got.read_bytes() == data and [
        p.name for p in (tmp_path / 'out').iterdir()
    ] == ['a.gz']


def test_load_mnist_downloads_verifies_and_then_reads_locally(
    tmp_path, server, downloader
):
    base, files, requests = server
    rng = np.random.default_rng(0)
    arrays, digests = {}, {}
    for key, stem in dd.MNIST_FILES.items():
        n = 5 if key.startswith('train') else 2
        arr = (
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            if key.endswith('images')
            else rng.integers(0, 10, n, dtype=np.uint8)
        )
        data = gzip.compress(idx_bytes(arr, 0x08))
        files[f'/m/{stem}.gz'], digests[stem + '.gz'], arrays[key] = (
            ('ok', data),
            hashlib.sha256(data).hexdigest(),
            arr,
        )
    Xtr, ytr, Xte, yte = load_mnist(
        tmp_path, download=True, mirrors=[base + 'm/'], sha256=digests, timeout=5
    )
    assert (
        Xtr.shape == (5, 784)
        and np.array_equal(yte, arrays['test_labels'])
        and len(requests) == 4
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(digests)
    load_mnist(tmp_path, download=True, mirrors=[base + 'm/'], sha256=digests)
    assert len(requests) == 4  # the files are there: nothing fetched


@pytest.mark.parametrize(
    "damage, kind",
    [
        (lambda z: z[:-10], "EOFError"),
        (lambda z: z[:-8] + bytes(4) + z[-4:], "BadGzipFile"),
        (lambda z: z[:10] + bytes([z[10] ^ 0xFF]) + z[11:], "zlib.error"),
    ],
)
def test_corrupt_gzip_is_a_clear_error(tmp_path, damage, kind):
    path = tmp_path / 'train-images-idx3-ubyte.gz'
    path.write_bytes(
        damage(gzip.compress(idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08), mtime=0))
    )
    with pytest.raises(
        ValueError,
        match=f"read_idx: .*train-images-idx3-ubyte.gz: corrupt gzip data "
        f"\\({kind}.*delete it and download it again",
    ):
        read_idx(path)


# ---- generators ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, n, k",
    [
        (make_blobs, 200, 2),
        (make_xor, 200, 2),
        (make_moons, 200, 2),
        (make_spirals, 300, 3),
    ],
)
def test_generators_contract(make, n, k):
    X, y = make(seed=5)
    assert (
        X.dtype == np.float32
        and y.dtype == np.int64
        and X.shape == (n, 2)
        and y.shape == (n,)
    )
    assert set(y.tolist()) == set(range(k))
    X2, y2 = make(seed=5)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert len(np.unique(y[:20])) > 1  # shuffled, not sorted by class
