"""Claim of `trainlab.optim.spam`: Stable-SPAM under gradient spikes.

stable-spam-spikes (catalog hint): digits (pixels / 16), MLP 64-128-128-10, batch 64, 1500 steps,
lr 3e-3 for both arms, no weight decay. Every 100 steps, after backward, noise of 100x the tensor's
gradient RMS (times N(0, 1)) is added to 0.1% of each tensor's coordinates (at least one).
Baseline torch Adam; treatment `stable_spam` with the official defaults (gamma1 0.7, gamma2 0.9,
theta 0.999, update_proj_gap 1000). CHANGED for the evidence rule: the metric is log10 of the final
training cross-entropy (whole training set; lower is better): training losses near zero differ by factors,
not by fixed amounts. Min effect log10(1.1) = 0.041, a 10% lower final loss: the paper states its effect as
loss curves (Stable-SPAM's 4-bit runs beating 16-bit Adam), not as a size on a task like this; 10% is the
smallest loss reduction a practitioner would notice. A diverged run scores a loss of 1e6.
Gates (declared before any run): premise, the spikes hurt Adam: the baseline arm also trains Adam without
spikes (same init and batches) and its log10(spiked / clean final loss) must be >= log10(1.1) (without a
cost of at least the minimum effect there is nothing for spike handling to recover); health, each arm's
training loss falls below 0.9x its initial value.
Baseline measurement (seeds 0-2, baseline arm, before the evidence run): spike cost log10 0.050 / 0.032 /
-0.002 (mean 0.027, under the 0.041 premise: Adam's per-coordinate second moment absorbs these sparse
spikes), so the premise is expected to fail and the verdict to be "not testable here". The paper's larger
spikes (1000x) cost even less here (0.025 / 0.013 / -0.002), so the catalog's 100x is kept. Cost: ~5-6 CPU-s
per baseline run (two trainings), ~2 per treatment run.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...datasets import load
from ...optim.spam import stable_spam
from ..base import claim
from ..gates import loss_decreased, premise
from ..tasks import mlp, train_steps

MIN_EFFECT = math.log10(1.1)


def inject_spikes(model: torch.nn.Module, fraction: float, scale: float, gen: torch.Generator) -> None:
    """Add scale * RMS(grad) * N(0, 1) to a random `fraction` of each gradient's coordinates."""
    for p in model.parameters():
        g = p.grad.view(-1)
        k = max(1, int(round(fraction * g.numel())))
        idx = torch.randperm(g.numel(), generator=gen)[:k]
        rms = g.pow(2).mean().sqrt()
        g[idx] += scale * rms * torch.randn(k, generator=gen)


def spiky_train_loss(use_stable_spam: bool, seed: int, config: Mapping[str, Any], spikes_on: bool = True
                     ) -> tuple[float, float]:
    """(initial, final) whole-training-set cross-entropy; the final one is 1e6 for a diverged run."""
    x_tr, y_tr, _, _ = load("digits", seed=seed)
    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10)
    with torch.no_grad():
        first = F.cross_entropy(model(x_tr), y_tr).item()
    if use_stable_spam:
        opt = stable_spam(model.parameters(), lr=config["lr"], gamma1=config["gamma1"], gamma2=config["gamma2"],
                          theta=config["theta"], update_proj_gap=config["update_proj_gap"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    gen = torch.Generator().manual_seed(seed)
    spike_gen = torch.Generator().manual_seed(10_000 + seed)  # same spikes for both arms

    def spikes(step: int) -> None:
        if spikes_on and step % config["spike_every"] == 0:
            inject_spikes(model, config["spike_fraction"], config["spike_scale"], spike_gen)

    train_steps(model, x_tr, y_tr, opt, steps=config["steps"], batch_size=config["batch_size"], generator=gen,
                after_backward=spikes)
    with torch.no_grad():
        loss = F.cross_entropy(model(x_tr), y_tr).item()
    return first, (loss if math.isfinite(loss) else 1e6)  # a diverged run counts as a very high loss


@claim(
    name="stable-spam-spikes",
    paper="Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam",
    statement="Under injected gradient spikes, Stable-SPAM ends with a lower training loss than Adam.",
    task="digits, MLP 64-128-128-10, batch 64, 1500 steps, spikes (100x RMS, 0.1% of coords) every 100 steps",
    baseline="torch Adam lr 3e-3", treatment="Stable-SPAM lr 3e-3 (official defaults)",
    metric="log10 final training cross-entropy", direction="lower", min_effect=MIN_EFFECT,
    config={"hidden": 128, "lr": 3e-3, "batch_size": 64, "steps": 1500, "spike_every": 100,
            "spike_fraction": 0.001, "spike_scale": 100.0, "gamma1": 0.7, "gamma2": 0.9, "theta": 0.999,
            "update_proj_gap": 1000},
    quick={"steps": 300}, quick_seeds=2,
    gates=(premise("spike_cost", ">=", MIN_EFFECT,
                   "the spikes cost Adam at least the min effect: log10(spiked / spike-free final loss) >= log10 1.1"),
           loss_decreased()),
    components=("stable_spam",),
)
def stable_spam_spikes(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    first, last = spiky_train_loss(arm == "treatment", seed, config)
    out = {"value": math.log10(last), "loss_first": first, "loss_last": last}
    if arm == "baseline":
        _, clean = spiky_train_loss(False, seed, config, spikes_on=False)
        out["spike_cost"] = math.log10(last / clean)
    return out
