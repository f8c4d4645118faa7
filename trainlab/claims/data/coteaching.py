"""Noisy-label training on digits: co-teaching and nested dropout against cross-entropy.

Co-teaching uses the set-up of `tasks.NOISY_DIGITS` unchanged (digits, 40% symmetric noise on the training
labels, MLP 64-128-128-10, SGD momentum 0.9, lr 0.02, weight decay 1e-3, batch 128, cosine schedule, 120
epochs / 40 quick, final model on the clean test set); the treatment trains two such networks with the
official Co-teaching schedule (forget rate = the noise rate 0.4, num_gradual 10, exponent 1) and reports
network A. The baseline is exactly the cross-entropy arm of `tasks.train_noisy_digits`.

Nested dropout keeps the `tasks.NOISY_DIGITS` set-up but, as the official code, holds out 10% of the training
split (clean labels, stratified by nothing but a seeded permutation) to choose the number K of kept feature
units at the end (best validation accuracy, smallest K on ties); noise is applied to the other 90%, on which
both arms train. Nested dropout (official Gaussian prior, mu 0, std 10, one K per batch) sits on the 128
penultimate features; the baseline is plain CE on the same 90% with all features.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...data.coteaching import NestedDropout, co_teaching_step, forget_rate_schedule
from ...datasets import add_label_noise, load
from ..base import claim
from ..tasks import (
    NOISY_DIGITS,
    NOISY_DIGITS_QUICK,
    accuracy,
    batches,
    cross_entropy,
    mlp,
    train_epochs,
    train_noisy_digits,
)


PAPER_CT = "Compressing Features for Learning with Noisy Labels"
COTEACH = {"forget_rate": 0.4, "num_gradual": 10, "exponent": 1.0}
NESTED = {"std": 10.0, "val_fraction": 0.1}


def coteaching_accuracy(seed: int, config: Mapping[str, Any]) -> float:
    """Co-teaching on noisy digits (same data, model, optimiser as `train_noisy_digits`); net A's clean test acc (%)."""
    x_tr, y_tr, x_te, y_te = load("digits", seed=seed)
    y_noisy, _ = add_label_noise(y_tr, config["noise"], 10, kind=config["noise_kind"], seed=seed)
    torch.manual_seed(seed)
    nets = [mlp(64, config["hidden"], 10), mlp(64, config["hidden"], 10)]
    opts = [torch.optim.SGD(n.parameters(), lr=config["lr"], momentum=config["momentum"],
                            weight_decay=config["weight_decay"]) for n in nets]
    scheds = [torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=config["epochs"]) for o in opts]
    gen = torch.Generator().manual_seed(seed)
    for n in nets:
        n.train()
    for epoch in range(config["epochs"]):
        rate = forget_rate_schedule(epoch, config["forget_rate"], config["num_gradual"], config["exponent"])
        for idx in batches(len(x_tr), config["batch_size"], gen):
            x, y = x_tr[idx], y_noisy[idx]
            loss_a = F.cross_entropy(nets[0](x), y, reduction="none")
            loss_b = F.cross_entropy(nets[1](x), y, reduction="none")
            update_a, update_b, _, _ = co_teaching_step(loss_a, loss_b, rate)
            for o in opts:
                o.zero_grad(set_to_none=True)
            (update_a + update_b).backward()  # the two graphs are disjoint: each net gets its own gradient
            for o in opts:
                o.step()
        for s in scheds:
            s.step()
    return accuracy(nets[0], x_te, y_te)


@claim(
    name="coteaching-noisy-digits",
    paper=PAPER_CT,
    statement="Co-teaching (two networks exchanging their small-loss samples, forget rate ramped to the noise "
              "rate) raises clean test accuracy over cross-entropy by >= 3 points under 40% symmetric noise.",
    task="digits, 40% symmetric label noise, MLP 64-128-128-10, 120 epochs SGD, no early stopping",
    baseline="cross-entropy", treatment="co-teaching (forget rate 0.4, num_gradual 10, exponent 1)",
    metric="clean test accuracy (%)", direction="higher", min_effect=3.0,
    config={**NOISY_DIGITS, **COTEACH}, quick=NOISY_DIGITS_QUICK, quick_seeds=2,
    components=("co_teaching",),
)
def coteaching_noisy_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    if arm == "baseline":
        return train_noisy_digits(cross_entropy, seed, config)
    return coteaching_accuracy(seed, config)


def nested_dropout_accuracy(use_nested: bool, seed: int, config: Mapping[str, Any]) -> float:
    """CE on 90% of the digits training split with 40% noise, with or without nested dropout; clean test acc (%)."""
    x_all, y_all, x_te, y_te = load("digits", seed=seed)
    perm = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed))
    n_val = int(config["val_fraction"] * len(x_all))
    val, tr = perm[:n_val], perm[n_val:]
    x_tr, x_val, y_val = x_all[tr], x_all[val], y_all[val]
    y_noisy, _ = add_label_noise(y_all[tr], config["noise"], 10, kind=config["noise_kind"], seed=seed)
    torch.manual_seed(seed)
    net = mlp(64, config["hidden"], 10)
    body, head = net[:-1], net[-1]  # body -> (N, hidden) penultimate features
    drop = NestedDropout(config["hidden"], std=config["std"])
    opt = torch.optim.SGD(net.parameters(), lr=config["lr"], momentum=config["momentum"],
                          weight_decay=config["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config["epochs"])
    gen, drop_gen = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)

    def loss_fn(feats: torch.Tensor, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:  # feats = body(x)
        if use_nested:
            feats = drop(feats, generator=drop_gen)
        return F.cross_entropy(head(feats), t)

    train_epochs(body, x_tr, y_noisy, loss_fn, opt, epochs=config["epochs"], batch_size=config["batch_size"],
                 generator=gen, scheduler=sched)
    net.eval()
    with torch.no_grad():
        if not use_nested:
            return 100.0 * (head(body(x_te)).argmax(1) == y_te).float().mean().item()
        f_val, f_te = body(x_val), body(x_te)
        units = torch.arange(config["hidden"])
        masks = (units[None, :] < units[:, None] + 1).float()  # (hidden, hidden): row K-1 keeps K units
        val_acc = torch.stack([(head(f_val * m).argmax(1) == y_val).float().mean() for m in masks])
        best = int(torch.argmax(val_acc))  # first maximum = smallest K, as the official tie-break
        return 100.0 * (head(f_te * masks[best]).argmax(1) == y_te).float().mean().item()


@claim(
    name="nested-dropout-noisy-digits",
    paper=PAPER_CT,
    statement="Nested dropout on the penultimate features (K chosen on a clean 10% validation split) raises "
              "clean test accuracy over plain cross-entropy by >= 3 points under 40% symmetric noise.",
    task="digits (90% train with 40% symmetric noise, 10% clean val), MLP 64-128-128-10, 120 epochs SGD",
    baseline="cross-entropy", treatment="CE + nested dropout (Gaussian prior, std 10)",
    metric="clean test accuracy (%)", direction="higher", min_effect=3.0,
    config={**NOISY_DIGITS, **NESTED}, quick=NOISY_DIGITS_QUICK, quick_seeds=2,
    components=("nested_dropout",),
)
def nested_dropout_noisy_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return nested_dropout_accuracy(arm == "treatment", seed, config)
