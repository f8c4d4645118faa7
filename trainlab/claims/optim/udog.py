"""Claims of `trainlab.optim.udog`: U-DoG's robustness to its initial step (DoG's digits task), and U-DoG /
DoG on the catalog's convex problems: untuned vs tuned SGD, r_eps insensitivity, U-DoG vs DoG.

udog-robust-initial-step (fixed before any run): the task, grids and settings of `dog-robust-initial-step`
(trainlab/claims/optim/extras.py; the shared recipe `digits_accuracy` / `sgd_lr_spread` is in _common.py):
digits (pixels / 16), ReLU MLP 64-64-64-10,
minibatch 64, 20 epochs (8 in quick mode). Treatment: U-DoG (lr = c = 1, alpha_const = 0.5, defaults;
no extra averaging: U-DoG's parameters already are its weighted average) at r_eps = reps_rel in
{1e-6, 1e-5, 1e-4, 1e-3, 1e-2}. Baseline: the DoG claim's own baseline arm (plain SGD at lr in
{1e-4, 1e-3, 1e-2, 1e-1}), the same `sgd_lr_spread`. Metric per seed: spread (max - min) of final
test accuracy over the grid, in points; the claim is that U-DoG's spread is at least 10 points smaller.
U-DoG evaluates two gradients per step on the same minibatch (closure), so it sees each batch twice; the
same batches, order and initialisation as the DoG claim (`digits_accuracy(..., closure=True)`).

Convex problems. Catalog hint (paper "Accelerated Parameter-Free Stochastic Optimization"): logistic
regression on standardized breast_cancer and least squares on diabetes, minibatch 32, 2k steps; untuned
DoG/U-DoG within 5% of SGD tuned over a 7-point lr grid; final loss changes < 2x as r_eps spans 1e-6..1e-2;
U-DoG <= DoG. The DoG half of the first claim is `dog-untuned-vs-tuned-sgd-convex` in
`claims/optim/extras.py`; the recipe (`convex_sgd_grid` and helpers) is in `claims/optim/_common.py`.

Settings (all fixed before any run):
- Data: sklearn's bundled `load_breast_cancer` / `load_diabetes`, the whole set, features z-scored with a
  StandardScaler fitted on the whole set (the loss is the training objective, so there is no test split;
  `trainlab.datasets.load("breast_cancer")` splits and has no diabetes, so sklearn is called directly).
  float64. Model: one linear layer (d -> 1, with bias), zero init. breast_cancer: BCE-with-logits on the
  0/1 label; diabetes: MSE on the z-scored target (initial loss 1.0).
- Training: 2000 steps (200 in quick mode) of minibatches of 32 drawn i.i.d. with replacement by a
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

Both problems in one claim, reporting the worse problem per seed. CHANGED for the evidence rule: losses are
expressed as ln(final loss / tuned SGD's final loss on the same problem and seed) ("log relative loss": a
ratio's skew would break the t interval, its log does not), and for each seed the problem on which
treatment - baseline is largest (worst for the claim) is the one whose two values are returned.
Minimum effect of the relative-loss claims: 0.01 in ln units (a 1% final-loss difference, the smallest gap
between two optimisers' final losses worth acting on; the claims' own tolerance is 5%). For the "within 5%"
(non-inferiority) claims the boundary of the claim is put into the baseline: baseline = ln(1.05) + 0.01, so
the rule says reproduced iff the mean log relative loss is at most ln(1.05) (the catalog's 5%) and
significantly below ln(1.05) + 0.01, and not reproduced iff it is significantly above ln(1.05).
1. udog-untuned-vs-tuned-sgd-convex: baseline = ln(1.05) + 0.01 (constant), treatment = U-DoG's log relative
   loss; lower. dog-untuned-vs-tuned-sgd-convex: the same with DoG.
2. udog-reps-insensitivity-convex: per problem log10(max / min final loss) over the grid; treatment = U-DoG
   over reps_rel in {1e-6, ..., 1e-2}, baseline = SGD over its 7 lrs (clamped at 1e6); lower, min_effect
   1.0 (U-DoG's spread at least one order of magnitude below SGD's: the catalog's "SGD changes by orders of
   magnitude" vs "< 2x"). The catalog's own "< 2x" for U-DoG (log10 < 0.30) is not part of the verdict; the
   report states it per seed.
3. udog-beats-dog-convex: log relative loss, DoG (baseline) vs U-DoG (treatment), untuned, same 2000 steps
   (U-DoG: 4000 gradient evaluations, DoG: 2000); lower. The claim "U-DoG <= DoG" is one of
   non-inferiority at margin 0: baseline = DoG's log relative loss + 0.01, so reproduced iff U-DoG's mean is
   at most DoG's and significantly below DoG's + 1%, not reproduced iff significantly above DoG's.
Gates (declared before any run): the "vs tuned SGD" claims have no premise (a direct comparison with the
catalog's grid; whether SGD's best lr is interior to the grid is recorded, not gated, see `_common.py`);
premise of the insensitivity claim,
SGD's log10 spread is >= 1.5 on both problems (at least min effect + 0.5: room for U-DoG's spread to be an
order of magnitude smaller); health, every arm's final loss (summed over the problems) is below 0.9 x the
initial loss (ln 2 + 1). udog-robust-initial-step has the gates of dog-robust-initial-step.
Cost: each (problem, seed) trains 7 SGD models side by side, one DoG and 5 U-DoG models side by side
(`_common.py`), memoised per process and shared by the four convex claims: ~20-25 CPU-s per seed for all of
them. Baseline measurement (seeds 0-2): SGD's log10 spread (worse problem) 2.09 / 2.12 / 1.89 (premise >=
1.5 on both problems holds); SGD's best lr was interior on both problems except seed 1 (one problem at the
grid's low end). U-DoG's digits grid ~5 CPU-s per run.
"""


from __future__ import annotations

from typing import Any, Mapping

from ...optim.udog import udog
from ..base import claim
from ..gates import loss_decreased, premise
from ._common import (
    CONVEX_COMMON,
    CONVEX_GATES,
    CONVEX_MIN_EFFECT,
    CONVEX_PROBLEMS,
    CONVEX_RELATIVE,
    DIGITS_GRID_CONFIG,
    DIGITS_GRID_GATES,
    DOG_PAPER,
    accuracy_spread,
    health,
    log10_spread,
    log_relative,
    sgd_losses,
    sgd_lr_spread,
    tuned_sgd,
    udog_losses,
    untuned_loss,
    vs_tuned_sgd,
    worse_problem,
)


@claim(
    name="udog-robust-initial-step",
    paper=DOG_PAPER,
    statement="U-DoG's final accuracy barely depends on its initial step r_eps over 4 orders of magnitude, "
              "while SGD's depends strongly on its learning rate over 3.",
    task="digits, MLP 64-64-64-10, minibatch 64, 20 epochs (the dog-robust-initial-step task)",
    baseline="SGD, spread of test accuracy over lr in {1e-4, 1e-3, 1e-2, 1e-1}",
    treatment="U-DoG (c = 1), spread of test accuracy over r_eps in {1e-6, ..., 1e-2}",
    metric="max - min final test accuracy over the grid (points)", direction="lower", min_effect=10.0,
    resolution=100 / 450, config=DIGITS_GRID_CONFIG, quick={"epochs": 8}, quick_seeds=2,
    gates=DIGITS_GRID_GATES,
    components=("udog",),
)
def udog_robust_initial_step(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm != "treatment":
        return sgd_lr_spread(seed, config)
    return accuracy_spread([lambda ps, r=r: udog(ps, reps_rel=r) for r in config["dog_reps_rel"]], seed, config,
                           closure=True)


@claim(
    name="udog-untuned-vs-tuned-sgd-convex",
    statement="Untuned U-DoG reaches a final loss within 5% of SGD tuned over a 7-point lr grid on "
              "logistic regression (breast_cancer) and least squares (diabetes).",
    baseline="ln(1.05) + 0.01: the 5% tolerance of tuned SGD (best of lr in {1e-3, ..., 1e3}) plus the min effect",
    treatment="U-DoG, defaults (reps_rel 1e-6, c = 1)", metric=CONVEX_RELATIVE,
    gates=CONVEX_GATES, components=("udog",), **CONVEX_COMMON,
)
def udog_untuned_vs_tuned_sgd_convex(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    return vs_tuned_sgd("udog", arm, seed, config)


SPREAD_PREMISE_CONVEX = 1.5


@claim(
    name="udog-reps-insensitivity-convex",
    statement="U-DoG's final loss varies at least an order of magnitude less over r_eps in {1e-6..1e-2} "
              "than SGD's over its 7-point lr grid (log10(max / min) at least 1 lower).",
    baseline="SGD, log10(max / min final loss) over lr in {1e-3, ..., 1e3} (diverged runs clamped to 1e6)",
    treatment="U-DoG, log10(max / min final loss) over reps_rel in {1e-6, ..., 1e-2}",
    metric="log10(max / min final full-set loss) over the grid, worse problem per seed",
    gates=(premise("sgd_spread_min", ">=", SPREAD_PREMISE_CONVEX,
                   "SGD's final loss varies by >= 1.5 orders of magnitude over its grid on both problems "
                   "(room for U-DoG's to vary 1 order less)"),
           loss_decreased()),
    components=("udog",), **{**CONVEX_COMMON, "min_effect": 1.0},
)
def udog_reps_insensitivity_convex(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    sgd = {p: log10_spread(sgd_losses(p, seed, config)) for p in CONVEX_PROBLEMS}
    pairs = [(sgd[p], log10_spread(udog_losses(p, seed, config))) for p in CONVEX_PROBLEMS]
    i = worse_problem(pairs)
    if arm == "baseline":
        return {"value": pairs[i][0], "sgd_spread_min": min(sgd.values()),
                **health({p: tuned_sgd(p, seed, config) for p in CONVEX_PROBLEMS})}
    return {"value": pairs[i][1], **health({p: untuned_loss(p, "udog", seed, config) for p in CONVEX_PROBLEMS})}


@claim(
    name="udog-beats-dog-convex",
    statement="On these smooth convex problems untuned U-DoG's final loss is at most DoG's (same 2000 steps; "
              "U-DoG uses twice the gradient evaluations).",
    baseline="DoG, defaults, 2000 steps (2000 gradients): its log relative loss + 0.01 (the min effect)",
    treatment="U-DoG, defaults, 2000 steps (4000 gradients)",
    metric=CONVEX_RELATIVE, gates=(loss_decreased(),), components=("udog", "dog"), **CONVEX_COMMON,
)
def udog_beats_dog_convex(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    pairs = [(log_relative(p, "dog", seed, config), log_relative(p, "udog", seed, config)) for p in CONVEX_PROBLEMS]
    i = worse_problem(pairs)
    opt = "dog" if arm == "baseline" else "udog"
    value = pairs[i][0] + CONVEX_MIN_EFFECT if arm == "baseline" else pairs[i][1]
    return {"value": value, **health({p: untuned_loss(p, opt, seed, config) for p in CONVEX_PROBLEMS})}
