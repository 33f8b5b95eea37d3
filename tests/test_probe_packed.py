"""Packed sequences (`nn.utils.rnn.pack_padded_sequence` and friends) and the recurrent
layers over them, against PyTorch: values, gradients, batch sizes and orders."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")
from torch.nn.utils import rnn as R                     # noqa: E402
from deeplearning101.nn.utils import rnn as S          # noqa: E402

P = {dl: S, torch: R}
rng = np.random.default_rng(0)
X = rng.standard_normal((4, 5, 3)).astype(np.float32)
H0 = rng.standard_normal((4, 4, 4)).astype(np.float32)


@pytest.mark.parametrize("lens, es", [([3, 5, 2, 5], False), ([5, 5, 3, 2], True)])
@pytest.mark.parametrize("mode", ['RNN', 'GRU', 'LSTM'])
@pytest.mark.parametrize("bi", [False, True])
@pytest.mark.parametrize("bf", [True, False])
@pytest.mark.parametrize("use_h", [False, True])
def test_recurrent_layers_over_packed_sequences(lens, es, mode, bi, bf, use_h):
    tm = getattr(torch.nn, mode)(3, 4, num_layers=2, bidirectional=bi, batch_first=bf)
    dm = getattr(dl.nn, mode)(3, 4, num_layers=2, bidirectional=bi, batch_first=bf)
    for (_, p), (_, q) in zip(dm.named_parameters(), tm.named_parameters()):
        with dl.no_grad(): p.copy_(dl.tensor(q.detach().numpy()))
    res = {}
    for lib, m in ((dl, dm), (torch, tm)):
        x = lib.tensor(X if bf else X.transpose(1, 0, 2).copy(), requires_grad=True)
        packed = P[lib].pack_padded_sequence(x, lib.tensor(lens), batch_first=bf,
                                             enforce_sorted=es)
        h0 = lib.tensor(H0[:4 if bi else 2]) if use_h else None
        if use_h and mode == 'LSTM': h0 = (h0, h0 * 0.5)
        out, h = m(packed, h0)
        padded, ln = P[lib].pad_packed_sequence(out, batch_first=bf, total_length=6)
        hn = h[0] if mode == 'LSTM' else h
        ((padded ** 2).sum() + (hn ** 3).sum()).backward()
        res[lib] = [padded.detach().numpy(), ln.numpy(), hn.detach().numpy(),
                    x.grad.numpy(), packed.batch_sizes.numpy(),
                    packed.data.detach().numpy(), out.data.detach().numpy(),
                    np.array(-1) if out.sorted_indices is None
                    else out.sorted_indices.numpy(),
                    np.array(-1) if out.unsorted_indices is None
                    else out.unsorted_indices.numpy()]
    for a, b in zip(res[dl], res[torch]):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_pack_sequence_and_errors_as_pytorch():
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (4, 1, 3)]
    got = []
    for lib in (dl, torch):
        ps = P[lib].pack_sequence([lib.tensor(s) for s in seqs], enforce_sorted=False)
        back = P[lib].unpack_sequence(ps)
        got.append((ps.batch_sizes.tolist(), ps.sorted_indices.tolist(),
                    [b.numpy().tolist() for b in back]))
        assert isinstance(ps, P[lib].PackedSequence)
        for bad, match in (((lib.zeros(3, 2), [1, 3]), "batch_size"),
                           ((lib.zeros(2, 2), [1, 2]), "decreasing order"),
                           ((lib.zeros(2, 2), [2, 0]), "greater than 0")):
            with pytest.raises(RuntimeError, match=match):
                P[lib].pack_padded_sequence(*bad, batch_first=True)
    assert got[0] == got[1]
