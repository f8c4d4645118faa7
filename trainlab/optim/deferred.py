"""Updates whose last product or quotient is left to the chain, and the small/large tensor split.

An Adam-style update ends with u = m / denom, and the chain then applies p <- p - lr u: two passes
over memory (and, for many small tensors, two foreach calls) where `torch._foreach_addcdiv_` needs
one. A transform that is the last to change the update may therefore return a `Deferred` from its
`update_lazy` method; `Chain.step` applies it with one addcdiv_/addcmul_, and everything else (other
transforms, `with_transforms`, the compiled step, wrappers calling `update`) sees the ordinary list
that `materialize()` makes of it.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

# Below this many elements a fresh temporary is cheap (no page faults worth avoiding), so foreach ops
# that allocate replace per-tensor Python calls into work buffers or reused storage.
SMALL_NUMEL = 1 << 16


def eager() -> bool:
    """False while torch.compile traces (work buffers and data-dependent shortcuts are eager-only)."""
    return not torch.compiler.is_compiling()


def split_small(tensors: Sequence[Tensor]) -> tuple[list[int], list[int]]:
    """Indices of the tensors with at most SMALL_NUMEL elements, and of the others."""
    small: list[int] = []
    large: list[int] = []
    for i, x in enumerate(tensors):
        (small if x.numel() <= SMALL_NUMEL else large).append(i)
    return small, large


class Deferred:
    """The update u = a / b (op "div") or u = a * b (op "mul"), per tensor, not yet formed.

    Args:
        op: "div" or "mul".
        a, b: lists of tensors shaped like the parameters.
        scratch: "a" or "b", the operand the producer no longer needs; `materialize` may write u into
            it (the other operand may be optimizer state and is never written).

    Example:
        >>> d = Deferred("div", [torch.ones(2)], [torch.full((2,), 4.0)], scratch="b")
        >>> d.materialize()[0]
        tensor([0.2500, 0.2500])
    """

    __slots__ = ("op", "a", "b", "scratch")

    def __init__(self, op: str, a: list[Tensor], b: list[Tensor], *, scratch: str) -> None:
        if op not in ("div", "mul") or scratch not in ("a", "b"):
            raise ValueError(f"op must be 'div' or 'mul' and scratch 'a' or 'b', got {op!r}, {scratch!r}")
        self.op, self.a, self.b, self.scratch = op, a, b, scratch

    def materialize(self) -> list[Tensor]:
        """The update as a list of tensors (written into the scratch operand where that is possible)."""
        a, b = self.a, self.b
        if self.op == "mul":
            out, other = (a, b) if self.scratch == "a" else (b, a)
            torch._foreach_mul_(out, other)
            return list(out)
        if self.scratch == "a":
            torch._foreach_div_(a, b)
            return list(a)
        # u = a / b into b: no in-place foreach op divides the other way round, so small tensors get one
        # fresh-buffer foreach call (cheap) and large ones a per-tensor division into b (no fresh buffer)
        out: list[Tensor] = list(b)
        small, large = split_small(b) if eager() else (list(range(len(b))), [])
        if small:
            for j, u in zip(small, torch._foreach_div([a[j] for j in small], [b[j] for j in small])):
                out[j] = u
        for j in large:
            out[j] = torch.div(a[j], b[j], out=b[j])
        return out

    def apply_(self, params: list[Tensor], lr: float) -> None:
        """p <- p - lr u for every parameter, in one foreach call."""
        if self.op == "div":
            torch._foreach_addcdiv_(params, self.a, self.b, value=-lr)
        else:
            torch._foreach_addcmul_(params, self.a, self.b, value=-lr)
