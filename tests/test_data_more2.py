"""Parity with torch.utils.data for the iterable-style datasets and the rest of its surface
that appendix A1 adds: IterableDataset (and the DataLoader over it), ChainDataset,
StackDataset, get_worker_info, default_convert, and the samplers' public attributes
(WeightedRandomSampler.weights is a float64 tensor).

Every program is written once against a "backend" (the module `data`, a `tensor`
constructor) and run with deeplearning101 and with torch; the results are compared as
plain Python structures in which a tensor is (dtype, values).
"""
import warnings
from collections import OrderedDict, namedtuple
from types import SimpleNamespace

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.utils.data as dld

torch = pytest.importorskip("torch")
import torch.utils.data as tud  # noqa: E402

DL = SimpleNamespace(name="dl", data=dld, Tensor=dl.Tensor, tensor=dl.tensor)
T = SimpleNamespace(name="torch", data=tud, Tensor=torch.Tensor, tensor=torch.tensor)
BACKENDS = pytest.mark.parametrize("B", [DL, T], ids=["dl", "torch"])


def plain(x):
    "A result as nested Python values: a tensor becomes ('tensor', dtype, values)."
    if isinstance(x, (dl.Tensor, torch.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, np.ndarray):
        return ("ndarray", str(x.dtype), x.tolist())
    if isinstance(x, np.generic):
        return ("npscalar", str(x.dtype), x.item())
    if isinstance(x, dict):
        return (type(x).__name__, {k: plain(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [plain(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    return x


def both(prog):
    "prog(B) run on both backends; asserts they agree as plain values; returns dl's."
    raw = prog(DL)
    ours, theirs = plain(raw), plain(prog(T))
    assert ours == theirs, f"\ndl:    {ours}\ntorch: {theirs}"
    return raw


def error(prog, B):
    "(exception type name, message) of prog(B), or None if it ran."
    try:
        prog(B)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return None


def both_raise(prog, kind, match):
    "prog raises `kind` with `match` in the message, in both libraries."
    for B in (DL, T):
        got = error(prog, B)
        assert got is not None and got[0] == kind and match in got[1], (B.name, got)


# --------------------------------------------------------------------------- datasets

def stream_classes(B, record=None):
    "Count(n): the stream 0..n-1 (int samples); Sized(n) adds __len__; Pairs: arrays."

    class Count(B.data.IterableDataset):
        def __init__(self, n, start=0):
            self.n, self.start = n, start

        def __iter__(self):
            if record is not None:
                record.append(("iter", B.data.get_worker_info()))
            return iter(range(self.start, self.start + self.n))

    class Sized(Count):
        def __len__(self):
            return self.n

    class Pairs(B.data.IterableDataset):
        def __iter__(self):
            for i in range(5):
                yield np.full(2, i, np.float32), i

    return Count, Sized, Pairs


@BACKENDS
def test_iterable_dataset_is_abstract(B):
    with pytest.raises(TypeError, match="abstract"):
        B.data.IterableDataset()

    class NoIter(B.data.IterableDataset):
        pass

    with pytest.raises(TypeError, match="abstract"):
        NoIter()
    Count, _, _ = stream_classes(B)
    ds = Count(3)
    assert isinstance(ds, B.data.Dataset) and list(ds) == [0, 1, 2]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 7, None])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_batches_a_stream(batch_size, drop_last):
    if batch_size is None and drop_last:
        both_raise(lambda B: B.data.DataLoader(stream_classes(B)[0](5), None,
                                               drop_last=True),
                   "ValueError", "batch_size=None option disables auto-batching")
        return

    def prog(B):
        Count, _, _ = stream_classes(B)
        return list(B.data.DataLoader(Count(5), batch_size=batch_size,
                                      drop_last=drop_last))

    got = both(prog)
    if batch_size == 2 and not drop_last:
        assert [b.tolist() for b in got] == [[0, 1], [2, 3], [4]]
        assert all(b.dtype == dl.int64 for b in got)


def test_loader_stream_of_array_pairs_and_collate_fn():
    def prog(B):
        _, _, Pairs = stream_classes(B)
        return [list(B.data.DataLoader(Pairs(), batch_size=2)),
                list(B.data.DataLoader(Pairs(), batch_size=None)),
                list(B.data.DataLoader(Pairs(), batch_size=3, collate_fn=lambda b: b)),
                list(B.data.DataLoader(Pairs(), batch_size=None,
                                       collate_fn=lambda s: s[1] * 10)),
                list(B.data.DataLoader(Pairs(), batch_size=2, drop_last=True,
                                       collate_fn=len))]

    got = both(prog)
    x0, y0 = got[1][0]                                  # batch_size=None: a list
    assert x0.dtype == dl.float32 and x0.tolist() == [0.0, 0.0] and y0 == 0


def test_loader_over_stream_epochs_and_iterator_creation():
    "The dataset's iterator is made at iter(loader), once per epoch, in both."
    def prog(B):
        record = []
        Count, _, _ = stream_classes(B, record)
        loader = B.data.DataLoader(Count(4), batch_size=3)
        it = iter(loader)
        made = list(record)
        epochs = [list(it), list(loader), list(loader)]
        return made, epochs, record

    made, _, record = both(prog)
    assert made == [("iter", None)] and len(record) == 3


@pytest.mark.parametrize("kw, name", [
    (dict(shuffle=True), "shuffle"), (dict(shuffle=1), "shuffle"),
    (dict(shuffle=True, sampler=[0]), "shuffle"), (dict(sampler=[0, 1]), "sampler"),
    (dict(sampler=[0, 1], batch_size=None), "sampler"),
    (dict(batch_sampler=[[0]]), "batch_sampler"),
    (dict(batch_sampler=[[0]], batch_size=None), "batch_sampler"),
])
def test_loader_rejects_orders_for_a_stream(kw, name):
    def prog(B):
        Count, _, _ = stream_classes(B)
        return B.data.DataLoader(Count(3), **kw)

    both_raise(prog, "ValueError",
               f"DataLoader with IterableDataset: expected unspecified {name} option, "
               f"but got {name}=")


@pytest.mark.parametrize("shuffle", [False, 0, None])
def test_loader_accepts_no_shuffle_for_a_stream(shuffle):
    def prog(B):
        Count, _, _ = stream_classes(B)
        return list(B.data.DataLoader(Count(3), batch_size=2, shuffle=shuffle))

    both(prog)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 6, None])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_of_loader_over_a_sized_stream(batch_size, drop_last):
    if batch_size is None and drop_last:
        return

    def prog(B):
        _, Sized, _ = stream_classes(B)
        loader = B.data.DataLoader(Sized(5), batch_size=batch_size, drop_last=drop_last)
        return len(loader), len(list(loader))

    both(prog)


def test_len_of_loader_over_an_unsized_stream():
    def prog(B):
        Count, _, _ = stream_classes(B)
        loader = B.data.DataLoader(Count(3), batch_size=2)
        return len(loader)

    both_raise(prog, "TypeError", "object of type 'Count' has no len()")


def test_warning_when_a_stream_yields_more_than_its_len():
    class Liar:
        def __len__(self):
            return 2

    def prog(B, ask_len):
        Count, _, _ = stream_classes(B)
        ds = type("Liar", (Liar, Count), {})(5)
        loader = B.data.DataLoader(ds, batch_size=1)
        if ask_len:
            assert len(loader) == 2
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = [b.tolist() for b in loader]
        return out, [str(x.message) for x in w]

    for B in (DL, T):
        out, msgs = prog(B, ask_len=False)
        assert out == [[0], [1], [2], [3], [4]] and msgs == [], B.name
        out, msgs = prog(B, ask_len=True)
        assert len(msgs) == 3, (B.name, msgs)
        assert all("was reported to be 2" in m for m in msgs), (B.name, msgs)
        assert [m.split("but ")[1][:1] for m in msgs] == ["3", "4", "5"], msgs


def test_plus_chains_streams():
    def prog(B):
        Count, Sized, _ = stream_classes(B)
        chain = Count(2) + Count(3, start=10)
        three = chain + Count(1, start=7)
        sized = Sized(2) + Sized(3)
        return [type(chain).__name__, list(chain), list(chain), list(three),
                len(sized), list(B.data.DataLoader(sized, batch_size=2)),
                len(B.data.DataLoader(sized, batch_size=2)),
                list(B.data.ChainDataset(iter([Count(1), Count(2)])))]

    got = both(prog)
    assert got[0] == "ChainDataset" and got[1] == [0, 1, 10, 11, 12] == got[2]


def test_chain_dataset_errors():
    def map_style(B):
        return B.data.TensorDataset(B.tensor([1, 2]))

    def chain_with_map_style(B):
        Count, _, _ = stream_classes(B)
        chain = Count(2) + map_style(B)          # made: the check comes when read
        assert type(chain).__name__ == "ChainDataset"
        return list(chain)

    both_raise(chain_with_map_style, "AssertionError",
               "ChainDataset only supports IterableDataset")

    def len_with_map_style(B):
        _, Sized, _ = stream_classes(B)
        return len(B.data.ChainDataset([Sized(2), map_style(B)]))

    both_raise(len_with_map_style, "AssertionError",
               "ChainDataset only supports IterableDataset")

    def len_unsized(B):
        Count, Sized, _ = stream_classes(B)
        return len(B.data.ChainDataset([Sized(2), Count(2)]))

    both_raise(len_unsized, "TypeError", "has no len()")


def test_concat_dataset_refuses_streams():
    def plus(B):
        _, Sized, _ = stream_classes(B)
        return B.data.TensorDataset(B.tensor([1, 2])) + Sized(2)

    def concat(B):
        Count, _, _ = stream_classes(B)
        return B.data.ConcatDataset([B.data.TensorDataset(B.tensor([1])), Count(1)])

    for prog in (plus, concat):
        both_raise(prog, "AssertionError", "ConcatDataset does not support IterableDataset")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_get_worker_info_is_none_in_the_main_process(num_workers):
    for B in (DL, T):
        assert B.data.get_worker_info() is None
    # this package makes every batch in the main process, whatever num_workers says:
    # a stream that shards itself among workers by get_worker_info reads all of it once
    record = []
    Count, _, _ = stream_classes(DL, record)
    out = [b.tolist() for b in dld.DataLoader(Count(5), batch_size=2,
                                               num_workers=num_workers)]
    assert out == [[0, 1], [2, 3], [4]] and record == [("iter", None)]
    assert dld.dataloader.get_worker_info is dld.get_worker_info


def test_map_style_loader_with_workers_unchanged():
    "num_workers > 0 over a map-style dataset: accepted, same batches as torch's."
    def prog(B):
        x = np.arange(12, dtype=np.float32).reshape(6, 2)
        ds = B.data.TensorDataset(B.tensor(x), B.tensor(np.arange(6)))
        return list(B.data.DataLoader(ds, batch_size=4, num_workers=2))

    both(prog)


# --------------------------------------------------------------------------- StackDataset

def test_stack_dataset_tuple_and_dict():
    def prog(B):
        x = B.tensor(np.arange(8, dtype=np.float32).reshape(4, 2))
        td = B.data.TensorDataset(x)
        tup = B.data.StackDataset(td, [10, 20, 30, 40], B.tensor([1, 0, 1, 0]))
        dct = B.data.StackDataset(image=x, label=[3, 1, 4, 1])
        return [len(tup), tup[1], tup[-1], len(dct), dct[2],
                type(tup.datasets).__name__, type(dct.datasets).__name__,
                sorted(dct.datasets), tup.__getitems__([0, 3]), dct.__getitems__([1, 2]),
                list(B.data.DataLoader(tup, batch_size=3)),
                list(B.data.DataLoader(dct, batch_size=3)),
                list(B.data.DataLoader(dct, batch_size=None))[:2]]

    got = both(prog)
    assert got[4]["image"].tolist() == [4.0, 5.0] and got[4]["label"] == 4


def test_stack_dataset_uses_nested_getitems():
    class Batched:
        def __init__(self, B):
            self.B, self.calls = B, []

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i * 100

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [i * 1000 for i in idx]

    def prog(B):
        inner = Batched(B)
        ds = B.data.StackDataset(inner, [7, 8, 9])
        out = list(B.data.DataLoader(ds, batch_size=2, collate_fn=lambda s: s))
        return out, inner.calls

    both(prog)

    class Short(Batched):
        def __getitems__(self, idx):
            return [0]

    for B in (DL, T):
        ds = B.data.StackDataset(a=Short(B), b=[1, 2, 3])
        with pytest.raises(ValueError, match="(?i)nested dataset's output size mismatch"):
            ds.__getitems__([0, 1])


@pytest.mark.parametrize("make, match", [
    (lambda B: B.data.StackDataset(), "(?i)at least one dataset should be passed"),
    (lambda B: B.data.StackDataset([1], [1, 2]), "(?i)size mismatch between datasets"),
    (lambda B: B.data.StackDataset(a=[1], b=[1, 2]), "(?i)size mismatch between datasets"),
    (lambda B: B.data.StackDataset([1], b=[1]), "(?i)both types are given"),
])
@BACKENDS
def test_stack_dataset_errors(B, make, match):
    with pytest.raises(ValueError, match=match):
        make(B)


# --------------------------------------------------------------------------- default_convert

Point = namedtuple("Point", "x y")


def convert_inputs():
    return [
        np.float64(1.5), np.int32(3), np.bool_(True), np.float32(2.0),
        np.arange(3), np.ones((2, 2), np.float32), np.array(["a", "b"]),
        np.array([object()], dtype=object)[:0], np.str_("s"),
        (np.arange(2), 1), [np.arange(2), "x"], {"a": np.ones(2), "b": 3},
        OrderedDict(a=np.int64(4)), Point(np.arange(2), np.float32(1)),
        [(np.zeros(1), {"k": [np.int8(1)]})],
        "str", b"bytes", 5, 2.5, None, (1, 2), range(3),
    ]


@pytest.mark.parametrize("i", range(len(convert_inputs())))
def test_default_convert(i):
    def prog(B):
        out = B.data.default_convert(convert_inputs()[i])
        return out

    both(prog)


@BACKENDS
def test_default_convert_shares_memory_and_keeps_tensors(B):
    a = np.zeros(3, np.float32)
    t = B.data.default_convert(a)
    t[0] = 7
    assert a[0] == 7                                  # as_tensor: no copy
    x = B.tensor([1.0, 2.0])
    assert B.data.default_convert(x) is x
    assert B.data.dataloader.default_convert is B.data.default_convert


def test_map_style_batch_size_none_uses_default_convert():
    class Samples:
        def __init__(self, B):
            self.B = B

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "y": np.int64(i), "name": f"s{i}"}

    def prog(B):
        ds = Samples(B)
        x = B.tensor(np.arange(6, dtype=np.float32).reshape(3, 2))
        td = B.data.TensorDataset(x, B.tensor([0, 1, 2]))
        return [list(B.data.DataLoader(ds, batch_size=None)),
                list(B.data.DataLoader(td, batch_size=None)),
                list(B.data.DataLoader([np.float32(1), (np.arange(2), 3)],
                                       batch_size=None))]

    both(prog)


# --------------------------------------------------------------------------- samplers

def test_weighted_random_sampler_weights_are_a_float64_tensor():
    def prog(B):
        out = []
        for w in ([1, 2, 3], [0.5, 1.5], np.array([1, 2], np.float32),
                  B.tensor([1.0, 3.0]), B.tensor([1, 4]),
                  B.tensor(np.array([2.0, 1.0]))):
            s = B.data.WeightedRandomSampler(w, 4)
            out.append([type(s.weights).__name__ in ("Tensor",), s.weights,
                        s.num_samples, s.replacement, len(s), len(list(s))])
        return out

    both(prog)
    for B in (DL, T):
        w = B.tensor(np.array([2.0, 1.0]))                 # float64: kept, not copied
        assert B.data.WeightedRandomSampler(w, 2).weights is w
        w32 = B.tensor([2.0, 1.0])
        assert B.data.WeightedRandomSampler(w32, 2).weights is not w32
        assert isinstance(B.data.WeightedRandomSampler([1, 2], 2).weights, B.Tensor)


def test_weighted_random_sampler_draws_by_weight():
    s = dld.WeightedRandomSampler([0.0, 1.0, 3.0], 2000,
                                  generator=dl.Generator().manual_seed(0))
    counts = np.bincount(list(s), minlength=3)
    assert counts[0] == 0 and 2.5 < counts[2] / counts[1] < 3.5
    s.weights = dl.tensor([1.0, 0.0, 0.0], dtype=dl.float64)   # a new weights tensor
    assert set(s) == {0}
    s = dld.WeightedRandomSampler([1.0, 1.0, 0.0], 2, replacement=False)
    assert sorted(s) == [0, 1]


def test_weighted_random_sampler_errors():
    for B in (DL, T):
        with pytest.raises(ValueError, match="weights should be a 1"):
            B.data.WeightedRandomSampler([[1.0, 2.0]], 2)
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            B.data.WeightedRandomSampler([1.0, 2.0], 0)
        with pytest.raises(ValueError, match="replacement should be a boolean"):
            B.data.WeightedRandomSampler([1.0, 2.0], 2, replacement=1)


def test_sampler_public_attributes():
    def prog(B):
        ds = list(range(7))
        idx = [5, 1, 3]
        r0, r1 = B.data.RandomSampler(ds), B.data.RandomSampler(ds, True, 20)
        r2 = B.data.RandomSampler(ds, num_samples=3)
        sub = B.data.SubsetRandomSampler(idx)
        bs = B.data.BatchSampler(B.data.SequentialSampler(ds), 3, True)
        bk = B.data.BatchSampler(range(7), 3, False)
        return [r0.replacement, r0.num_samples, len(r0), r0.generator,
                r1.replacement, r1.num_samples, len(r1), len(list(r1)),
                r2.num_samples, len(list(r2)), len(set(r2)),
                sub.indices is idx, sorted(sub), len(sub),
                bs.batch_size, bs.drop_last, len(bs), list(bs),
                bk.batch_size, bk.drop_last, len(bk), list(bk),
                B.data.SequentialSampler(ds).data_source is ds]

    both(prog)


@pytest.mark.parametrize("make, kind", [
    (lambda B: B.data.RandomSampler([1, 2], replacement="yes"), "TypeError"),
    (lambda B: B.data.RandomSampler([1, 2], num_samples=0), "ValueError"),
    (lambda B: B.data.RandomSampler([1, 2], num_samples=2.0), "ValueError"),
    (lambda B: B.data.BatchSampler(range(3), 0, False), "ValueError"),
    (lambda B: B.data.BatchSampler(range(3), 2, 1), "ValueError"),
])
def test_sampler_errors(make, kind):
    for B in (DL, T):
        got = error(make, B)
        assert got is not None and got[0] == kind, (B.name, got)
