"""Adam-family scalings: Grams, EXAdam, AdaBound/AMSBound, Optimistic AMSGrad, AdaMomentum.

Each keeps Adam-style moments per parameter (tensors shaped like the parameter) and returns the
update `u` that `Chain` applies as `p <- p - lr * u`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor

from ..base import Transform, by_step, check_betas, check_range
from ..deferred import Deferred, eager, split_small
from ..hoist import step_scalar
from .moments import ScaleByAdam, work_buffers


def _zeros(params: Sequence[Tensor], *names: str) -> list[dict[str, Tensor]]:
    return [{n: torch.zeros_like(p, memory_format=torch.preserve_format) for n in names} for p in params]


class ScaleByGrams(ScaleByAdam):
    """Adam's step magnitude with the current gradient's sign (Grams).

    Update rule: u_adam = m_hat / (sqrt(v_hat) + eps) as in `ScaleByAdam`; u = sign(g) * |u_adam|.
    Where g == 0 the update is 0.

    Args:
        betas: (b1, b2), each in [0, 1).
        eps: added to the denominator (>= 0).

    Example:
        >>> opt = Chain(model.parameters(), [ScaleByGrams()], lr=1e-3)

    Reference: Grams: Gradient Descent with Adaptive Momentum Scaling, arXiv 2412.17107.
    """

    name = "scale_by_grams"

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6) -> None:
        super().__init__(betas, eps)

    def update(self, updates, params, states, *, steps, group):
        adam = super().update(updates, params, states, steps=steps, group=group)
        torch._foreach_abs_(adam)  # adam's outputs are fresh buffers, never the gradients
        # sign(g): small tensors in one foreach call; large ones into reused scratch (no fresh large buffer)
        small, large = split_small(updates) if eager() else (range(len(updates)), [])
        if small:
            torch._foreach_mul_([adam[i] for i in small], torch._foreach_sign([updates[i] for i in small]))
        if large:  # never under torch.compile (work buffers are eager-only)
            for i, buf in zip(large, work_buffers(self, "sign", [params[i] for i in large])):
                adam[i].mul_(torch.sign(updates[i], out=buf))
        return adam


class ScaleByEXAdam(ScaleByAdam):
    """EXAdam: Adam with cross-moment debiasing and a gradient-acceleration term.

    Update rule (step t, moments m, v as in Adam, biased):
        d1 = 1 + v / (v + eps) * b2^t;  d2 = 1 + m^2 / (m^2 + eps) * b1^t
        m~ = m / (1 - b1^t) * d1;  v~ = v / (1 - b2^t) * d2;  g~ = g / (1 - b1^t) * d1
        u = (m~ + g~) / (sqrt(v~) + eps)
    As in the official code, the learning rate is constant (the paper's growing step
    lr * ln(sqrt(2) sqrt(t + 1)) is not applied; use a scheduler for it).

    Args:
        betas: (b1, b2), each in [0, 1).
        eps: used in the debiasing ratios and the denominator (>= 0).

    Example:
        >>> opt = Chain(model.parameters(), [ScaleByEXAdam()], lr=1e-3)

    Reference: EXAdam: The Power of Adaptive Cross-Moments, arXiv 2412.20302.
    """

    # hyperparameters (betas, eps), their checks and the (exp_avg, exp_avg_sq) state are ScaleByAdam's
    name = "scale_by_exadam"

    def update_lazy(self, updates, params, states, *, steps, group):
        b1, b2 = group["betas"]
        eps = group["eps"]
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        torch._foreach_lerp_(m, updates, 1 - b1)  # the official update, per tensor
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, updates, updates, value=1 - b2)
        num: list[Tensor] = [None] * len(updates)  # type: ignore[list-item]
        den: list[Tensor] = [None] * len(updates)  # type: ignore[list-item]
        for t, idx in by_step(steps).items():
            mi, vi, gi = [m[i] for i in idx], [v[i] for i in idx], [updates[i] for i in idx]
            bc1, bc2 = 1 - b1**t, 1 - b2**t
            # d1 - 1 = b2^t v / (v + eps), written into a fresh buffer per tensor (v + eps)
            d1 = torch._foreach_add(vi, eps)
            torch._foreach_div_(d1, vi)  # (v + eps) / v ...
            torch._foreach_reciprocal_(d1)  # ... inverted: v / (v + eps); v = 0 gives eps / 0 = inf -> 0, as it should
            torch._foreach_mul_(d1, step_scalar(b2**t))
            torch._foreach_add_(d1, 1.0)
            # d2 = 1 + b1^t m^2 / (m^2 + eps)
            m2 = torch._foreach_mul(mi, mi)
            d2 = torch._foreach_add(m2, eps)
            torch._foreach_div_(m2, d2)
            torch._foreach_mul_(m2, step_scalar(b1**t))
            torch._foreach_add_(m2, 1.0)
            # denominator times bc1: sqrt(v d2) (bc1 / sqrt(bc2)) + eps bc1, in the m^2 buffer
            torch._foreach_mul_(m2, vi)
            torch._foreach_sqrt_(m2)
            torch._foreach_mul_(m2, step_scalar(bc1 / math.sqrt(bc2)))
            torch._foreach_add_(m2, step_scalar(eps * bc1))
            # u = (m + g) d1 / bc1 / (sqrt(v d2 / bc2) + eps): the official m/bc1 d1 + g/bc1 d1, factored
            u = torch._foreach_add(mi, gi)
            torch._foreach_mul_(u, d1)
            for i, ui, di in zip(idx, u, m2):
                num[i], den[i] = ui, di
        return Deferred("div", num, den, scratch="a")  # u = num / den (fresh buffers of this step)


class ScaleByAdaBound(Transform):
    """AdaBound / AMSBound: Adam's per-coordinate step size clipped to bounds that converge to SGD.

    Update rule (step t, lr the group's learning rate, lr0 its value at construction):
        eta = clip(lr sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps), lo(t), hi(t))
        lo(t) = f (1 - 1 / (gamma t + 1)),  hi(t) = f (1 + 1 / (gamma t)),  f = final_lr * lr / lr0
        step = eta * m;  u = step / lr (so that the chain's p <- p - lr u applies `step`).
    `amsbound=True` uses the running maximum of v (AMSBound). As in the official code the bounds
    follow lr schedules through f, and there is no 1/sqrt(t) factor (the paper's Algorithm has one).
    lr0 is recorded in each param group as `base_lr` when the group is added; it is saved in
    `state_dict`. With lr == 0 the update is 0 and the moments still advance (as in the official code, where
    the bounds scale with lr); with lr0 == 0 < lr, f = final_lr.

    Args:
        final_lr: the SGD learning rate the bounds converge to (>= 0).
        gamma: convergence speed of the bounds, in (0, 1).
        amsbound: use max(v) (AMSBound).
        betas, eps: as in Adam.

    Example:
        >>> opt = Chain(model.parameters(), [ScaleByAdaBound(final_lr=0.1)], lr=1e-3)

    Reference: Adaptive Gradient Methods with Dynamic Bound of Learning Rate, arXiv 1902.09843.
    """

    name = "scale_by_adabound"
    elementwise = True  # per-element math with per-step scalar bounds: trainlab.optim.compiled may run it

    def __init__(self, betas=(0.9, 0.999), final_lr: float = 0.1, gamma: float = 1e-3, eps: float = 1e-8,
                 amsbound: bool = False) -> None:
        super().__init__(betas=tuple(betas), final_lr=final_lr, gamma=gamma, eps=eps, amsbound=bool(amsbound),
                         base_lr=None)

    def check(self, group: dict[str, Any]) -> None:
        check_betas(group, 2)
        check_range("final_lr", group["final_lr"], 0.0, float("inf"))
        check_range("gamma", group["gamma"], 0.0, 1.0, low_open=True)
        check_range("eps", group["eps"], 0.0, float("inf"))
        if not isinstance(group["amsbound"], bool):
            raise ValueError(f"amsbound must be a bool, got {group['amsbound']!r}")
        if group["base_lr"] is None:  # record the construction-time lr, as the official code does
            group["base_lr"] = float(group["lr"])

    def init(self, params):
        return _zeros(params, "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def update_lazy(self, updates, params, states, *, steps, group):
        b1, b2 = group["betas"]
        lr, base_lr = group["lr"], group["base_lr"]
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        # foreach over the list; per tensor the official order (lerp_ for its mul_/add_, within an ulp):
        # m.lerp_(g, 1-b1); v.mul_(b2).addcmul_(g, g, 1-b2); [vmax = max(vmax, v); v = vmax]
        torch._foreach_lerp_(m, updates, 1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, updates, updates, value=1 - b2)
        if group["amsbound"]:
            vmax = [s["max_exp_avg_sq"] for s in states]
            torch._foreach_maximum_(vmax, v)
            v = vmax
        # u = eta / lr * m with eta = clip(step_size / (sqrt(v) + eps), lower, upper): lr is divided out of
        # step_size and the bounds (clip(x, lo, hi) / lr = clip(x / lr, lo / lr, hi / lr)), and f / lr =
        # final_lr / lr0 when lr0 > 0, so u does not depend on lr at all: lr == 0 gives a zero step while the
        # moments above still move, as in the official code, and a compiled step does not specialise on lr
        if base_lr > 0:
            f_over_lr = group["final_lr"] / base_lr
        elif lr == 0:  # lr0 == 0 == lr: f = final_lr, a zero step
            return [torch.zeros_like(g) for g in updates]
        else:  # lr0 == 0 < lr: f = final_lr
            f_over_lr = group["final_lr"] / lr
        out: list[Tensor] = [None] * len(updates)  # type: ignore[list-item]
        for t, idx in by_step(steps).items():
            # everything is written into the one fresh buffer per tensor, sqrt(v)
            denom = torch._foreach_sqrt([v[i] for i in idx])
            torch._foreach_add_(denom, group["eps"])
            torch._foreach_reciprocal_(denom)
            torch._foreach_mul_(denom, step_scalar(math.sqrt(1 - b2**t) / (1 - b1**t)))  # step_size / lr
            torch._foreach_clamp_min_(denom, step_scalar(f_over_lr * (1 - 1 / (group["gamma"] * t + 1))))
            torch._foreach_clamp_max_(denom, step_scalar(f_over_lr * (1 + 1 / (group["gamma"] * t))))
            for i, d in zip(idx, denom):
                out[i] = d
        return Deferred("mul", out, m, scratch="a")  # u = eta / lr * m, formed by the chain's addcmul_


class ScaleByOptimisticAMSGrad(Transform):
    """Optimistic AMSGrad: an AMSGrad half-step plus an extrapolated step along a predicted gradient.

    Update rule (paper's Algorithm 2 with a guess m~_{t+1} of the next gradient, constant lr):
        th_t = b1 th + (1 - b1) g;  v_t = b2 v + (1 - b2) g^2;  vh_t = max(vh_{t-1}, v_t)
        w_{t+1/2} = w_{t-1/2} - lr th_t / (sqrt(vh_t) + eps)
        h_{t+1} = b1 th_t + (1 - b1) m~_{t+1};  w_{t+1} = w_{t+1/2} - lr h_{t+1} / (sqrt(vh_t) + eps)
    The half-step iterate is not stored: with o_t = h_t / (sqrt(vh_{t-1}) + eps) (0 at t = 1),
    w_{t-1/2} = w_t + lr o_t, so u = (th_t + h_{t+1}) / (sqrt(vh_t) + eps) - o_t.

    The guess: with `extrapolation_r = 0` (default) m~_{t+1} = g_t. With r >= 1 it is the paper's
    multi-gradient extrapolation (its Algorithm 3, regularised minimal polynomial extrapolation of
    Scieur et al., arXiv 1606.04133) over the last r + 1 gradients x_0..x_r = g_{t-r}..g_t of all the
    group's tensors taken as one vector: U = [x_1 - x_0, ..., x_r - x_{r-1}];
    (U^T U + lam ||U^T U||_2 I) z = 1;  c = z / sum(z);  m~_{t+1} = sum_{j<r} c_j x_j
    (solved in float64; lam = `extrapolation_reg`, relative to ||U^T U||_2 as in Scieur et al.). Until
    r + 1 gradients have been seen, and for tensors first updated later, the guess is g_t. State then
    holds `grad_history` (r + 1 gradients per tensor: r + 1 times the parameter's memory).

    Deviations: eps is added to sqrt(vh) (the paper starts from vh_0 = eps instead); no bias
    correction, as in the paper; with a changing lr the previous optimistic step is undone at the
    current lr (so lr = 0 freezes the parameters). The paper does not fix lam; 1e-3 is our default.

    Args:
        betas: (b1, b2), each in [0, 1).
        eps: added to the denominator (>= 0).
        extrapolation_r: r, the number of gradient differences used by the extrapolation (0: last gradient).
        extrapolation_reg: lam > 0, the relative Tikhonov regularisation of the extrapolation.

    Example:
        >>> opt = Chain(model.parameters(), [ScaleByOptimisticAMSGrad(extrapolation_r=5)], lr=1e-3)

    Reference: An Optimistic Acceleration of AMSGrad for Nonconvex Optimization, arXiv 1903.01435.
    """

    name = "scale_by_optimistic_amsgrad"
    elementwise = True  # per-element math: trainlab.optim.compiled may run it on flat buffers

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, extrapolation_r: int = 0,
                 extrapolation_reg: float = 1e-3) -> None:
        if isinstance(extrapolation_r, bool) or not isinstance(extrapolation_r, int) or extrapolation_r < 0:
            raise ValueError(f"extrapolation_r must be a non-negative integer, got {extrapolation_r!r}")
        check_range("extrapolation_reg", extrapolation_reg, 0.0, float("inf"), low_open=True)
        super().__init__(betas=tuple(betas), eps=eps)
        self.extrapolation_r = extrapolation_r
        self.extrapolation_reg = float(extrapolation_reg)
        if extrapolation_r:
            self.elementwise = False  # the extrapolation couples all tensors of the group

    def check(self, group: dict[str, Any]) -> None:
        check_betas(group, 2)
        check_range("eps", group["eps"], 0.0, float("inf"))

    def init(self, params):
        states = _zeros(params, "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "optimistic_step")
        if self.extrapolation_r:
            for p, s in zip(params, states):
                s["grad_history"] = p.new_zeros((self.extrapolation_r + 1, *p.shape))
        return states

    def _guesses(self, updates: list[Tensor], states, steps) -> list[Tensor]:
        win = self.extrapolation_r + 1
        for g, s, t in zip(updates, states, steps):
            s["grad_history"][(t - 1) % win].copy_(g)  # gradient of step t lives in slot (t - 1) % win
        ready = [i for i, t in enumerate(steps) if t >= win]
        if not ready:
            return updates
        xs = []  # per ready tensor: (win, numel) float64, rows g_{t-r}..g_t in time order
        gram = torch.zeros(win - 1, win - 1, dtype=torch.float64, device=updates[ready[0]].device)
        for i in ready:
            order = [(steps[i] - win + j) % win for j in range(win)]
            x = states[i]["grad_history"][order].reshape(win, -1).to(device=gram.device, dtype=torch.float64)
            d = x[1:] - x[:-1]  # (r, numel): the columns of U, as rows
            gram += d @ d.T
            xs.append(x)
        reg = self.extrapolation_reg * torch.linalg.matrix_norm(gram, 2)
        ones = torch.ones(win - 1, dtype=torch.float64, device=gram.device)
        if bool(reg > 0):
            z = torch.linalg.solve(gram + reg * torch.eye(win - 1, dtype=torch.float64, device=gram.device), ones)
            c = z / z.sum()
        else:  # identical gradients: every affine combination is the same vector
            c = ones / (win - 1)
        guesses = list(updates)
        for i, x in zip(ready, xs):
            g = updates[i]
            guesses[i] = (c @ x[:-1]).reshape(g.shape).to(device=g.device, dtype=g.dtype)
        return guesses

    def update(self, updates, params, states, *, steps, group):
        b1, b2 = group["betas"]
        guesses = self._guesses(updates, states, steps) if self.extrapolation_r else updates
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        vmax = [s["max_exp_avg_sq"] for s in states]
        o = [s["optimistic_step"] for s in states]
        # foreach ops, the same per-element math and rounding as a per-tensor loop. Why: a loop of ~10
        # tensor ops per parameter cost ~25 ms a step on 400 tensors; and under trainlab.optim.compiled
        # only foreach calls are rewritten to plain arithmetic, while a tensor method's `alpha=1 - b1`
        # made inductor bake the betas in as constants and restart tracing (two compiles instead of one)
        torch._foreach_mul_(m, b1)
        torch._foreach_add_(m, updates, alpha=1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, updates, updates, value=1 - b2)
        torch._foreach_maximum_(vmax, v)
        denom = torch._foreach_sqrt(vmax)
        torch._foreach_add_(denom, group["eps"])
        h_next = torch._foreach_mul(m, b1)  # predicted next momentum
        torch._foreach_add_(h_next, guesses, alpha=1 - b1)
        u = torch._foreach_add(m, h_next)
        torch._foreach_div_(u, denom)
        torch._foreach_sub_(u, o)
        torch._foreach_div_(h_next, denom)
        torch._foreach_copy_(o, h_next)
        return u


class ScaleByAdaMomentum(ScaleByAdam):
    """AdaMomentum: Adam whose second moment is the EMA of the squared first moment, eps inside.

    Update rule (step t): m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) m^2 + eps;
    u = (m / (1 - b1^t)) / sqrt(v / (1 - b2^t)). eps accumulates inside v (it is added every step,
    as in the paper's Algorithm 1) and there is no eps outside the square root.

    Args:
        betas: (b1, b2), each in [0, 1).
        eps: added to v at every step (>= 0).

    Example:
        >>> opt = Chain(model.parameters(), [ScaleByAdaMomentum()], lr=1e-3)

    Reference: Rethinking Adam: A Twofold Exponential Moving Average Approach, arXiv 2106.11514.
    """

    # hyperparameters (betas, eps), their checks and the (exp_avg, exp_avg_sq) state are ScaleByAdam's
    name = "scale_by_adamomentum"

    def update(self, updates, params, states, *, steps, group):
        b1, b2 = group["betas"]
        out = []
        for g, s, t in zip(updates, states, steps):
            m, v = s["exp_avg"], s["exp_avg_sq"]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(m, m, value=1 - b2).add_(group["eps"])
            denom = v.sqrt().div_(step_scalar(math.sqrt(1 - b2**t)))
            out.append(m.div(denom).div_(step_scalar(1 - b1**t)))
        return out
