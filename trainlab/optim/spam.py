"""Registered spike-aware Adam variants: SPAM and Stable-SPAM.

Both keep the official code's argument names and defaults (plus `nonfinite`). Stable-SPAM is a chain of
shared transforms (adaptive gradient-norm scaling, spike clipping, Adam, momentum resets); SPAM is one
transform (`ScaleBySPAM`) following the official SPAM class step for step.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from torch import Tensor

from ..registry import register
from .base import Chain, Transform, check_betas, check_range
from .transforms.decay import AddDecayedWeights
from .transforms.moments import ScaleByAdam
from .transforms.spikes import AdaptiveGradNorm, CosineDecayBeta1, MomentumReset, SpikeClip

STABLE_SPAM = "Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam"


@register("optimizer", "stable_spam", paper=STABLE_SPAM, arxiv="2502.17055",
          code="https://github.com/TianjinYellow/StableSPAM")
def stable_spam(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    gamma1: float = 0.7,
    gamma2: float = 0.9,
    theta: float = 0.999,
    weight_decay: float = 0.0,
    update_proj_gap: int = 1000,
    eps: float = 1e-8,
    total_T: int | None = None,
    eta_min: float = 0.5,
    nonfinite: str = "raise",
) -> Chain:
    """Stable-SPAM: spike clipping, adaptive gradient norm, Adam with periodic momentum reset.

    Chain: SpikeClip(theta) -> AdaptiveGradNorm(gamma1, gamma2) -> CosineDecayBeta1(MomentumReset(
    ScaleByAdam, update_proj_gap)) -> decoupled weight decay (p <- p (1 - lr wd), applied before the
    step). Every schedule follows the official code (github.com/TianjinYellow/StableSPAM, stablespam.py):
    - the reset at t % update_proj_gap == 0 happens after that step's update (the reset step still uses
      the old moments with Adam step count 1; fresh moments start next step with count 2);
    - the counter in the spike-clipping and norm bias corrections (1 - theta^k, 1 - gamma^k) restarts
      with the resets too (`count_since_reset`), so the spike threshold loosens after every reset;
    - with `total_T`, gamma1 and beta1 are multiplied by the cosine factor from 1 to `eta_min` over
      total_T + 1 steps (`cosine_scale`), also inside their bias corrections;
    - a tensor whose clipped gradient has norm 0 is not rescaled but its norm EMAs are updated.
    pytorch-optimizer's StableSPAM differs on the first three points (reset before the update, global
    step count in the bias corrections); the transforms' defaults follow that convention.
    Deviations: counters are per parameter (the official code's reset schedule uses one global count;
    equal when every parameter has a gradient at every step); the official argument `gamma3` (named
    `theta` in its first version and in pytorch-optimizer) is called `theta`; `amsgrad` is not offered.

    Example:
        >>> opt = trainlab.create("stable_spam", model.parameters(), lr=1e-3, update_proj_gap=500)

    Reference: Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam, arXiv 2502.17055.
    """
    adam = MomentumReset(ScaleByAdam(betas, eps), update_proj_gap, reset_after_update=True)
    chain = [SpikeClip(theta, update_proj_gap), AdaptiveGradNorm(gamma1, gamma2, eps, update_proj_gap, total_T, eta_min),
             CosineDecayBeta1(adam, total_T, eta_min), AddDecayedWeights(weight_decay, shrink_params=True)]
    return Chain(params, chain, lr=lr, nonfinite=nonfinite)


def spam_warmup_scale(t: int, DeltaT: int, warmup_steps: int) -> float:
    """Official SPAM's post-reset factor at step t (1-based): 1 - 0.99 (1 + cos(pi k / (W + 1))) / 2 for k < W.

    k = t mod DeltaT counts the steps since the last reset (the official `current_step`, set to 0 after
    step t - 1 whenever t % DeltaT == 0, so never before step 2); before the first reset, and for
    k >= W, the factor is 1. The cosine is torch's CosineAnnealingLR(0.99 -> 0, T_max = W + 1) in
    closed form, which is what the official `scheduler.step(epoch)` evaluates.
    """
    if t < max(DeltaT, 2) or t % DeltaT >= warmup_steps:
        return 1.0
    return 1.0 - 0.99 * (1.0 + math.cos(math.pi * (t % DeltaT) / (warmup_steps + 1))) / 2.0


def _check_count(group: dict[str, Any], key: str, low: int) -> None:
    v = group[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{key} must be an integer >= {low}, got {v!r}")


class ScaleBySPAM(Transform):
    """SPAM's Adam step: momentum reset, spike clipping against the second moment, post-reset warm-up.

    Update rule (per tensor, step t; official `SPAM`/`AdamW` class of github.com/TianjinYellow/SPAM-Optimizer):
        if t % DeltaT == 0: m, v <- 0                           (momentum reset, before the update)
        if threshold > 0 and t >= grad_accu_steps and t % DeltaT >= grad_accu_steps:
            where g^2 > threshold v: g <- sign(g) sqrt(threshold v)      (v: the previous second moment)
        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
        u = s(t) c_t m / (sqrt(v) + eps),  c_t = sqrt(1 - b2^t) / (1 - b1^t) (1 if not correct_bias)
        u <- u (1 - lr weight_decay) + weight_decay p
    so that the chain's p - lr u equals the official (p - lr s c m / (sqrt(v) + eps)) (1 - lr weight_decay):
    decoupled decay applied after the step. s(t) = `spam_warmup_scale`. The bias corrections use the
    global step t (the official code does not restart them at a reset; the warm-up s(t) does that job).
    Deviations: counters are per parameter (the official code has one global count; equal when every
    parameter gets a gradient every step); p.grad is not clipped in place (the official code does that).

    Args:
        betas, eps: Adam's coefficients (official eps 1e-6, outside the bias correction of v).
        weight_decay: decoupled decay (>= 0).
        correct_bias: use c_t (official default True).
        warmup_steps: length W of the cosine warm-up after each reset (official 150).
        threshold: spike threshold on g^2 / v (>= 0; 0 disables clipping; official 5000).
        DeltaT: momentum-reset interval (positive integer; official 500).
        grad_accu_steps: steps after a reset before clipping resumes (official 20).

    Example:
        >>> opt = Chain(model.parameters(), [ScaleBySPAM()], lr=1e-3)

    Reference: SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training, arXiv 2501.06842.
    """

    name = "scale_by_spam"

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.0,
                 correct_bias: bool = True, warmup_steps: int = 150, threshold: float = 5000,
                 DeltaT: int = 500, grad_accu_steps: int = 20) -> None:  # noqa: N803 (official name)
        super().__init__(betas=tuple(betas), eps=eps, weight_decay=weight_decay, correct_bias=correct_bias,
                         warmup_steps=warmup_steps, threshold=threshold, DeltaT=DeltaT, grad_accu_steps=grad_accu_steps)

    def check(self, group: dict[str, Any]) -> None:
        check_betas(group, 2)
        check_range("eps", group["eps"], 0.0, float("inf"))
        check_range("weight_decay", group["weight_decay"], 0.0, float("inf"))
        check_range("threshold", group["threshold"], 0.0, float("inf"))
        _check_count(group, "DeltaT", 1)
        _check_count(group, "warmup_steps", 0)
        _check_count(group, "grad_accu_steps", 0)
        if not isinstance(group["correct_bias"], bool):
            raise ValueError(f"correct_bias must be a bool, got {group['correct_bias']!r}")

    def init(self, params):
        return [{"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)} for p in params]

    def update(self, updates, params, states, *, steps, group):
        (b1, b2), eps, thr = group["betas"], group["eps"], group["threshold"]
        gap, accu, wd, lr = group["DeltaT"], group["grad_accu_steps"], group["weight_decay"], group["lr"]
        out: list[Tensor] = []
        for g, p, s, t in zip(updates, params, states, steps):
            m, v = s["exp_avg"], s["exp_avg_sq"]
            if t % gap == 0:
                m.zero_()
                v.zero_()
            if thr != 0 and t >= accu and t % gap >= accu:
                limit = v * thr  # threshold times the previous second moment, shape of p
                g = torch.where(g * g > limit, g.sign() * limit.sqrt(), g)
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            c = math.sqrt(1 - b2**t) / (1 - b1**t) if group["correct_bias"] else 1.0
            u = torch.div(m, v.sqrt().add_(eps)).mul_(c * spam_warmup_scale(t, gap, group["warmup_steps"]))
            out.append(u.mul_(1 - lr * wd).add_(p, alpha=wd) if wd else u)
        return out


@register("optimizer", "spam", paper=STABLE_SPAM, arxiv="2501.06842",
          code="https://github.com/TianjinYellow/SPAM-Optimizer")
def spam(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    correct_bias: bool = True,
    warmup_steps: int = 150,
    threshold: float = 5000,
    DeltaT: int = 500,  # noqa: N803 (official name)
    grad_accu_steps: int = 20,
    nonfinite: str = "raise",
) -> Chain:
    """SPAM: Adam with momentum reset every DeltaT steps, spike-aware clipping and a warm-up after each reset.

    Update rule: see `ScaleBySPAM` (the chain is that one transform, since the clipping reads Adam's
    second moment before its update; Stable-SPAM's `SpikeClip`/`MomentumReset` transforms implement
    different rules). Argument names and defaults are the official `SPAM` class's (its README uses the
    same values); the official `density` masks (sparse momentum, only through param groups) and the
    `no_deprecation_warning` switch are not offered. SPAM has no row in the catalog, so it is registered
    under its follow-up's title (Stable-SPAM), with SPAM's own arXiv id 2501.06842.

    Example:
        >>> opt = trainlab.create("spam", model.parameters(), lr=1e-3, DeltaT=500)

    Reference: SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training, arXiv 2501.06842.
    """
    t = ScaleBySPAM(betas, eps, weight_decay, correct_bias, warmup_steps, threshold, DeltaT, grad_accu_steps)
    return Chain(params, [t], lr=lr, nonfinite=nonfinite)
