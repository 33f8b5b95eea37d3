"""`dl.random`, as `torch.random`: seeding and the state of the default generator (chapter 00). This file
only gathers names: the code lives in the chapter's module (written by nbdev from the notebook)."""
from ..graph import (Generator, default_generator, manual_seed, seed, initial_seed, get_rng_state,
                     set_rng_state)
from ..graph import _fork_rng as fork_rng
