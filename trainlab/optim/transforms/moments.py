"""Moment-based scalings: Adam and AdEMAMix.

Both keep exponential moving averages (EMAs) of the gradient and its square per parameter.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Sequence

import torch
from torch import Tensor
from torch.utils.weak import WeakIdKeyDictionary

from ..base import Transform, by_step, check_betas, check_range
from ..deferred import Deferred, eager, split_small
from ..hoist import step_scalar


_WORK: "weakref.WeakKeyDictionary[Any, dict[str, WeakIdKeyDictionary]]" = weakref.WeakKeyDictionary()


def work_buffers(owner: Any, slot: str, params: Sequence[Tensor]) -> list[Tensor]:
    """One reusable scratch tensor per parameter, shaped like it, cached per (owner, slot), not in state.

    Why: on CPU a fresh multi-megabyte buffer costs more in page faults than the arithmetic written
    into it, so eager steps keep their temporaries across steps. The cache is keyed weakly by the
    transform object and by parameter identity (so it is never saved by `state_dict`, is not copied
    with the transform, and dies with the parameter); it costs one parameter-sized buffer per slot.
    Contents are garbage on entry. Do not use under torch.compile (the compiled step allocates itself).
    """
    slots = _WORK.get(owner)
    if slots is None:
        slots = _WORK[owner] = {}
    cache = slots.get(slot)
    if cache is None:
        cache = slots[slot] = WeakIdKeyDictionary()
    out = []
    for p in params:
        buf = cache.get(p)
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or buf.device != p.device:
            buf = cache[p] = torch.empty_like(p, memory_format=torch.preserve_format)
        out.append(buf)
    return out


class ScaleByAdam(Transform):
    """Scale updates by Adam's bias-corrected first moment over the root second moment.

    Update rule (step t): m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
    u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).

    Args:
        betas: (b1, b2), each in [0, 1).
        eps: added to the denominator (>= 0).

    Returns:
        A `Transform`; chain it with `AddDecayedWeights` for AdamW.

    Example:
        >>> opt = Chain(model.parameters(), [ScaleByAdam(betas=(0.9, 0.99))], lr=1e-3)

    Reference: Adam: A Method for Stochastic Optimization, arXiv 1412.6980.
    """

    name = "scale_by_adam"
    elementwise = True  # per-element math: trainlab.optim.compiled may run it on flat buffers

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(betas=tuple(betas), eps=eps)

    def check(self, group: dict[str, Any]) -> None:
        check_betas(group, 2)
        check_range("eps", group["eps"], 0.0, float("inf"))

    def init(self, params: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        return [
            {"exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
             "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
            for p in params
        ]

    def update_lazy(self, updates, params, states, *, steps, group) -> Deferred:
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        # foreach ops over the whole list; per tensor:
        # m.lerp_(g, 1 - b1); v.mul_(b2).addcmul_(g, g, value=1 - b2)
        # u = m / (sqrt(v) * (bc1 / sqrt(bc2)) + eps bc1), bc_i = 1 - b_i^t; that is Adam's
        # (m / bc1) / (sqrt(v / bc2) + eps) with the 1 / bc1 folded into the denominator (one pass fewer)
        torch._foreach_lerp_(m, updates, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, updates, updates, value=1 - beta2)
        denom: list[Tensor] = [None] * len(updates)  # type: ignore[list-item]
        for t, idx in by_step(steps).items():
            bc1 = 1 - beta1**t
            d = torch._foreach_sqrt([v[i] for i in idx])
            torch._foreach_mul_(d, step_scalar(bc1 / math.sqrt(1 - beta2**t)))
            torch._foreach_add_(d, step_scalar(eps * bc1))
            for i, di in zip(idx, d):
                denom[i] = di
        # u = m / denom, left to the chain (one addcdiv_) or formed by materialize() (into denom for large
        # tensors, fresh buffers for small ones)
        return Deferred("div", m, denom, scratch="b")


def linear_warmup(step: int, end: float, start: float, warmup: int | None) -> float:
    """Linear ramp from `start` to `end` over `warmup` steps (AdEMAMix's alpha scheduler)."""
    if warmup is None or step >= warmup:
        return end
    a = step / float(warmup)
    return (1.0 - a) * start + a * end


def half_life_warmup(step: int, end: float, start: float, warmup: int | None) -> float:
    """Ramp beta linearly in half-life space from `start` to `end` (AdEMAMix's beta3 scheduler).

    The half-life of an EMA with coefficient b is f(b) = ln(0.5)/ln(b) - 1 steps; the scheduler
    interpolates f linearly and maps back with f^{-1}(h) = 0.5^(1/(h+1)). The 1e-8 inside the log
    follows the official code (it keeps f finite at b = 0).
    """
    if warmup is None or step >= warmup:
        return end

    def half_life(beta: float) -> float:
        return math.log(0.5) / math.log(beta + 1e-8) - 1

    a = step / float(warmup)
    return math.pow(0.5, 1.0 / ((1.0 - a) * half_life(start) + a * half_life(end) + 1))


class ScaleByAdEMAMix(Transform):
    """Scale updates by a mixture of a fast and a slow gradient EMA over Adam's second moment.

    Update rule (step t): m1 <- b1 m1 + (1 - b1) g; m2 <- b3(t) m2 + (1 - b3(t)) g;
    v <- b2 v + (1 - b2) g^2; u = (m1 / (1 - b1^t) + alpha(t) m2) / (sqrt(v / (1 - b2^t)) + eps).
    m2 is not bias-corrected. alpha(t) ramps linearly from 0 over `alpha_warmup` steps and b3(t)
    from b1 over `beta3_warmup` steps in half-life space; None means no warm-up.

    Args:
        betas: (b1, b2, b3), each in [0, 1).
        alpha: weight of the slow EMA (>= 0).
        beta3_warmup: steps of the b3 warm-up, or None.
        alpha_warmup: steps of the alpha warm-up, or None.
        eps: added to the denominator.

    Deviation from the official code: with b1 = 0 the official code stores no fast EMA and uses g;
    here the fast EMA is always allocated (with b1 = 0 it equals g exactly), costing one buffer.

    Example:
        >>> opt = Chain(params, [ScaleByAdEMAMix(alpha=5.0, alpha_warmup=1000, beta3_warmup=1000)])

    Reference: The AdEMAMix Optimizer: Better, Faster, Older, arXiv 2409.03137.
    """

    name = "scale_by_ademamix"
    elementwise = True  # per-element math: trainlab.optim.compiled may run it on flat buffers

    def __init__(
        self,
        betas: tuple[float, float, float] = (0.9, 0.999, 0.9999),
        alpha: float = 2.0,
        beta3_warmup: int | None = None,
        alpha_warmup: int | None = None,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(betas=tuple(betas), alpha=alpha, beta3_warmup=beta3_warmup,
                         alpha_warmup=alpha_warmup, eps=eps)

    def check(self, group: dict[str, Any]) -> None:
        check_betas(group, 3)
        check_range("alpha", group["alpha"], 0.0, float("inf"))
        check_range("eps", group["eps"], 0.0, float("inf"))
        for key in ("beta3_warmup", "alpha_warmup"):
            if group[key] is not None:
                check_range(key, group[key], 0, float("inf"), low_open=True)

    def init(self, params: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        return [
            {name: torch.zeros_like(p, memory_format=torch.preserve_format)
             for name in ("exp_avg_fast", "exp_avg_slow", "exp_avg_sq")}
            for p in params
        ]

    def update_lazy(self, updates, params, states, *, steps, group):
        beta1, beta2, beta3_final = group["betas"]
        eps = group["eps"]
        num: list[Tensor] = [None] * len(updates)  # type: ignore[list-item]
        den: list[Tensor] = [None] * len(updates)  # type: ignore[list-item]
        for t, idx in by_step(steps).items():
            alpha = linear_warmup(t, group["alpha"], 0.0, group["alpha_warmup"])
            beta3 = step_scalar(half_life_warmup(t, beta3_final, beta1, group["beta3_warmup"]))
            g = [updates[i] for i in idx]
            fast = [states[i]["exp_avg_fast"] for i in idx]
            slow = [states[i]["exp_avg_slow"] for i in idx]
            sq = [states[i]["exp_avg_sq"] for i in idx]
            # per tensor: fast.lerp_(g, 1-b1); slow.lerp_(g, 1-b3(t)); sq.mul_(b2).addcmul_(g, g, value=1-b2);
            # u = (fast + alpha bc1 slow) / (sqrt(sq) (bc1 / sqrt(bc2)) + eps bc1), bc_i = 1 - b_i^t: the
            # official (fast / bc1 + alpha slow) / (sqrt(sq) / sqrt(bc2) + eps) with 1 / bc1 folded into the
            # denominator (two passes fewer; lerp_ for the official mul_/add_ rounds within an ulp of it)
            torch._foreach_lerp_(fast, g, 1 - beta1)
            torch._foreach_lerp_(slow, g, 1 - beta3)
            torch._foreach_mul_(sq, beta2)
            torch._foreach_addcmul_(sq, g, g, value=1 - beta2)
            bc1 = 1 - beta1**t
            small, large = split_small(sq) if eager() else (range(len(sq)), [])
            if large:  # large denominators in reused scratch (one fresh buffer per tensor: u)
                denom = [None] * len(sq)
                if small:
                    for j, d in zip(small, torch._foreach_sqrt([sq[j] for j in small])):
                        denom[j] = d
                for j, d in zip(large, work_buffers(self, "denom", [params[idx[j]] for j in large])):
                    denom[j] = torch.sqrt(sq[j], out=d)
            else:  # all small (or compiling): one foreach call, fresh small buffers are cheap
                denom = torch._foreach_sqrt(sq)
            torch._foreach_mul_(denom, step_scalar(bc1 / math.sqrt(1 - beta2**t)))
            torch._foreach_add_(denom, step_scalar(eps * bc1))
            u = torch._foreach_add(fast, slow, alpha=step_scalar(alpha * bc1))
            for i, ui, di in zip(idx, u, denom):
                num[i], den[i] = ui, di
        return Deferred("div", num, den, scratch="a")  # u = num / den, num is this step's fresh buffer
