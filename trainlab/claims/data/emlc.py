"""Meta label correction (EMLC) on noisy digits.

EMLC (catalog claim hint): digits, 50% symmetric noise, 10 clean examples per class as the meta (gold) set.
The gold set is 10 examples per class of the training split (seeded), the other training examples get 50%
symmetric noise. Student and both baselines use `tasks.NOISY_DIGITS`'s recipe (MLP 64-128-128-10, SGD lr
0.1, momentum 0.9, weight decay 1e-3, batch 128, cosine annealing over 200 epochs / 10 quick, no early
stopping, final model scored on the clean test set). Teacher = the same MLP (features = its 128 penultimate
units) plus the official `TeacherEnhancer` (label embedding 128, hidden 128), trained by SGD lr 0.02, no
momentum, weight decay 5e-4 (the official `meta_lr` / `wdecay` defaults, constant lr as its milestone 20 lies
beyond its 15 epochs); gold batch 32 (official `gold_bs`); eta = the student's current lr.
Deviations: one-step lookahead (official default `gradient_steps` is 5; the component has no multi-step
variant), no SSL pre-training of the teacher, no best-on-validation model selection.
Baselines: CE on every training example (noisy + gold) and CE on the gold set alone (same number of steps as
the EMLC student, gold batches of 32). The retain weight w on the noisy examples after training is scored by
AUROC for "kept the label" vs "label was correct" (the chance level 0.5 is the baseline arm).

Why this setting can show the effects: label correction pays where cross-entropy memorises the wrong labels.
The earlier recipe (lr 0.02, 120 epochs) barely fitted them (on the 40%-noise claims CE fitted 1-3% of the
flipped labels); with lr 0.1 and 200 epochs CE on noisy + gold labels converges on them. Measured on the
baseline arms (seeds 0-5): CE on noisy + gold labels fits 98.7-99.7% of the flipped labels and scores
58.9-69.1% against 97.1-98.0% for CE on the clean labels (noise cost 28.9-39.1 points); CE on the gold set
alone scores 86.0-92.2%, i.e. 5.8-12.0 points (mean 8.7) below CE on all clean labels: on digits 100 clean
labels nearly suffice, so the vs-gold-only premise (>= 8) is borderline and may leave that claim "not
testable here".

Gates: every arm that trains is above chance (10%) by 10 points (for the AUROC claim: the EMLC student).
Premises, on the baseline arms, against CE trained on the clean labels of the whole training split (same
seed, the same recipe; memoised): emlc-noisy-digits needs the noise to cost CE on noisy + gold labels >= 8 + 5
points and CE to fit >= 90% of the flipped labels; emlc-vs-gold-only-digits needs the other 90% of the
training split to be worth something, i.e. CE on all clean labels to beat CE on the gold set alone by >= 3 + 5
points. The AUROC claim has no premise beyond its health gate (w is scored against the known flips).

Minimum effects, from the catalog's claim: +8 points over CE on noisy labels, +3 points over CE on the gold
set alone, AUROC >= 0.8 (0.3 above chance). One test image is 0.22 points; AUROC over ~620 flipped and ~620
kept examples is effectively continuous.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from ...data.emlc import TeacherEnhancer, emlc_step
from ...datasets import add_label_noise, load
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import (
    DIGITS_RESOLUTION,
    MEMORISED_MIN,
    NOISE_COST_MARGIN,
    NOISY_DIGITS,
    accuracy,
    batches,
    fitted_flipped,
    mlp,
    shared_per_config,
)


PAPER_EMLC = "Enhanced Meta Label Correction for Coping with Label Corruption"
EMLC = {**NOISY_DIGITS, "noise": 0.5, "gold_per_class": 10, "gold_bs": 32, "meta_lr": 0.02, "meta_wd": 5e-4,
        "label_embedding_dim": 128, "enhancer_hidden": 128}


class _Teacher(nn.Module):
    """MLP classifier exposing its penultimate features: forward(x, return_h=True) -> (logits, (N, hidden))."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        net = mlp(64, hidden, 10)
        self.body, self.head = net[:-1], net[-1]

    def forward(self, x: Tensor, return_h: bool = False):
        h = self.body(x)
        return (self.head(h), h) if return_h else self.head(h)


def emlc_split(seed: int, config: Mapping[str, Any], noise: float | None = None) -> tuple[Tensor, ...]:
    """(x_noisy, y_noisy, noisy_mask, x_gold, y_gold, x_te, y_te): gold = first k per class of a seeded permutation;
    the other examples get config["noise"] (or `noise`) label noise."""
    x_tr, y_tr, x_te, y_te = load("digits", seed=seed)
    perm = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(seed))
    gold = torch.cat([perm[y_tr[perm] == c][: config["gold_per_class"]] for c in range(10)])
    rest = torch.ones(len(x_tr), dtype=torch.bool)
    rest[gold] = False
    rate = config["noise"] if noise is None else noise
    y_noisy, mask = add_label_noise(y_tr[rest], rate, 10, kind=config["noise_kind"], seed=seed)
    return x_tr[rest], y_noisy, mask, x_tr[gold], y_tr[gold], x_te, y_te


def _student_opt(model: nn.Module, config: Mapping[str, Any]) -> tuple[torch.optim.Optimizer, Any]:
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"],
                          weight_decay=config["weight_decay"])
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config["epochs"])


@shared_per_config
def _emlc_run(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    """{"acc": clean test accuracy %, "auroc": retain-weight AUROC (nan but for "emlc"), "flipped_fit": % of the
    flipped noisy examples the student predicts as their given label} for arm "emlc", "ce_all" (CE on noisy +
    gold), "ce_gold" (CE on the gold set alone) or "ce_clean" (CE on the clean labels of the whole split)."""
    x_s, y_s, noisy_mask, x_g, y_g, x_te, y_te = emlc_split(seed, config, 0.0 if arm == "ce_clean" else None)
    torch.manual_seed(seed)
    student = mlp(64, config["hidden"], 10)
    opt, sched = _student_opt(student, config)
    gen, gold_gen = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    x_n, y_n = x_s, y_s  # the noisy part (for flipped_fit and the retain AUROC)
    if arm in ("ce_all", "ce_clean"):
        x_s, y_s = torch.cat([x_s, x_g]), torch.cat([y_s, y_g])
    if arm == "emlc":
        teacher = _Teacher(config["hidden"])
        enhancer = TeacherEnhancer(10, config["hidden"], config["label_embedding_dim"], config["enhancer_hidden"])
        t_opt = torch.optim.SGD([*teacher.parameters(), *enhancer.parameters()], lr=config["meta_lr"],
                                weight_decay=config["meta_wd"])
        teacher.train()
    student.train()
    for _ in range(config["epochs"]):
        for idx in batches(len(x_s), config["batch_size"], gen):
            g = torch.randperm(len(x_g), generator=gold_gen)[: config["gold_bs"]]
            if arm == "emlc":
                emlc_step(student, opt, teacher, enhancer, t_opt, x_s[idx], y_s[idx], x_g[g], y_g[g],
                          eta=sched.get_last_lr()[0], num_classes=10)
                continue
            xb, yb = (x_g[g], y_g[g]) if arm == "ce_gold" else (x_s[idx], y_s[idx])
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(student(xb), yb).backward()
            opt.step()
        sched.step()  # the teacher's lr stays constant (official milestone 20 > its 15 epochs)
    auroc = float("nan")
    if arm == "emlc":
        teacher.eval()
        with torch.no_grad():
            w = enhancer(teacher(x_n, return_h=True)[1], y_n).reshape(-1)
        auroc = float(roc_auc_score((~noisy_mask).numpy(), w.numpy()))
    return {"acc": accuracy(student, x_te, y_te), "auroc": auroc,
            "flipped_fit": fitted_flipped(student, x_n, y_n, noisy_mask)}


def emlc_metrics(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    return _emlc_run(arm, seed, config)


def emlc_student(seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    """The treatment arm of the accuracy claims: the EMLC student's clean test accuracy (%) and flipped_fit."""
    r = emlc_metrics("emlc", seed, config)
    return {"value": r["acc"], "flipped_fit": r["flipped_fit"], "retain_auroc": r["auroc"]}


_EMLC_COMMON = dict(
    paper=PAPER_EMLC,
    task="digits, 10 clean labels/class as gold set, 50% symmetric noise on the rest, MLP 64-128-128-10, "
         "200 epochs SGD lr 0.1 (the noisy-digits recipe, to convergence on the noisy labels), final model",
    config=EMLC, quick={"epochs": 10}, quick_seeds=2, components=("emlc",),
)


@claim(
    name="emlc-noisy-digits",
    statement="EMLC (teacher-corrected labels, one-step meta lookahead) raises the student's clean test accuracy "
              "over cross-entropy on all (noisy + gold) training labels by >= 8 points under 50% symmetric noise.",
    baseline="cross-entropy on noisy + gold labels", treatment="EMLC student (one-step lookahead)",
    metric="clean test accuracy (%)", direction="higher", min_effect=8.0, resolution=DIGITS_RESOLUTION,
    gates=(above_chance(10.0, 10.0),
           premise("noise_cost", ">=", 8.0 + NOISE_COST_MARGIN,
                   f"50% noise costs CE on noisy + gold labels at least min_effect + {NOISE_COST_MARGIN:g} points of "
                   "clean test accuracy against CE on the clean labels of the same split (room for the gain)"),
           premise("flipped_fit", ">=", MEMORISED_MIN,
                   f"CE memorises the noise: it fits >= {MEMORISED_MIN:g}% of the flipped training labels")),
    **_EMLC_COMMON,
)
def emlc_noisy_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm == "treatment":
        return emlc_student(seed, config)
    noisy, clean = emlc_metrics("ce_all", seed, config), emlc_metrics("ce_clean", seed, config)
    return {"value": noisy["acc"], "flipped_fit": noisy["flipped_fit"], "clean_acc": clean["acc"],
            "noise_cost": clean["acc"] - noisy["acc"]}


@claim(
    name="emlc-vs-gold-only-digits",
    statement="EMLC's student beats cross-entropy trained on the 100 gold labels alone by >= 3 points "
              "of clean test accuracy (50% symmetric noise on the other labels).",
    baseline="cross-entropy on the gold set only (same number of steps)", treatment="EMLC student",
    metric="clean test accuracy (%)", direction="higher", min_effect=3.0, resolution=DIGITS_RESOLUTION,
    gates=(above_chance(10.0, 10.0),
           premise("gold_gap", ">=", 3.0 + NOISE_COST_MARGIN,
                   f"the non-gold examples are worth min_effect + {NOISE_COST_MARGIN:g} points or more: CE on the "
                   "clean labels of the whole split beats CE on the gold set alone by that much (room for the gain)")),
    **_EMLC_COMMON,
)
def emlc_vs_gold_only_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm == "treatment":
        return emlc_student(seed, config)
    gold, clean = emlc_metrics("ce_gold", seed, config), emlc_metrics("ce_clean", seed, config)
    return {"value": gold["acc"], "clean_acc": clean["acc"], "gold_gap": clean["acc"] - gold["acc"]}


@claim(
    name="emlc-retain-auroc-digits",
    statement="EMLC's learned retain weight w separates correct from corrupted training labels with "
              "AUROC >= 0.8 (i.e. >= 0.3 above the chance level 0.5).",
    baseline="chance (AUROC 0.5)", treatment="AUROC of w on the noisy training set after EMLC training",
    metric="AUROC of w for 'label is correct'", direction="higher", min_effect=0.3,
    gates=(above_chance(10.0, 10.0, key="student_acc", arms=("treatment",)),),
    **_EMLC_COMMON,
)
def emlc_retain_auroc_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm == "baseline":
        return {"value": 0.5}
    r = emlc_metrics("emlc", seed, config)
    return {"value": r["auroc"], "student_acc": r["acc"]}
