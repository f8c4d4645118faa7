"""U-DoG / DoG on the catalog's convex problems: untuned vs tuned SGD, r_eps insensitivity, U-DoG vs DoG.

Catalog hint (paper "Accelerated Parameter-Free Stochastic Optimization"): logistic regression on
standardized breast_cancer and least squares on diabetes, minibatch 32, 2k steps; untuned DoG/U-DoG within
5% of SGD tuned over a 7-point lr grid; final loss changes < 2x as r_eps spans 1e-6..1e-2; U-DoG <= DoG.

Settings (all fixed before any run):
- Data: sklearn's bundled `load_breast_cancer` / `load_diabetes`, the whole set, features z-scored with a
  StandardScaler fitted on the whole set (the loss is the training objective, so there is no test split;
  `trainlab.datasets.load("breast_cancer")` splits and has no diabetes, so sklearn is called directly).
  float64. Model: one linear layer (d -> 1, with bias), zero init. breast_cancer: BCE-with-logits on the
  0/1 label; diabetes: MSE on the z-scored target (initial loss 1.0).
- Training: 2000 steps (500 in quick mode) of minibatches of 32 drawn i.i.d. with replacement by a
  generator seeded with `seed` (the same batch sequence for every optimizer; the seed only changes the
  batches). U-DoG evaluates both of its gradients on the step's one minibatch (closure), so for the same
  2000 STEPS it uses twice DoG's / SGD's gradient evaluations.
- Final loss: full-training-set loss at the last iterate (U-DoG's parameters are its weighted average;
  DoG has no averaging here). A non-finite or larger than 1e6 final loss is clamped to 1e6 (a diverged SGD).
- SGD: plain (no momentum, constant lr) over the 7-point grid lr in {1e-3, 1e-2, ..., 1e3} (decades). With
  z-scored features the smoothness constants are O(1)-O(10) (logistic: lambda_max(X^T X / n) / 4, a few;
  MSE: 2 lambda_max, ~10), so the grid brackets 1 / L by about 3 decades on both sides and tuned SGD's best
  lr is within sqrt(10) of any optimum lr on the grid's scale. "Tuned SGD" = the grid point with the lowest
  final loss, per problem and seed (chosen on the reported loss itself: favours the baseline).
- DoG and U-DoG untuned: their defaults (c = lr = 1, reps_rel = 1e-6; U-DoG alpha_const 0.5).

Both problems in one claim, reporting the worse problem per seed: losses are expressed relative to tuned
SGD's final loss on the same problem and seed ("relative loss"), and for each seed the problem on which
treatment - baseline is largest (worst for the claim) is the one whose two values are returned.
1. udog-untuned-vs-tuned-sgd-convex: baseline = 1.05 (1.05 x tuned SGD, in relative units: constant),
   treatment = U-DoG's relative loss; lower, min_effect 0: reproduced iff U-DoG < 1.05 x tuned SGD with
   the CI excluding 0. dog-untuned-vs-tuned-sgd-convex: the same with DoG.
2. udog-reps-insensitivity-convex: per problem log10(max / min final loss) over the grid; treatment = U-DoG
   over reps_rel in {1e-6, ..., 1e-2}, baseline = SGD over its 7 lrs (clamped at 1e6); lower, min_effect
   1.0 (U-DoG's spread at least one order of magnitude below SGD's). The catalog's own "< 2x" for U-DoG
   (log10 < 0.30) is not part of the verdict; the report states it per seed.
3. udog-beats-dog-convex: relative loss, DoG (baseline) vs U-DoG (treatment), untuned, same 2000 steps
   (U-DoG: 4000 gradient evaluations, DoG: 2000); lower, min_effect 0.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler
from torch import Tensor, nn

from ..optim.extras import dog
from ..optim.udog import udog
from .base import claim
from .optim_extras import DOG_PAPER

PROBLEMS = ("breast_cancer", "diabetes")
CLAMP = 1e6
CONFIG = {"steps": 2000, "batch_size": 32, "sgd_lrs": [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0],
          "reps_rel": 1e-6, "reps_grid": [1e-6, 1e-5, 1e-4, 1e-3, 1e-2], "tolerance": 1.05}
QUICK = {"steps": 500}
TASK = ("logistic regression on z-scored breast_cancer and least squares on diabetes (z-scored target), "
        "linear, zero init, float64, minibatch 32, 2000 steps")


@lru_cache(maxsize=2)
def _data(problem: str) -> tuple[Tensor, Tensor]:
    """Whole set, z-scored: x (N, d) float64, y (N, 1) float64 (0/1 labels or the z-scored target)."""
    if problem == "breast_cancer":
        x, y = load_breast_cancer(return_X_y=True)
    elif problem == "diabetes":
        x, y = load_diabetes(return_X_y=True)
        y = StandardScaler().fit_transform(y.reshape(-1, 1)).ravel()
    else:
        raise ValueError(f"problem must be one of {PROBLEMS}, got {problem!r}")
    x = StandardScaler().fit_transform(x)
    return torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64).reshape(-1, 1)


def _loss(problem: str, out: Tensor, y: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(out, y) if problem == "breast_cancer" else F.mse_loss(out, y)


@lru_cache(maxsize=512)
def final_loss(problem: str, opt: str, value: float, seed: int, steps: int, batch_size: int) -> float:
    """Full-set loss after `steps` minibatch steps of `opt` ("sgd": lr = value; "dog"/"udog": reps_rel = value)."""
    x, y = _data(problem)
    torch.manual_seed(seed)
    model = nn.Linear(x.shape[1], 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    if opt == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=value)
    elif opt == "dog":
        optimizer = dog(model.parameters(), reps_rel=value)
    elif opt == "udog":
        optimizer = udog(model.parameters(), reps_rel=value)
    else:
        raise ValueError(f"opt must be 'sgd', 'dog' or 'udog', got {opt!r}")
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(x), (batch_size,), generator=gen)  # (batch_size,) i.i.d. with replacement

        def closure(idx: Tensor = idx) -> Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = _loss(problem, model(x[idx]), y[idx])
            loss.backward()
            return loss

        if opt == "udog":
            optimizer.step(closure)
            continue
        loss = closure()
        if not math.isfinite(loss.item()):  # diverged SGD: the result is clamped anyway
            return CLAMP
        optimizer.step()
    with torch.no_grad():
        value = _loss(problem, model(x), y).item()
    return value if math.isfinite(value) and value < CLAMP else CLAMP


def _fl(problem: str, opt: str, value: float, seed: int, config: Mapping[str, Any]) -> float:
    return final_loss(problem, opt, float(value), seed, int(config["steps"]), int(config["batch_size"]))


def tuned_sgd(problem: str, seed: int, config: Mapping[str, Any]) -> float:
    """Lowest final loss of SGD over the lr grid."""
    return min(_fl(problem, "sgd", lr, seed, config) for lr in config["sgd_lrs"])


def _worse(arm: str, pairs: list[tuple[float, float]]) -> float:
    """Given (baseline, treatment) per problem, return `arm`'s value on the problem worst for the claim."""
    b, t = max(pairs, key=lambda bt: bt[1] - bt[0])
    return b if arm == "baseline" else t


def _vs_tuned_sgd(opt: str, arm: str, seed: int, config: Mapping[str, Any]) -> float:
    if arm == "baseline":
        return float(config["tolerance"])  # 1.05 x tuned SGD / tuned SGD, on every problem
    return max(_fl(p, opt, config["reps_rel"], seed, config) / tuned_sgd(p, seed, config) for p in PROBLEMS)


_COMMON = dict(paper=DOG_PAPER, task=TASK, direction="lower", min_effect=0.0, config=CONFIG, quick=QUICK,
               seeds=3, quick_seeds=2)
_REL = "final full-set loss / tuned-SGD final loss (same problem and seed), worse problem per seed"


@claim(
    name="udog-untuned-vs-tuned-sgd-convex",
    statement="Untuned U-DoG reaches a final loss within 5% of SGD tuned over a 7-point lr grid on "
              "logistic regression (breast_cancer) and least squares (diabetes).",
    baseline="1.05 x tuned SGD (best of lr in {1e-3, ..., 1e3}), i.e. 1.05 in relative units",
    treatment="U-DoG, defaults (reps_rel 1e-6, c = 1)", metric=_REL,
    components=("udog",), **_COMMON,
)
def udog_untuned_vs_tuned_sgd_convex(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return _vs_tuned_sgd("udog", arm, seed, config)


@claim(
    name="dog-untuned-vs-tuned-sgd-convex",
    statement="Untuned DoG reaches a final loss within 5% of SGD tuned over a 7-point lr grid on "
              "logistic regression (breast_cancer) and least squares (diabetes).",
    baseline="1.05 x tuned SGD (best of lr in {1e-3, ..., 1e3}), i.e. 1.05 in relative units",
    treatment="DoG, defaults (reps_rel 1e-6, c = 1), last iterate", metric=_REL,
    components=("dog",), **_COMMON,
)
def dog_untuned_vs_tuned_sgd_convex(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return _vs_tuned_sgd("dog", arm, seed, config)


def _log_spread(values: list[float]) -> float:
    return math.log10(max(values) / min(values))


@claim(
    name="udog-reps-insensitivity-convex",
    statement="U-DoG's final loss varies at least an order of magnitude less over r_eps in {1e-6..1e-2} "
              "than SGD's over its 7-point lr grid (log10(max / min) at least 1 lower).",
    baseline="SGD, log10(max / min final loss) over lr in {1e-3, ..., 1e3} (diverged runs clamped to 1e6)",
    treatment="U-DoG, log10(max / min final loss) over reps_rel in {1e-6, ..., 1e-2}",
    metric="log10(max / min final full-set loss) over the grid, worse problem per seed",
    components=("udog",), **{**_COMMON, "min_effect": 1.0},
)
def udog_reps_insensitivity_convex(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    pairs = [(_log_spread([_fl(p, "sgd", lr, seed, config) for lr in config["sgd_lrs"]]),
              _log_spread([_fl(p, "udog", r, seed, config) for r in config["reps_grid"]])) for p in PROBLEMS]
    return _worse(arm, pairs)


@claim(
    name="udog-beats-dog-convex",
    statement="On these smooth convex problems untuned U-DoG's final loss is at most DoG's (same 2000 steps; "
              "U-DoG uses twice the gradient evaluations).",
    baseline="DoG, defaults, 2000 steps (2000 gradients)", treatment="U-DoG, defaults, 2000 steps (4000 gradients)",
    metric=_REL, components=("udog", "dog"), **_COMMON,
)
def udog_beats_dog_convex(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    pairs = [tuple(_fl(p, o, config["reps_rel"], seed, config) / tuned_sgd(p, seed, config) for o in ("dog", "udog"))
             for p in PROBLEMS]
    return _worse(arm, pairs)  # type: ignore[arg-type]
