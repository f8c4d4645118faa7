"""Bilevel hyperparameter optimisation by IFT + Neumann hypergradients (Lorraine et al.).

Set-ups fixed before any run (catalog hints; the papers' exact inner/outer optimiser settings were not
verified against the official code, so these are this file's choices, written down before running):

IFT (row 197): digits (pixels / 16), 100 training and 300 validation examples drawn from the training
split, the 450-example test split for evaluation; multinomial logistic regression W (64x10) + b (10), one L2
coefficient per weight (650 hyperparameters), L_T = mean CE + 1/2 sum_i lam_i w_i^2, lam = exp(h).
Treatment (the paper's Algorithm 1): h starts at log(1e-3); 200 full-batch GD warm-up steps (lr 0.1), then 200
rounds of [10 GD steps on w, one hyper-step: IFT hypergradient of the validation CE with Neumann K=20,
alpha=0.1 (= the inner lr, as in the official code's `elementary_lr`), Adam(lr=0.1) on h]. Baselines train the
same 2200 GD steps with a fixed global lam: lam=0 (untuned) or the grid {0, 1e-4, 1e-3, 1e-2, 1e-1, 1} point
with the lowest validation CE. Metric: test CE (nats), lower is better.
CHANGED for the evidence rule (min effect 0 is no longer allowed; the paper gives no effect size at this
scale): min effect 0.01 nats for both claims, ~2-3% of the untuned test loss here, the smallest test-loss
change worth acting on when tuning regularisation. vs-untuned is a superiority claim (tuned at least 0.01
below lam = 0). vs-grid ("no higher than the best grid point") is non-inferiority at margin 0: its baseline
is the best grid point's test CE + 0.01, so the rule says reproduced iff tuned's mean is at most the best
grid point's and significantly below it + 0.01, not reproduced iff significantly above it.
Gates (declared before any run): premise (baseline arm), L2 matters on this task: lam = 0's validation CE
exceeds the best grid point's by at least 0.01 nats (else there is nothing for tuning to gain); health,
each arm's final training loss is below 0.9x the initial ln 10 (w = 0).
Baseline measurement (seeds 0-1, before the evidence run): the best grid point by validation CE is lam = 0
on both seeds (l2_gain 0.0; lam = 1e-4 val CE 0.418 vs 0.417 at lam = 0, larger lam worse, also with 5x
longer inner training), so the premise is expected to fail and both verdicts to be "not testable here":
this small logistic regression, trained from zero for 2,200 GD steps, does not overfit its validation loss.
Cost ~10-11 CPU-s per seed (the tuned run and the 6 grid runs, shared by both claims and arms in a process).
CHANGED AFTER A RUN: the first full run crashed (seed 0, round 171: a lam_i passed 20, so lr * lam > 2 and the
inner GD diverged to inf). log lam is now projected to <= log(1 / lr) after every hyper-step (lr * lam <= 1);
this bound is never reached in the quick setting, whose results are unchanged by it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...bilevel.implicit import ift_hypergradient
from ...datasets import load
from ..base import claim
from ..gates import loss_decreased, premise


IFT_PAPER = "Optimizing Millions of Hyperparameters by Implicit Differentiation"


def _digits(seed: int, n_train: int, n_val: int):
    x, y, x_te, y_te = load("digits", seed=seed)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    tr, va = perm[:n_train], perm[n_train:n_train + n_val]
    return x[tr], y[tr], x[va], y[va], x_te, y_te


def _logreg_ce(w: tuple[torch.Tensor, ...], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(x @ w[0] + w[1], y)  # w[0]: (d, C), w[1]: (C,)


def _ift_train(seed: int, config: Mapping[str, Any], fixed_lam: float | None) -> tuple[float, float, float]:
    """Returns (validation CE, test CE, training CE) after training with a fixed global lam or with IFT-tuned
    per-weight lam."""
    torch.manual_seed(seed)
    x, y, xv, yv, xt, yt = _digits(seed, config["n_train"], config["n_val"])
    w = (torch.zeros(64, 10), torch.zeros(10))
    init = config["lam_init"] if fixed_lam is None else max(fixed_lam, 1e-30)
    h = (torch.full((64, 10), math.log(init)), torch.full((10,), math.log(init)))
    zero = fixed_lam == 0.0

    def train_loss(ws, hs):
        pen = sum((hi.exp() * wi**2).sum() for wi, hi in zip(ws, hs))
        return _logreg_ce(ws, x, y) + (0.0 if zero else 0.5 * pen)

    def val_loss(ws, hs):
        return _logreg_ce(ws, xv, yv)

    def gd(ws, n):
        for _ in range(n):
            wr = tuple(t.detach().requires_grad_(True) for t in ws)
            g = torch.autograd.grad(train_loss(wr, h), wr)
            ws = tuple((a - config["lr"] * b).detach() for a, b in zip(wr, g))
        return ws

    w = gd(w, config["warmup"])
    hyper = [t.clone().requires_grad_(True) for t in h] if fixed_lam is None else None
    opt = torch.optim.Adam(hyper, lr=config["hyper_lr"]) if hyper is not None else None
    for _ in range(config["rounds"]):
        w = gd(w, config["inner"])
        if opt is not None:
            grads = ift_hypergradient(train_loss, val_loss, w, tuple(t.detach() for t in hyper),
                                      neumann_steps=config["neumann_steps"], alpha=config["lr"])
            for p, g in zip(hyper, grads):
                p.grad = g
            opt.step()
            with torch.no_grad():  # keep lr * lam <= 1: the inner GD step on the penalty diverges for lr * lam > 2
                for t in hyper:
                    t.clamp_(max=math.log(1.0 / config["lr"]))
            h = tuple(t.detach().clone() for t in hyper)
    with torch.no_grad():
        return _logreg_ce(w, xv, yv).item(), _logreg_ce(w, xt, yt).item(), _logreg_ce(w, x, y).item()


@lru_cache(maxsize=32)
def _ift_cached(seed: int, key: tuple) -> dict[str, tuple[float, float, float]]:
    """(val CE, test CE, train CE) of the tuned run ("tuned"), lam = 0 ("untuned") and the grid point with the
    lowest validation CE ("best") for one seed."""
    config = dict(key)
    tuned = _ift_train(seed, config, None)
    grid = {lam: _ift_train(seed, config, lam) for lam in config["grid"]}
    best = min(grid, key=lambda lam: grid[lam][0])  # selected on validation CE
    return {"tuned": tuned, "untuned": grid[0.0], "best": grid[best]}


IFT_CONFIG = {"n_train": 100, "n_val": 300, "lam_init": 1e-3, "lr": 0.1, "warmup": 200, "inner": 10, "rounds": 200,
              "neumann_steps": 20, "hyper_lr": 0.1, "grid": (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)}
IFT_QUICK = {"warmup": 100, "rounds": 20}
IFT_MIN_EFFECT = 0.01
_IFT_COMMON = dict(
    paper=IFT_PAPER, task="digits, 100 train / 300 val, logistic regression with 650 per-weight L2 coefficients",
    treatment="IFT + Neumann(K=20) hypergradients, Adam(0.1) on log lam, 200 rounds of 10 GD steps",
    metric="test cross-entropy (nats)", direction="lower", min_effect=IFT_MIN_EFFECT, config=IFT_CONFIG, quick=IFT_QUICK,
    quick_seeds=2, components=("ift_hypergradient", "neumann_inverse_hvp"),
    gates=(premise("l2_gain", ">=", IFT_MIN_EFFECT,
                   "L2 matters here: lam = 0's validation CE exceeds the best grid point's by >= 0.01 nats"),
           loss_decreased()),
)


def _ift_key(config: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in config.items()))


def _record(arm: str, baseline: str, seed: int, config: Mapping[str, Any], margin: float = 0.0) -> dict[str, float]:
    """The arm's test CE (+ `margin` on the baseline arm), its training CE first (ln 10 at w = 0) and last, and
    on the baseline arm the premise's validation-CE gain of the best grid point over lam = 0."""
    runs = _ift_cached(seed, _ift_key(config))
    run = runs["tuned"] if arm == "treatment" else runs[baseline]
    out = {"value": run[1] + (margin if arm == "baseline" else 0.0), "loss_first": math.log(10), "loss_last": run[2]}
    if arm == "baseline":
        out["l2_gain"] = runs["untuned"][0] - runs["best"][0]
    return out


@claim(name="ift-per-weight-l2-digits-vs-untuned", baseline="the same training with lam = 0 (untuned)",
       statement="Per-weight L2 coefficients tuned by IFT hypergradients give a lower test loss than no "
                 "regularisation (lam = 0) on a small digits training set.", **_IFT_COMMON)
def ift_vs_untuned(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    return _record(arm, "untuned", seed, config)


@claim(name="ift-per-weight-l2-digits-vs-grid",
       baseline="best global lam of a 6-point grid (chosen on val CE): its test CE + 0.01 (the min effect)",
       statement="Per-weight L2 coefficients tuned by IFT hypergradients reach a test loss no higher than the "
                 "best single global L2 coefficient from a 6-point grid.", **_IFT_COMMON)
def ift_vs_grid(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    return _record(arm, "best", seed, config, margin=IFT_MIN_EFFECT)
