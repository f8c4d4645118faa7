"""StableMax cross-entropy against softmax cross-entropy on modular addition without weight decay.

Set-up fixed before any run, from the official experiments (LucasPrietoAl/grokking-at-the-edge-of-numerical-
stability: one-hot concatenated operands, a bias-free ReLU MLP with hidden sizes (200, 200), full batch, AdamW
with weight decay 0, lr 0.01, betas (0.9, 0.99) (its default beta2; its Fig. 1 StableMax run uses 0.999, kept
at 0.99 here so that only the loss differs between the arms), eps 1e-25, float32 model, StableMax loss computed
in float64) shrunk to this machine as the catalog suggests: p = 59 instead of 113, 40% train split, 5000
full-batch steps (100 in quick mode) instead of 80000. Only the loss differs between the arms. The recipe and
the baseline run are shared with orthograd-modular-addition (`claims/optim/_common.py`, `modular_run`); the
first layer is computed by gathering weight columns instead of a one-hot matmul (same function and
gradients, ~2x faster).
Metric: final test accuracy (%, 2,089 test pairs: resolution 0.048 points); the claim is a >= 30-point gain
(the catalog's). Gates (declared before any run): premises (baseline arm), the softmax baseline memorises
(mean train accuracy >= 99%) and its test accuracy stalls (mean <= 65%: room for the 30-point gain), the
catalog's "test acc stalls"; health, each arm's training loss (its own loss) falls. The catalog's other
condition, softmax collapse > 50%, is recorded ("softmax_collapse"), not gated: measured on the baseline arm
(seeds 0-2) at 5000 steps the softmax model had 100% train and 0-0.05% test accuracy with a training loss of
~1e-5, but no collapsed example yet (the paper's collapse comes later in its 80k-step runs).
Cost: ~50 CPU-s per baseline run, ~65-80 per StableMax run (300-step timing on a non-evidence seed): 5 seeds.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...losses import StableMaxCrossEntropy
from ..base import claim
from ..optim._common import (
    GROKKING_EDGE,
    MODULAR_CONFIG,
    MODULAR_GATES,
    MODULAR_QUICK,
    MODULAR_SEEDS_REASON,
    MODULAR_TASK,
    modular_adamw,
    modular_run,
    modular_softmax_baseline,
)


@claim(
    name="stablemax-modular-addition",
    paper=GROKKING_EDGE,
    statement="Without weight decay, StableMax cross-entropy generalises on modular addition where softmax "
              "cross-entropy stalls: >= 30 points higher test accuracy.",
    task=MODULAR_TASK,
    baseline="softmax cross-entropy (float32)", treatment="StableMax cross-entropy (float64)",
    metric="test accuracy (%)", direction="higher", min_effect=30.0, resolution=100 / 2089,
    config=MODULAR_CONFIG, quick=MODULAR_QUICK, quick_seeds=2, gates=MODULAR_GATES, seeds=5,
    seeds_reason=MODULAR_SEEDS_REASON,
    components=("stablemax_ce", "softmax_collapse_fraction"),
)
def stablemax_modular_addition(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm != "treatment":
        return modular_softmax_baseline(seed, config)
    return modular_run(modular_adamw(config), StableMaxCrossEntropy(dtype="float64"), seed, config)
