"""Parity with PyTorch for chapter 04's Adadelta, Adamax, NAdam and RAdam (20 steps, float64, 1e-10; state dicts
both ways; maximize; torch's implementation switches) and chapter 08's `nn.utils.rnn.pad_sequence` (values and
gradients), the packed-sequence names (NotImplementedError) and the recurrent layers' `flatten_parameters` and
`all_weights`. Skipped when torch is not installed."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

STEPS, TOL = 20, 1e-10
SHAPES = [(5, 3), (3,), (2, 2, 2), ()]

OPTIMIZERS = [
    ('Adadelta', dict()),
    ('Adadelta', dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ('Adadelta', dict(lr=1.0, maximize=True)),
    ('Adamax', dict()),
    ('Adamax', dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ('Adamax', dict(lr=0.01, betas=(0.6, 0.9), maximize=True)),
    ('NAdam', dict()),
    ('NAdam', dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, momentum_decay=0.01)),
    ('NAdam', dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ('NAdam', dict(lr=0.01, betas=(0.6, 0.9), maximize=True)),
    ('RAdam', dict()),
    ('RAdam', dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ('RAdam', dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ('RAdam', dict(lr=0.01, betas=(0.5, 0.9), maximize=True)),     # rho_t > 5 from step 6 on
]


def _ids(cases): return [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in cases]


@pytest.fixture
def float64_scalars():
    "torch keeps NAdam's mu_product (and the step counts) in the default dtype: float64 for a 1e-10 comparison."
    old, old_dl = torch.get_default_dtype(), dl.get_default_dtype()
    torch.set_default_dtype(torch.float64); dl.set_default_dtype(dl.float64)
    yield
    torch.set_default_dtype(old); dl.set_default_dtype(old_dl)


# random parameters and, per step, random gradients of very different scales (some None): the
# problem of tests/test_optim_torch.py (the same SHAPES and STEPS)
from test_optim_torch import _problem  # noqa: E402
import test_optim_torch as _base  # noqa: E402
assert (_base.SHAPES, _base.STEPS) == (SHAPES, STEPS)


def _step_both(ours, theirs, opt_d, opt_t, grads):
    "tests/test_optim_torch.py's lockstep comparison, at this file's tolerance."
    _base._step_both(ours, theirs, opt_d, opt_t, grads, tol=TOL)


def _pair(name, kw, params, groups=False):
    ours = [dl.tensor(p.copy(), requires_grad=True) for p in params]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    if groups:
        return ours, theirs, getattr(dl.optim, name)([{'params': ours[:2]}, {'params': ours[2:], 'lr': 0.003}], **kw), \
            getattr(torch.optim, name)([{'params': theirs[:2]}, {'params': theirs[2:], 'lr': 0.003}], **kw)
    return ours, theirs, getattr(dl.optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=_ids(OPTIMIZERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_optimizer_matches_torch(name, kw, seed, float64_scalars):
    params, grads = _problem(seed)
    ours, theirs, opt_d, opt_t = _pair(name, kw, params)
    _step_both(ours, theirs, opt_d, opt_t, grads)
    for a, b in zip(ours, theirs):          # the state matches, entry by entry
        sd, st = opt_d.state.get(a, {}), opt_t.state[b]
        assert set(sd) == set(st)
        for k, v in sd.items():
            np.testing.assert_allclose(np.asarray(v, float), np.asarray(st[k], float), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", ['Adadelta', 'Adamax', 'NAdam', 'RAdam'])
def test_defaults_match_torch(name):
    "Every hyperparameter torch keeps in a group, with its default, torch's switches included."
    p = [torch.zeros(2, requires_grad=True)]
    td = torch.optim.__dict__[name](p).defaults
    dd = getattr(dl.optim, name)([dl.zeros(2, requires_grad=True)]).defaults
    assert dd == td


@pytest.mark.parametrize("name,kw", [OPTIMIZERS[i] for i in (1, 4, 7, 12)], ids=_ids([OPTIMIZERS[i] for i in (1, 4, 7, 12)]))
def test_state_dict_crosses_to_torch_and_back(name, kw, float64_scalars):
    "Train 8 steps in one library, move the state (two groups) to the other, and go on together for 12 steps."
    params, grads = _problem(3)
    ours, theirs, opt_d, opt_t = _pair(name, kw, params, groups=True)
    _step_both(ours, theirs, opt_d, opt_t, grads[:8])
    # torch -> dl: a fresh dl optimizer (other lr) gets torch's state dict
    ours2 = [dl.tensor(b.detach().numpy().copy(), requires_grad=True) for b in theirs]
    opt_d2 = getattr(dl.optim, name)([{'params': ours2[:2]}, {'params': ours2[2:]}], lr=0.5)
    opt_d2.load_state_dict(opt_t.state_dict())
    assert [g['lr'] for g in opt_d2.param_groups] == [g['lr'] for g in opt_t.param_groups]
    # dl -> torch: arrays as tensors
    sd = opt_d.state_dict()
    sd = {'param_groups': sd['param_groups'],
          'state': {k: {n: torch.from_numpy(v.numpy().copy()) if isinstance(v, dl.Tensor) else v
                        for n, v in s.items()}
                    for k, s in sd['state'].items()}}
    theirs2 = [torch.tensor(a.detach().numpy().copy(), requires_grad=True) for a in ours]
    opt_t2 = getattr(torch.optim, name)([{'params': theirs2[:2]}, {'params': theirs2[2:]}], lr=0.5)
    opt_t2.load_state_dict(sd)
    _step_both(ours2, theirs2, opt_d2, opt_t2, grads[8:])
    _step_both(ours, theirs, opt_d, opt_t, grads[8:])


def test_switches_accepted_and_errors():
    w = dl.zeros(3, requires_grad=True)
    dl.optim.Adadelta([w], foreach=True, capturable=False)
    dl.optim.NAdam([w], foreach=False, capturable=True)
    with pytest.raises(ValueError, match="differentiable"): dl.optim.RAdam([w], differentiable=True)
    with pytest.raises(ValueError, match="rho"): dl.optim.Adadelta([w], rho=1.5)
    with pytest.raises(ValueError, match="betas"): dl.optim.Adamax([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="momentum_decay"): dl.optim.NAdam([w], momentum_decay=-1)
    with pytest.raises(ValueError, match="maximize"): dl.optim.NAdam([w], maximize=1)
    with pytest.raises(ValueError, match="lr"): dl.optim.RAdam([w], lr=-1e-3)
    # an Adam state dict is not an Adamax one
    with pytest.raises(ValueError, match="Adamax"): dl.optim.Adamax([w]).load_state_dict(dl.optim.Adam([w]).state_dict())
    # the chapter's optimizers implement maximize too: a torch state dict with maximize=True loads
    t = torch.zeros(3, requires_grad=True)
    opt = dl.optim.Adam([w])
    opt.load_state_dict(torch.optim.Adam([t], maximize=True).state_dict())
    assert opt.param_groups[0]['maximize'] is True


def test_mnist_example_recipe():
    "pytorch/examples mnist: Adadelta(lr=1.0) with StepLR(step_size=1, gamma=0.7), the rates as in torch."
    def rates(lib):
        p = (dl.zeros(2, dtype=dl.float64, requires_grad=True) if lib is dl
             else torch.zeros(2, dtype=torch.float64, requires_grad=True))
        opt = lib.optim.Adadelta([p], lr=1.0)
        s = lib.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        out = []
        for _ in range(4):
            p.grad = dl.ones(2, dtype=dl.float64) if lib is dl else torch.ones(2, dtype=torch.float64)
            opt.step(); s.step(); out.append(opt.param_groups[0]['lr'])
        return out, p.detach().numpy()
    (a, pa), (b, pb) = rates(dl), rates(torch)
    np.testing.assert_allclose(a, b, rtol=1e-15)
    np.testing.assert_allclose(pa, pb, rtol=1e-10)


# ------------------------------------------------------------------------------------ nn.utils.rnn (chapter 08)

PAD_CASES = [
    dict(),
    dict(batch_first=True),
    dict(padding_value=-1.5),
    dict(padding_side='left'),
    dict(batch_first=True, padding_value=7.0, padding_side='left'),
]


def _seqs(trail=(3,), lengths=(4, 1, 6, 6), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, *trail)) for n in lengths]


@pytest.mark.parametrize("kw", PAD_CASES, ids=[str(k) for k in PAD_CASES])
@pytest.mark.parametrize("trail", [(), (3,), (2, 3)])
def test_pad_sequence_values_and_gradients_match_torch(kw, trail):
    arrays = _seqs(trail)
    ours = [dl.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    a = dl.nn.utils.rnn.pad_sequence(ours, **kw)
    b = torch.nn.utils.rnn.pad_sequence(theirs, **kw)
    assert tuple(a.shape) == tuple(b.shape) and a.dtype == dl.float64
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    w = np.random.default_rng(1).standard_normal(tuple(b.shape))
    (a * dl.tensor(w)).sum().backward(); (b * torch.tensor(w)).sum().backward()
    for x, y in zip(ours, theirs): np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())


def test_pad_sequence_gradcheck():
    ours = [dl.tensor(a, requires_grad=True) for a in _seqs((2,), (3, 1, 2))]
    assert dl.autograd.gradcheck(lambda *s: dl.nn.utils.rnn.pad_sequence(s, batch_first=True, padding_value=2.0), ours)


def test_pad_sequence_dtypes_and_inputs_match_torch():
    "The first sequence's dtype (the padding value cast to it), a tensor as the list of its rows, a tuple."
    def both(fn):
        return fn(dl, dl.nn.utils.rnn.pad_sequence), fn(torch, torch.nn.utils.rnn.pad_sequence)
    cases = [
        lambda lib, ps: ps([lib.ones(2, dtype=lib.int64), lib.ones(3, dtype=lib.int64)], padding_value=1.5),
        lambda lib, ps: ps([lib.ones(2, dtype=lib.bool), lib.ones(3, dtype=lib.bool)], padding_value=0),
        lambda lib, ps: ps([lib.ones(3, 2, dtype=lib.float32), lib.ones(1, 2, dtype=lib.float64)]),
        lambda lib, ps: ps([lib.ones(1, 2, dtype=lib.float64), lib.ones(3, 2, dtype=lib.float32)], padding_value=3),
        lambda lib, ps: ps(lib.arange(24.0).reshape(3, 2, 4), batch_first=True),
        lambda lib, ps: ps((lib.zeros(2), lib.ones(5)), padding_side='left'),
    ]
    for case in cases:
        a, b = both(case)
        assert str(a.dtype).split('.')[-1] == str(b.dtype).split('.')[-1]
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_pad_sequence_errors():
    ps = dl.nn.utils.rnn.pad_sequence
    with pytest.raises(RuntimeError, match="empty"): ps([])
    with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[3, 2\]"): ps([dl.ones(3, 2), dl.ones(2, 3)])
    with pytest.raises(RuntimeError, match="padding_side"): ps([dl.ones(3)], padding_side='middle')
    with pytest.raises(RuntimeError, match="0-d"): ps([dl.ones(3), dl.tensor(1.0)])
    with pytest.raises(TypeError, match="not a tensor"): ps([dl.ones(3), [1.0, 2.0]])
    with pytest.raises(TypeError, match="list of tensors"): ps(3)


def test_unpad_sequence_matches_torch_without_changing_its_input():
    arrays = _seqs((2,), (3, 5, 1))
    lengths = [len(a) for a in arrays]
    for batch_first in (False, True):
        padded = dl.nn.utils.rnn.pad_sequence([dl.tensor(a) for a in arrays], batch_first=batch_first)
        shape = tuple(padded.shape)
        back = dl.nn.utils.rnn.unpad_sequence(padded, dl.tensor(lengths), batch_first=batch_first)
        tpadded = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrays], batch_first=batch_first)
        tback = torch.nn.utils.rnn.unpad_sequence(tpadded, torch.tensor(lengths), batch_first=batch_first)
        assert tuple(padded.shape) == shape           # (torch's transposes its input in place when time-first)
        for x, y, a in zip(back, tback, arrays):
            np.testing.assert_array_equal(x.numpy(), y.numpy()); np.testing.assert_array_equal(x.numpy(), a)
    with pytest.raises(RuntimeError, match="lengths"): dl.nn.utils.rnn.unpad_sequence(padded, [3, 5])


def test_packed_sequences_exist():
    "Built since: the names are PyTorch's (their behaviour: tests/test_probe_packed.py)."
    for name in ('pack_padded_sequence', 'pad_packed_sequence', 'pack_sequence',
                 'unpack_sequence', 'PackedSequence'):
        assert hasattr(torch.nn.utils.rnn, name) and hasattr(dl.nn.utils.rnn, name)


def test_nn_utils_names():
    "`import deeplearning101.nn.utils.rnn` as a module, the names nn.utils had before, and torch's rnn names."
    import importlib
    rnn = importlib.import_module('deeplearning101.nn.utils.rnn')
    from deeplearning101.nn.utils.rnn import pad_sequence
    assert rnn.pad_sequence is pad_sequence is dl.nn.utils.rnn.pad_sequence
    for name in ('clip_grad_norm_', 'clip_grad_value_', 'parameters_to_vector', 'vector_to_parameters', 'rnn'):
        assert hasattr(dl.nn.utils, name)
    assert set(torch.nn.utils.rnn.__all__) - set(rnn.__all__) == {'invert_permutation'}


@pytest.mark.parametrize("kind,kw", [('RNN', dict()), ('LSTM', dict(num_layers=2)),
                                     ('GRU', dict(num_layers=2, bidirectional=True)),
                                     ('LSTM', dict(bias=False, bidirectional=True))])
def test_all_weights_and_flatten_parameters_match_torch(kind, kw):
    ours, theirs = getattr(dl.nn, kind)(3, 4, **kw), getattr(torch.nn, kind)(3, 4, **kw)
    assert ours.flatten_parameters() is None and theirs.flatten_parameters() is None
    names = dict((id(p), n) for n, p in ours.named_parameters())
    tnames = dict((id(p), n) for n, p in theirs.named_parameters())
    assert [[names[id(p)] for p in ws] for ws in ours.all_weights] == \
        [[tnames[id(p)] for p in ws] for ws in theirs.all_weights]
    x = dl.randn(5, 2, 3)
    before = ours(x)[0].detach().numpy()
    ours.flatten_parameters()
    np.testing.assert_array_equal(ours(x)[0].detach().numpy(), before)


def test_padded_batch_through_lstm_matches_torch():
    "The common recipe: pad_sequence(batch_first=True) into an LSTM, the padded steps' outputs masked in the loss."
    arrays = _seqs((3,), (4, 2, 5))
    ours, theirs = dl.nn.LSTM(3, 4, batch_first=True, dtype=dl.float64), torch.nn.LSTM(3, 4, batch_first=True,
                                                                                        dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    xs, txs = [dl.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]
    mask = np.array([[t < len(a) for t in range(5)] for a in arrays], float)[:, :, None]
    out = ours(dl.nn.utils.rnn.pad_sequence(xs, batch_first=True))[0]
    tout = theirs(torch.nn.utils.rnn.pad_sequence(txs, batch_first=True))[0]
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    (out * dl.tensor(mask)).sum().backward(); (tout * torch.tensor(mask)).sum().backward()
    for x, y in zip(xs, txs): np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ['SGD', 'Adagrad', 'RMSprop', 'Adam', 'AdamW'])
def test_chapter_optimizers_accept_torch_switches(name):
    "foreach/fused/capturable where torch has them: accepted and ignored (the same steps); differentiable=True refused."
    sig = __import__('inspect').signature(getattr(torch.optim, name)).parameters
    switches = {k: True for k in ('foreach', 'fused', 'capturable') if k in sig}
    assert switches
    params, grads = _problem(5)
    a = [dl.tensor(p.copy(), requires_grad=True) for p in params]
    b = [dl.tensor(p.copy(), requires_grad=True) for p in params]
    opt_a, opt_b = getattr(dl.optim, name)(a, lr=0.01), getattr(dl.optim, name)(b, lr=0.01, **switches)
    for step in grads:
        for x, y, g in zip(a, b, step):
            x.grad = y.grad = None if g is None else dl.tensor(g)
        opt_a.step(); opt_b.step()
    for x, y in zip(a, b): np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())
    assert opt_b.param_groups[0].keys() == opt_a.param_groups[0].keys()    # the state dict is unchanged
    with pytest.raises(ValueError, match=f"{name}: differentiable=True"):
        getattr(dl.optim, name)(a, differentiable=True)


# ------------------------------------------------------------------- on a simulated GPU (tests/fake_cupy.py)

@pytest.fixture
def simulated_gpu(monkeypatch):
    "The stand-in CuPy of tests/fake_cupy.py as the 'cuda' device (NumPy arrays that refuse to mix with NumPy's)."
    import os, sys
    from deeplearning101 import gpu as G
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fake_cupy
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'): monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    fake_cupy.install(monkeypatch)
    yield sys.modules['cupy']
    G._probe.cache_clear()


@pytest.mark.parametrize("name,kw", [OPTIMIZERS[i] for i in (1, 5, 8, 13)], ids=_ids([OPTIMIZERS[i] for i in (1, 5, 8, 13)]))
def test_optimizers_on_gpu_match_cpu(simulated_gpu, name, kw):
    params, grads = _problem(2)
    cpu = [dl.tensor(p.copy(), requires_grad=True) for p in params]
    gpu = [dl.tensor(p.copy(), requires_grad=True, device='cuda') for p in params]
    opt_c, opt_g = getattr(dl.optim, name)(cpu, **kw), getattr(dl.optim, name)(gpu, **kw)
    for step in grads[:8]:
        for a, b, g in zip(cpu, gpu, step):
            a.grad = None if g is None else dl.tensor(g.copy())
            b.grad = None if g is None else dl.tensor(g.copy(), device='cuda')
        opt_c.step(); opt_g.step()
    assert all(isinstance(b._data, simulated_gpu.ndarray) for b in gpu)
    for a, b in zip(cpu, gpu): np.testing.assert_allclose(b.detach().cpu().numpy(), a.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_pad_sequence_on_gpu(simulated_gpu):
    seqs = [dl.tensor(a, device='cuda', requires_grad=True) for a in _seqs((2,), (3, 1))]
    out = dl.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=-1.0)
    assert isinstance(out._data, simulated_gpu.ndarray) and tuple(out.shape) == (2, 3, 2)
    out.sum().backward()
    assert isinstance(seqs[1].grad._data, simulated_gpu.ndarray)
    np.testing.assert_array_equal(seqs[1].grad.cpu().numpy(), np.ones((1, 2)))
