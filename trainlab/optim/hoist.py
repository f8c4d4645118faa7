"""Per-step scalars (bias corrections, warm-up values) computed once per compiled step, not per element.

Under `trainlab.optim.compiled`, the step count is a symbolic integer, so a transform's `1 - beta**t`
becomes scalar code inside inductor's element loop; the C++ compiler cannot hoist `std::pow` out of
the loop (it may set errno), so it ran once per 16 elements and made the compiled AdamW step on 25M
parameters ~3x slower than torch's fused AdamW. `step_scalar(x)` returns `x` unchanged in eager mode;
while compiling it returns `x` as a 0-d float64 tensor behind a custom op, which inductor computes in
its own kernel once per step and the element loop only loads.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .deferred import eager


@torch.library.custom_op("trainlab::step_scalar", mutates_args=())
def _realize(x: Tensor) -> Tensor:
    return x.clone()


@_realize.register_fake
def _(x: Tensor) -> Tensor:
    return torch.empty_like(x)


def step_scalar(x: Any) -> Any:
    """`x` itself in eager mode; under torch.compile a 0-d float64 tensor computed once per step."""
    if eager():
        return x
    return _realize(torch.scalar_tensor(x, dtype=torch.float64))
