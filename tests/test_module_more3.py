"""Parity with PyTorch: saving views of one array, the state dict of shared sub-modules,
backward pre-hooks, and the text of `load_state_dict`'s error (probe H: S1, S3, F3,
P1)."""
import io
import json
import warnings
import zipfile

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

LIBS = [(dl, dl.nn), (torch, torch.nn)]


def _roundtrip(lib, obj, **kw):
    buf = io.BytesIO()
    lib.save(obj, buf)
    buf.seek(0)
    return lib.load(buf, **kw)


# --------------------------------------------------------------------------- S1: views

def _views_program(lib):
    numbers = lib.arange(1, 10)
    loaded_numbers, loaded_evens = _roundtrip(lib, [numbers, numbers[1::2]])
    loaded_evens *= 2
    lone = _roundtrip(lib, numbers[1::2])
    m = lib.arange(12.).reshape(3, 4)
    whole, col, row, t = _roundtrip(lib, {'a': [m, m[:, 1], m[2], m.T]})['a']
    col.add_(100.)
    row.mul_(-1.)
    return (loaded_numbers.tolist(), lone.tolist(), lone.stride(),
            lone.storage_offset(), whole.tolist(), col.stride(), row.stride(),
            t.stride(), t.is_contiguous(), col.storage_offset(), row.storage_offset())


def test_views_saved_together_share_memory_after_load():
    d, t = _views_program(dl), _views_program(torch)
    assert d == t
    assert d[0] == [1, 4, 3, 8, 5, 12, 7, 16, 9]


def test_view_of_parameter_and_requires_grad():
    out = []
    for lib, nn in LIBS:
        p = nn.Parameter(lib.arange(6.).reshape(2, 3))
        a, b = _roundtrip(lib, [p, p[1]])
        with lib.no_grad():
            b.mul_(10.)
        out.append((type(a).__name__, a.requires_grad, b.requires_grad, a.tolist(),
                    b.stride(), b.storage_offset()))
    assert out[0] == out[1]


def test_state_dict_roundtrip_and_plain_tensors_unchanged():
    m = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.BatchNorm1d(4))
    sd = _roundtrip(dl, m.state_dict())
    assert list(sd) == list(m.state_dict())
    for k, v in sd.items():
        assert np.array_equal(v.numpy(), m.state_dict()[k].numpy())
        assert v.stride() == m.state_dict()[k].stride()
    # a tensor that owns its memory is stored as before: no view entry
    buf = io.BytesIO()
    dl.save([dl.ones(3), dl.zeros(2, 2)], buf)
    head = json.loads(zipfile.ZipFile(buf).read('structure.json'))
    assert all('view' not in e for e in head['object'])


def test_map_location_callable_sees_each_storage_once():
    calls = []
    n = dl.arange(1, 10)
    a, b, c = _roundtrip(dl, [n, n[1::2], n[::3]],
                         map_location=lambda s, loc: calls.append(s.shape))
    b.mul_(2)
    assert calls == [dl.Size([9])] and a.tolist() == [1, 4, 3, 8, 5, 12, 7, 16, 9]
    assert c.tolist() == [1, 8, 7]


def _with_view(view):
    n = dl.arange(1, 10)
    buf = io.BytesIO()
    dl.save([n, n[1::2]], buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, 'w') as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == 'structure.json':
                head = json.loads(data)
                head['object'][1]['view'] = view
                data = json.dumps(head)
            zout.writestr(name, data)
    out.seek(0)
    return out


@pytest.mark.parametrize("view", [
    [8, [100], [16], '<i8'],          # past the end
    [-8, [1], [16], '<i8'],           # before the start
    [8, [4], [-16], '<i8'],           # negative strides reaching before the start
    [8, [4], [16], '|O'],             # objects: never
    [8, [4], [16], 'nonsense'],
    [8, [4], [16.0], '<i8'],
    [8, [4], [16]],
])
def test_bad_view_entries_are_refused(view):
    with pytest.raises(dl.CheckpointError, match='corrupted'):
        dl.load(_with_view(view))
    assert dl.load(_with_view([8, [4], [16], '<i8']))[1].tolist() == [2, 4, 6, 8]


def test_files_without_view_entries_still_load():
    # what the earlier code wrote: one array per tensor, no 'view' entry
    buf = io.BytesIO()
    head = {'format': 'deeplearning101 checkpoint', 'version': 1,
            'object': [{'tensor': 0, 'requires_grad': False, 'parameter': False},
                       {'tensor': 1, 'requires_grad': True, 'parameter': True}]}
    with zipfile.ZipFile(buf, 'w') as zf:
        zf.writestr('structure.json', json.dumps(head))
        for i, a in enumerate([np.arange(1, 10)[1::2].copy(), np.ones(2, np.float32)]):
            with zf.open(f"arrays/{i}.npy", 'w') as entry:
                np.lib.format.write_array(entry, a, allow_pickle=False)
    buf.seek(0)
    a, p = dl.load(buf)
    assert a.tolist() == [2, 4, 6, 8] and a.stride() == (1,)
    assert isinstance(p, dl.nn.Parameter) and p.requires_grad


# --------------------------------------------------------------------------- S3

def _shared_program(lib, nn):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(lib.ones(2))
            self.b = self.a
    shared = nn.Linear(3, 3)
    tied = nn.Sequential(shared, nn.ReLU(), shared, M())
    keys = list(tied.state_dict())
    names = [k for k, _ in tied.named_parameters()]
    ok = repr(tied.load_state_dict(tied.state_dict()))
    sd = {k: v.clone() for k, v in tied.state_dict().items()}
    sd['2.bias'] = sd['2.bias'] + 1            # the later name is copied last
    tied.load_state_dict(sd)
    return keys, names, ok, tied[0].bias.tolist() == sd['2.bias'].tolist()


def test_state_dict_lists_every_name_of_a_shared_module():
    d, t = _shared_program(dl, dl.nn), _shared_program(torch, torch.nn)
    assert d == t
    assert d[0] == ['0.weight', '0.bias', '2.weight', '2.bias', '3.a', '3.b']


def test_torch_state_dict_of_tied_model_loads_into_dl():
    tt = torch.nn.Linear(3, 3)
    tied_t = torch.nn.Sequential(tt, torch.nn.ReLU(), tt)
    dd = dl.nn.Linear(3, 3)
    tied_d = dl.nn.Sequential(dd, dl.nn.ReLU(), dd)
    sd = {k: v.detach().numpy() for k, v in tied_t.state_dict().items()}
    assert repr(tied_d.load_state_dict(sd)) == '<All keys matched successfully>'
    assert np.array_equal(dd.weight.detach().numpy(), tt.weight.detach().numpy())


# --------------------------------------------------------------------------- F3

def _pre_hook_program(lib, nn):
    log = []
    arr = lambda gs: [None if g is None else np.round(g.detach().numpy(), 6).tolist()
                      for g in gs]

    class Two(nn.Module):
        def forward(self, x): return x * 2, x * 3

    m = Two()
    m.register_full_backward_pre_hook(lambda mod, go: log.append(('pre', arr(go))))
    m.register_full_backward_hook(
        lambda mod, gi, go: log.append(('full', arr(gi), arr(go))))
    x = lib.ones(2, dtype=lib.float64, requires_grad=True)
    a, b = m(x)
    a.sum().backward()                          # b unused: its grad_output is None
    g1 = x.grad.tolist()
    x.grad = None
    h = m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 10, go[1]),
                                          prepend=True)
    a, b = m(x)
    (a.sum() + 2 * b.sum()).backward()
    g2 = x.grad.tolist()
    h.remove()
    x.grad = None
    a, b = m(x)
    (a.sum() + 2 * b.sum()).backward()
    g3 = x.grad.tolist()
    # no input requires grad: the replaced grad_output still reaches the weights
    lin = nn.Linear(2, 1).double()
    lin.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0,))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        lin(lib.ones(1, 2, dtype=lib.float64)).sum().backward()
    return log, g1, g2, g3, lin.weight.grad.tolist(), lin.bias.grad.tolist()


def test_backward_pre_hook_matches_torch():
    for lib, nn in LIBS:
        lin = nn.Linear(2, 1)
        lin.register_full_backward_hook(lambda *a: None)
        with pytest.warns(UserWarning, match='no inputs require'):
            lin(lib.ones(1, 2)).sum().backward()
    d = _pre_hook_program(dl, dl.nn)
    t = _pre_hook_program(torch, torch.nn)
    assert d == t
    assert d[2] == [26.0, 26.0] and d[4] == [[0.0, 0.0]]


def test_backward_pre_hook_linear_gradients_match_torch():
    w = np.random.default_rng(0).standard_normal((3, 4))
    xs = np.random.default_rng(1).standard_normal((5, 4))
    out = []
    for lib, nn in LIBS:
        lin = nn.Linear(4, 3).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(w))
            lin.bias.fill_(0.25)
        h = lin.register_full_backward_pre_hook(lambda mod, go: (go[0].clamp(0, 0.5),))
        x = lib.tensor(xs, requires_grad=True)
        (lin(x) ** 2).sum().backward()
        h.remove()
        y = lib.tensor(xs, requires_grad=True)
        (lin(y) ** 2).sum().backward()          # removed: the plain gradient
        out.append((x.grad.numpy(), lin.weight.grad.numpy(), y.grad.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert not np.allclose(out[0][0], out[0][2])


def test_backward_pre_hook_errors():
    lin = dl.nn.Linear(2, 1)
    lin.register_full_backward_pre_hook(lambda mod, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match='invalid number of grad_output, got 2'):
        lin(dl.ones(1, 2, requires_grad=True)).sum().backward()
    lin = dl.nn.Linear(2, 1)
    lin.register_full_backward_pre_hook(lambda mod, go: (dl.ones(3),))
    with pytest.raises(RuntimeError, match=r'changed the shape.*\[1, 1\] to \[3\]'):
        lin(dl.ones(1, 2, requires_grad=True)).sum().backward()
    with pytest.raises(TypeError, match='register_full_backward_pre_hook.*callable'):
        lin.register_full_backward_pre_hook(3)
    lin = dl.nn.Linear(2, 1)
    lin.register_full_backward_hook(lambda mod, gi, go: (dl.ones(1, 2),))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match='None for all'):
        lin(dl.ones(1, 2)).sum().backward()
    calls = []
    lin = dl.nn.Linear(2, 1)
    lin.register_full_backward_pre_hook(lambda mod, go: calls.append(1))
    with dl.no_grad():
        assert not lin(dl.ones(1, 2, requires_grad=True)).requires_grad
    assert calls == []


# --------------------------------------------------------------------------- P1

def _error_texts(lib, nn):
    texts = []
    a, b = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2))
    for sd, strict in ((a.state_dict(), True), (None, True), (None, False)):
        if sd is None:
            sd = {k: v.clone() for k, v in b.state_dict().items()}
            sd['0.weight'] = lib.zeros(2, 3)
            del sd['0.bias']
            sd['x'] = lib.zeros(1)
        with pytest.raises(RuntimeError) as e:
            b.load_state_dict(sd, strict=strict)
        texts.append(str(e.value).replace('torch.Size', 'dl.Size'))
    return texts


def test_load_state_dict_error_text_matches_torch():
    d, t = _error_texts(dl, dl.nn), _error_texts(torch, torch.nn)
    assert d == t
    assert d[0] == ('Error(s) in loading state_dict for Sequential:\n\tMissing key(s) '
                    'in state_dict: "0.weight", "0.bias". \n\tUnexpected key(s) in '
                    'state_dict: "weight", "bias". ')


def test_double_backward_through_hooked_module_matches_torch():
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((2, 3)), rng.standard_normal(2)
    xs = rng.standard_normal((4, 3))
    out = []
    for lib, nn in LIBS:
        lin = nn.Linear(3, 2).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(w))
            lin.bias.copy_(lib.tensor(b))
        seen = []
        lin.register_full_backward_hook(lambda m, gi, go: seen.append(len(gi)))
        lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
        x = lib.tensor(xs, requires_grad=True)
        g, = lib.autograd.grad((lin(x).tanh() ** 2).sum(), x, create_graph=True)
        (g ** 2).sum().backward()
        out.append((g.detach().numpy(), x.grad.numpy(), lin.weight.grad.numpy(), seen))
    for a, c in zip(out[0][:3], out[1][:3]):
        np.testing.assert_allclose(a, c, rtol=1e-10)
    assert out[0][3] == out[1][3]
