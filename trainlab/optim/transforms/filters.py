"""Grokfast gradient filters: amplify the slow (low-frequency) part of each gradient signal."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from ...registry import register
from ..base import Transform, check_range
from ..deferred import eager, split_small
from .moments import work_buffers

GROKFAST = "Grokfast: Accelerated Grokking by Amplifying Slow Gradients"


@register("transform", "grokfast_ema", paper=GROKFAST, arxiv="2405.20233", code="https://github.com/ironjr/grokfast")
class GrokfastEMA(Transform):
    """Grokfast-EMA: add lamb times an EMA of past gradients to the gradient.

    Update rule: mu_1 = g_1; mu_t = alpha mu_{t-1} + (1 - alpha) g_t; u = g_t + lamb mu_t.
    As in the official `gradfilter_ema`, the EMA starts from the first gradient, not from zero.
    Group keys: `grokfast_alpha`, `grokfast_lamb`. In eager mode u is written into a per-parameter
    work buffer kept outside optimizer state (`work_buffers`) and overwritten at the next step, so
    consume it within the step (Chain and `with_transforms` do).

    Args:
        alpha: EMA momentum in [0, 1).
        lamb: amplification factor (>= 0).

    Example:
        >>> opt = with_transforms(torch.optim.AdamW(model.parameters(), lr=1e-3), GrokfastEMA(0.98, 2.0))

    Reference: Grokfast: Accelerated Grokking by Amplifying Slow Gradients, arXiv 2405.20233.
    """

    name = "grokfast_ema"
    elementwise = True  # per-element math: trainlab.optim.compiled may run it on flat buffers

    def __init__(self, alpha: float = 0.98, lamb: float = 2.0) -> None:
        super().__init__(grokfast_alpha=alpha, grokfast_lamb=lamb)

    def check(self, group: dict[str, Any]) -> None:
        check_range("grokfast_alpha", group["grokfast_alpha"], 0.0, 1.0)
        check_range("grokfast_lamb", group["grokfast_lamb"], 0.0, float("inf"))

    def init(self, params: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        return [{"ema": torch.zeros_like(p, memory_format=torch.preserve_format)} for p in params]

    def update(self, updates, params, states, *, steps, group):
        alpha, lamb = group["grokfast_alpha"], group["grokfast_lamb"]
        ema = [s["ema"] for s in states]
        for e, g, t in zip(ema, updates, steps):
            if t == 1:
                e.copy_(g)
        # per tensor: ema = alpha * ema + (1 - alpha) * g (as lerp_, one pass; within an ulp of the official
        # mul/add); u = g + lamb * ema
        torch._foreach_lerp_(ema, updates, 1 - alpha)
        if not eager():
            return list(torch._foreach_add(updates, ema, alpha=lamb))
        # eager: u is written into a per-parameter work buffer reused every step (no fresh memory; the
        # chain consumes u within the step); same op, same bits
        # (large tensors only: small ones in one foreach call, as a Python call per tensor costs more than
        # a fresh small buffer)
        small, large = split_small(updates)
        if not large:
            return list(torch._foreach_add(updates, ema, alpha=lamb))
        out: list[Tensor] = [None] * len(updates)  # type: ignore[list-item]
        if small:
            for j, u in zip(small, torch._foreach_add([updates[j] for j in small], [ema[j] for j in small], alpha=lamb)):
                out[j] = u
        for j, o in zip(large, work_buffers(self, "out", [params[j] for j in large])):
            out[j] = torch.add(updates[j], ema[j], alpha=lamb, out=o)
        return out


@register("transform", "grokfast_ma", paper=GROKFAST, arxiv="2405.20233", code="https://github.com/ironjr/grokfast")
class GrokfastMA(Transform):
    """Grokfast-MA: add lamb times the mean (or sum) of the last `window_size` gradients.

    Update rule: u = g_t + lamb * mean(g_{t-w+1..t}); with `warmup` the filter is off until the
    window is full (as in the official `gradfilter_ma`). The window is a ring buffer with a running
    sum, so a step costs O(1) per element instead of O(window); the sum is recomputed from the
    buffer once per window so floating-point drift cannot accumulate. Group key: `grokfast_lamb`.
    After the warm-up u is written into a per-parameter work buffer outside optimizer state,
    overwritten at the next step (see `GrokfastEMA`).

    Args:
        window_size: w, the number of gradients averaged (>= 1).
        lamb: amplification factor (>= 0).
        filter_type: "mean" or "sum".
        warmup: leave gradients unchanged until w gradients have been seen.

    Example:
        >>> opt = with_transforms(torch.optim.AdamW(model.parameters()), GrokfastMA(window_size=100, lamb=5.0))

    Reference: Grokfast: Accelerated Grokking by Amplifying Slow Gradients, arXiv 2405.20233.
    """

    name = "grokfast_ma"

    def __init__(self, window_size: int = 100, lamb: float = 5.0, filter_type: str = "mean", warmup: bool = True) -> None:
        if int(window_size) != window_size or window_size < 1:
            raise ValueError(f"window_size must be a positive integer, got {window_size!r}")
        if filter_type not in ("mean", "sum"):
            raise ValueError(f"filter_type must be 'mean' or 'sum', got {filter_type!r}")
        super().__init__(grokfast_lamb=lamb)
        self.window_size = int(window_size)
        self.filter_type = filter_type
        self.warmup = bool(warmup)

    def check(self, group: dict[str, Any]) -> None:
        check_range("grokfast_lamb", group["grokfast_lamb"], 0.0, float("inf"))

    def init(self, params: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        return [
            {"window": torch.zeros((self.window_size, *p.shape), dtype=p.dtype, device=p.device),
             "window_sum": torch.zeros_like(p, memory_format=torch.preserve_format)}
            for p in params
        ]

    def update(self, updates, params, states, *, steps, group):
        lamb, w = group["grokfast_lamb"], self.window_size
        out = []
        for g, p, s, t in zip(updates, params, states, steps):
            buf, total = s["window"], s["window_sum"]
            slot = (t - 1) % w
            if t > w:
                total.sub_(buf[slot])
            buf[slot].copy_(g)
            if slot == w - 1:
                torch.sum(buf, dim=0, out=total)  # exact resync once per window
            else:
                total.add_(g)
            count = min(t, w)
            if self.warmup and count < w:
                out.append(g)
                continue
            # u = g + lamb * (total / count) (or total) in a reused work buffer: no fresh memory, same bits
            o = work_buffers(self, "out", [p])[0]
            avg = torch.div(total, count, out=o) if self.filter_type == "mean" else total
            out.append(torch.add(g, avg, alpha=lamb, out=o))
        return out
