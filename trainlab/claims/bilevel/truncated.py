"""Bilevel hyperparameter optimisation by K-step truncated reverse-mode differentiation (Shaban et al.).

Set-ups fixed before any run (catalog hints; the papers' exact inner/outer optimiser settings were not
verified against the official code, so these are this file's choices, written down before running):

Truncated RMD (row 308): breast_cancer (z-scored), its training split halved into train / validation by a
seeded permutation, logistic regression w (30) + b, per-feature L2 lam = exp(h) (30 hyperparameters, bias
unpenalised), h starts at log(1e-2); inner T=100 full-batch GD steps from w=0 with lr 0.1; outer 50 Adam(lr=0.1)
steps on h. (a) cosine of the K=10 hypergradient with the K=T one at the initial lam (direction higher).
(b) validation CE after 50 outer steps with K=10 vs full K=T (direction lower). The memory saving is not
measured.
CHANGED for the evidence rule (min effect 0 is no longer allowed); both claims are of non-inferiority, with
the claim's boundary put into the baseline arm:
(a) min effect 0.01 (a cosine difference below that is not worth reading into); baseline = 0.9 - 0.01, so
    the rule says reproduced iff the mean cosine is >= 0.9 (the catalog's) and significantly above 0.89, not
    reproduced iff it is significantly below 0.9.
(b) metric ln(validation CE) (the 2% margin is a ratio: its log); min effect 0.01 (1%, half the margin);
    baseline = ln(full-backprop val CE) + ln(1.02) + 0.01, so the rule says reproduced iff K=10's mean val CE
    is within 2% of full backprop's (mean log ratio <= ln 1.02) and significantly within 3%, not reproduced
    iff significantly more than 2% above it.
Gates (declared before any run): health, the inner problem trains: the validation CE after the T inner
steps is below 0.9x its value at w = 0 (ln 2), in both arms; premise of (b) (baseline arm), tuning matters:
full-backprop tuning lowers the validation CE by at least 1% (ln of the CE at the initial lam over the CE
after the 50 outer steps >= 0.01), else a truncated hypergradient has nothing to lose.
Baseline measurement (seeds 0-2): tuning gain 0.103 / 0.062 / 0.056; inner val CE 0.69 -> ~0.10; full-backprop
tuning ~9-10 CPU-s per run, K=10 ~7; the cosine claim < 2 CPU-s per run (second look at 20 seeds declared).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...bilevel.truncated import truncated_hypergradient
from ...datasets import load
from ..base import claim
from ..gates import loss_decreased, premise


TRMD_PAPER = "Truncated Back-propagation for Bilevel Optimization"


def _cancer(seed: int):
    x, y, _, _ = load("breast_cancer", seed=seed)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    half = len(x) // 2
    return x[perm[:half]], y[perm[:half]].float(), x[perm[half:]], y[perm[half:]].float()


def _cancer_losses(x, y, xv, yv):
    def train_loss(ws, hs):
        return F.binary_cross_entropy_with_logits(x @ ws[0] + ws[1], y) + 0.5 * (hs[0].exp() * ws[0] ** 2).sum()

    def val_loss(ws, hs):
        return F.binary_cross_entropy_with_logits(xv @ ws[0] + ws[1], yv)

    return train_loss, val_loss


def _trmd_tune(seed: int, config: Mapping[str, Any], truncate: int) -> tuple[float, float]:
    """(validation CE at the initial lam, validation CE after the outer steps with K = `truncate`), each after
    T inner GD steps from w = 0."""
    torch.manual_seed(seed)
    train_loss, val_loss = _cancer_losses(*_cancer(seed))
    w0 = (torch.zeros(30), torch.zeros(()))
    h = torch.full((30,), math.log(config["lam_init"]), requires_grad=True)
    start = truncated_hypergradient(train_loss, val_loss, w0, (h.detach(),), steps=config["T"], lr=config["lr"],
                                    truncate=0).val_loss
    opt = torch.optim.Adam([h], lr=config["hyper_lr"])
    for _ in range(config["outer_steps"]):
        out = truncated_hypergradient(train_loss, val_loss, w0, (h.detach(),), steps=config["T"], lr=config["lr"],
                                      truncate=truncate)
        h.grad = out.hypergrad[0]
        opt.step()
    return start, truncated_hypergradient(train_loss, val_loss, w0, (h.detach(),), steps=config["T"], lr=config["lr"],
                                          truncate=0).val_loss


TRMD_CONFIG = {"T": 100, "K": 10, "lr": 0.1, "lam_init": 1e-2, "hyper_lr": 0.1, "outer_steps": 50, "margin": 0.02,
               "threshold": 0.9}
COSINE_MIN_EFFECT = 0.01
VAL_MIN_EFFECT = 0.01
HEALTH = loss_decreased()
_TRMD_COMMON = dict(paper=TRMD_PAPER, task="breast_cancer logistic regression, 30 per-feature L2 coefficients, "
                    "T=100 inner GD steps", quick_seeds=2, components=("truncated_hypergradient",))


@claim(name="trmd-cosine-breast-cancer", baseline="the 0.9 cosine threshold minus the 0.01 min effect (constant)",
       treatment="cosine(K=10 hypergradient, K=T=100 hypergradient) at the initial lam",
       statement="The K=10 truncated-backprop hypergradient has cosine >= 0.9 with the full (K=T=100) one.",
       metric="cosine similarity", direction="higher", min_effect=COSINE_MIN_EFFECT, config=TRMD_CONFIG,
       gates=(HEALTH,), second_look=20, **_TRMD_COMMON)
def trmd_cosine(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    torch.manual_seed(seed)
    train_loss, val_loss = _cancer_losses(*_cancer(seed))
    w0, h = (torch.zeros(30), torch.zeros(())), (torch.full((30,), math.log(config["lam_init"])),)
    hf = truncated_hypergradient(train_loss, val_loss, w0, h, steps=config["T"], lr=config["lr"], truncate=config["T"])
    health = {"loss_first": math.log(2.0), "loss_last": hf.val_loss}  # val CE at w = 0 is ln 2
    if arm == "baseline":
        return {"value": config["threshold"] - COSINE_MIN_EFFECT, **health}
    hk = truncated_hypergradient(train_loss, val_loss, w0, h, steps=config["T"], lr=config["lr"], truncate=config["K"])
    return {"value": F.cosine_similarity(hk.hypergrad[0], hf.hypergrad[0], dim=0).item(), **health}


@claim(name="trmd-val-loss-breast-cancer",
       baseline="full backprop (K=T=100): ln(val CE) + ln 1.02 (2% margin) + 0.01 (min effect)",
       treatment="K=10 truncated backprop: ln(val CE)",
       statement="Tuning with K=10 truncated backprop reaches a validation loss within 2% of full backprop after "
                 "50 outer steps (non-inferiority: treatment < 1.02 x full).",
       metric="ln validation cross-entropy (nats) after 50 outer steps", direction="lower", min_effect=VAL_MIN_EFFECT,
       config=TRMD_CONFIG, quick={"outer_steps": 5},
       gates=(premise("tuning_gain", ">=", VAL_MIN_EFFECT,
                      "full-backprop tuning lowers the validation CE by >= 1% (ln start / tuned >= 0.01)"), HEALTH),
       **_TRMD_COMMON)
def trmd_val_loss(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    start, tuned = _trmd_tune(seed, config, config["K"] if arm == "treatment" else config["T"])
    out = {"value": math.log(tuned), "loss_first": math.log(2.0), "loss_last": tuned}
    if arm == "baseline":
        out["value"] += math.log(1.0 + config["margin"]) + VAL_MIN_EFFECT
        out["tuning_gain"] = math.log(start / tuned)
    return out
