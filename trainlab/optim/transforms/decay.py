"""Decoupled weight decay as a transform."""

from __future__ import annotations

from typing import Any

import torch

from ..base import Transform, check_range


class AddDecayedWeights(Transform):
    """Decoupled weight decay: add `weight_decay * p` to the update before lr is applied.

    Update rule: u <- u + wd p, so the chain's step is p <- p - lr (u + wd p) = (1 - lr wd) p - lr u,
    AdamW's rule (the decay is multiplied by lr, not by the adaptive scaling).

    Two float orderings of that same rule exist, and they round differently (~1e-6 apart after a few
    hundred steps). `shrink_params=False` computes p - lr (u + wd p), as AdEMAMix's official code
    does; `shrink_params=True` computes p (1 - lr wd) - lr u, writing the parameter in place as
    `torch.optim.AdamW` does, so trajectories agree with torch to rounding. With `shrink_params=True`
    the transform writes the parameters: place it last, after every transform that reads them.

    Args:
        weight_decay: the coefficient (>= 0); per-group values work as in torch.
        shrink_params: use torch AdamW's in-place ordering (see above).

    Example:
        >>> opt = Chain(params, [ScaleByAdam(), AddDecayedWeights(weight_decay=0.01)], lr=1e-3)

    Reference: Decoupled Weight Decay Regularization, arXiv 1711.05101.
    """

    name = "add_decayed_weights"
    elementwise = True  # per-element math: trainlab.optim.compiled may run it on flat buffers

    def __init__(self, weight_decay: float = 0.0, shrink_params: bool = False) -> None:
        super().__init__(weight_decay=weight_decay)
        self.shrink_params = bool(shrink_params)

    def check(self, group: dict[str, Any]) -> None:
        check_range("weight_decay", group["weight_decay"], 0.0, float("inf"))

    def passes_deferred(self, group: dict[str, Any]) -> bool:
        return self.shrink_params or group["weight_decay"] == 0

    def update(self, updates, params, states, *, steps, group):
        wd = group["weight_decay"]
        if wd == 0:
            return updates
        if self.shrink_params:
            torch._foreach_mul_(params, 1 - group["lr"] * wd)
            return updates
        return list(torch._foreach_add(updates, params, alpha=wd))
