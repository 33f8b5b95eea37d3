"""`dl.nn.utils.rnn`, as `torch.nn.utils.rnn`: `pad_sequence`, `unpad_sequence` and the packed sequences
(`PackedSequence`, `pack_padded_sequence`, `pad_packed_sequence`, `pack_sequence`, `unpack_sequence`) of
chapter 08. This file only gathers names: the code lives in deeplearning101/seq.py, which nbdev writes
from nbs/08_seq.ipynb."""
from ...seq import (pad_sequence, unpad_sequence, PackedSequence, pack_padded_sequence,
                    pad_packed_sequence, pack_sequence, unpack_sequence)

__all__ = ['PackedSequence', 'pack_padded_sequence', 'pad_packed_sequence', 'pad_sequence',
           'unpad_sequence', 'pack_sequence', 'unpack_sequence']
