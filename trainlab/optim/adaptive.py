"""Registered Adam-family optimizers: AMSGrad, Grams, EXAdam, AdaBound/AMSBound, Optimistic AMSGrad,
AdaMomentum (SPAM and Stable-SPAM are in `spam.py`).

Each factory keeps the official code's argument names and defaults (plus `nonfinite`), and is a
short chain of transforms, except AMSGrad, which is torch's own `Adam(amsgrad=True)`.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from ..registry import register
from .base import Chain, check_betas, check_range
from .transforms.adaptive import (
    ScaleByAdaBound, ScaleByAdaMomentum, ScaleByEXAdam, ScaleByGrams, ScaleByOptimisticAMSGrad,
)
from .transforms.decay import AddDecayedWeights
from .wrap import WithTransforms, with_transforms

AMSGRAD = "On the Convergence of Adam and Beyond"
GRAMS = "Grams: Gradient Descent with Adaptive Momentum Scaling"
EXADAM = "EXAdam: The Power of Adaptive Cross-Moments"
ADABOUND = "Adaptive Gradient Methods with Dynamic Bound of Learning Rate"
OPT_AMSGRAD = "An Optimistic Acceleration of AMSGrad for Nonconvex Optimization"
ADAMOMENTUM = "Rethinking Adam: A Twofold Exponential Moving Average Approach"


@register("optimizer", "amsgrad", paper=AMSGRAD, arxiv="1904.09237")
def amsgrad(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    foreach: bool | None = None,
    nonfinite: str = "raise",
) -> WithTransforms:
    """AMSGrad: Adam with the running maximum of the second moment (torch's `Adam(amsgrad=True)`).

    Update rule: m, v as in Adam; vmax <- max(vmax, v); p <- p - lr m_hat / (sqrt(vmax / (1 - b2^t)) + eps).
    This is torch's implementation (bias-corrected, weight decay coupled as L2 like `torch.optim.Adam`),
    wrapped by `with_transforms` with no transforms so that trainlab's checks apply: ValueError
    naming bad hyperparameters (torch's messages do not name them, and non-numeric betas raise
    TypeError there), FloatingPointError on NaN/Inf gradients (torch propagates them), ValueError on
    sparse gradients and complex parameters (torch's Adam raises RuntimeError / optimises complex).
    `opt.base` is the torch optimizer. The paper's analysis has no bias correction; torch's has.

    Example:
        >>> opt = trainlab.create("amsgrad", model.parameters(), lr=1e-3)

    Reference: On the Convergence of Adam and Beyond, arXiv 1904.09237 (ICLR 2018).
    """
    group = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
    check_range("lr", lr, 0.0, float("inf"))
    check_betas(group, 2)
    check_range("eps", eps, 0.0, float("inf"))
    check_range("weight_decay", weight_decay, 0.0, float("inf"))
    base = torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                            amsgrad=True, foreach=foreach)
    return with_transforms(base, nonfinite=nonfinite)


@register("optimizer", "grams", paper=GRAMS, arxiv="2412.17107", code="https://github.com/Gunale0926/Grams")
def grams(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    nonfinite: str = "raise",
) -> Chain:
    """Grams: the Adam step's magnitude with the current gradient's sign, decoupled weight decay.

    Update rule: u = m_hat / (sqrt(v_hat) + eps); p <- p - lr (sign(g) |u| + weight_decay p)
    (the paper's Algorithm 1). eps defaults to 1e-6 as in the grams-pytorch package and its ports.

    Example:
        >>> opt = trainlab.create("grams", model.parameters(), lr=1e-3)

    Reference: Grams: Gradient Descent with Adaptive Momentum Scaling, arXiv 2412.17107.
    """
    return Chain(params, [ScaleByGrams(betas, eps), AddDecayedWeights(weight_decay)], lr=lr, nonfinite=nonfinite)


@register("optimizer", "exadam", paper=EXADAM, arxiv="2412.20302", code="https://github.com/AhmedMostafa16/EXAdam")
def exadam(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    nonfinite: str = "raise",
) -> Chain:
    """EXAdam: cross-moment debiasing plus gradient acceleration (see `ScaleByEXAdam`).

    Update rule: p <- p (1 - lr weight_decay) - lr (m~ + g~) / (sqrt(v~) + eps). As in the official
    code, weight decay is decoupled and applied before the step, and lr is constant (no ln schedule).

    Example:
        >>> opt = trainlab.create("exadam", model.parameters(), lr=1e-3)

    Reference: EXAdam: The Power of Adaptive Cross-Moments, arXiv 2412.20302.
    """
    chain = [ScaleByEXAdam(betas, eps), AddDecayedWeights(weight_decay, shrink_params=True)]
    return Chain(params, chain, lr=lr, nonfinite=nonfinite)


@register("optimizer", "adabound", paper=ADABOUND, arxiv="1902.09843", code="https://github.com/Luolc/AdaBound",
          flags=("sgd_limit",))
@register("optimizer", "amsbound", paper=ADABOUND, arxiv="1902.09843", code="https://github.com/Luolc/AdaBound",
          flags=("sgd_limit",),
          bind={"amsbound": True}, summary="AMSBound: AdaBound with the running maximum of the second moment.")
def adabound(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    final_lr: float = 0.1,
    gamma: float = 1e-3,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsbound: bool = False,
    nonfinite: str = "raise",
) -> Chain:
    """AdaBound / AMSBound: Adam whose per-coordinate step is clipped into bounds converging to final_lr.

    Chain: L2 weight decay (g <- g + wd p, coupled, as in the official `AdaBound` class) ->
    `ScaleByAdaBound`. See that transform for the bounds and how lr schedules scale them.

    Example:
        >>> opt = trainlab.create("adabound", model.parameters(), lr=1e-3, final_lr=0.1)

    Reference: Adaptive Gradient Methods with Dynamic Bound of Learning Rate, arXiv 1902.09843.
    """
    chain = [AddDecayedWeights(weight_decay), ScaleByAdaBound(betas, final_lr, gamma, eps, amsbound)]
    return Chain(params, chain, lr=lr, nonfinite=nonfinite)


@register("optimizer", "optimistic_amsgrad", paper=OPT_AMSGRAD, arxiv="1903.01435")
def optimistic_amsgrad(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    extrapolation_r: int = 0,
    extrapolation_reg: float = 1e-3,
    nonfinite: str = "raise",
) -> Chain:
    """Optimistic AMSGrad: AMSGrad plus a step along the predicted next gradient (`ScaleByOptimisticAMSGrad`).

    Update rule: see the transform; weight decay (not in the paper) is decoupled: u <- u + wd p.
    `extrapolation_r=0` guesses the next gradient by the last one; r >= 1 uses the paper's
    extrapolation of the last r + 1 gradients (regularised by `extrapolation_reg`).

    Example:
        >>> opt = trainlab.create("optimistic_amsgrad", model.parameters(), lr=1e-3)

    Reference: An Optimistic Acceleration of AMSGrad for Nonconvex Optimization, arXiv 1903.01435.
    """
    chain = [ScaleByOptimisticAMSGrad(betas, eps, extrapolation_r, extrapolation_reg), AddDecayedWeights(weight_decay)]
    return Chain(params, chain, lr=lr, nonfinite=nonfinite)


@register("optimizer", "adamomentum", paper=ADAMOMENTUM, arxiv="2106.11514")
def adamomentum(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    nonfinite: str = "raise",
) -> Chain:
    """AdaMomentum: Adam with the momentum (not the gradient) squared in the second moment.

    Update rule: v <- b2 v + (1 - b2) m^2 + eps; p <- p (1 - lr wd) - lr m_hat / sqrt(v_hat)
    (decoupled weight decay applied before the step, as in the AdaBelief-derived reference code).

    Example:
        >>> opt = trainlab.create("adamomentum", model.parameters(), lr=1e-3)

    Reference: Rethinking Adam: A Twofold Exponential Moving Average Approach, arXiv 2106.11514.
    """
    chain = [ScaleByAdaMomentum(betas, eps), AddDecayedWeights(weight_decay, shrink_params=True)]
    return Chain(params, chain, lr=lr, nonfinite=nonfinite)
