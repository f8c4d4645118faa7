"""Differential tests: trainlab's Adam-family optimizers against pytorch-optimizer's versions.

Convention differences, documented rather than copied:
- AdaBound: pytorch-optimizer decouples weight decay by default (`weight_decouple=True`); the
  official AdaBound class (and trainlab) uses coupled L2, so the comparison passes `weight_decouple=False`.
- Grams, EXAdam, Stable-SPAM: both decouple weight decay, multiplying p by (1 - lr wd).
- Stable-SPAM: pytorch-optimizer keeps one global step counter; trainlab counts per parameter (equal
  when every parameter has a gradient at every step, as here). Its optional `t_max` decay is off.
  pytorch-optimizer resets the moments before the update of a reset step and never restarts the
  counter of the spike/norm bias corrections; the official code (and the registered `stable_spam`)
  resets after the update and restarts that counter. The peer is therefore compared with the same
  transforms in their default (pytorch-optimizer) convention, and shown to differ from `stable_spam`.
- Grams: no convention difference. EXAdam: none. AdaMomentum (twofold-EMA Adam): not in pytorch-optimizer.
- SPAM: pytorch-optimizer's `SPAM` names DeltaT `update_proj_gap` and warmup_steps `warmup_epoch`
  (default 50; official 150). Its cosine warm-up after a reset runs one step ahead of the official
  code: its `CosineDecay.get_death_rate(k)` sets last_epoch = k and then steps the scheduler, returning
  the closed-form value at k + 1, while the official `scheduler.step(k)` returns it at k (so right at the
  reset the official factor is 1 - 0.99 = 0.01 and the peer's is larger). trainlab follows the official
  code. The trajectories agree to rounding before the first reset and, with warm-up 0, through resets;
  with a warm-up they differ after a reset. Its 2-D masks at density 1 select every entry (same math).
"""

from __future__ import annotations

import pytest
import torch

from trainlab.optim.adaptive import adabound, exadam, grams
from trainlab.optim.spam import spam, stable_spam
from trainlab.optim.base import Chain
from trainlab.optim.transforms.decay import AddDecayedWeights
from trainlab.optim.transforms.moments import ScaleByAdam
from trainlab.optim.transforms.spikes import AdaptiveGradNorm, MomentumReset, SpikeClip

po = pytest.importorskip("pytorch_optimizer")


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)).double()


def run(model, opt, steps, spikes=()):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=g)
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        scale = 1000.0 if k in spikes else 1.0
        (scale * torch.nn.functional.cross_entropy(model(x), y)).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


CASES = {
    "adabound": (lambda ps: adabound(ps, lr=1e-2, final_lr=0.05, gamma=0.01, weight_decay=0.01),
                 lambda ps: po.AdaBound(ps, lr=1e-2, final_lr=0.05, gamma=0.01, weight_decay=0.01,
                                        weight_decouple=False)),
    "amsbound": (lambda ps: adabound(ps, lr=1e-2, final_lr=0.05, gamma=0.01, amsbound=True),
                 lambda ps: po.AdaBound(ps, lr=1e-2, final_lr=0.05, gamma=0.01, ams_bound=True)),
    "grams": (lambda ps: grams(ps, lr=1e-2, weight_decay=0.1),
              lambda ps: po.Grams(ps, lr=1e-2, weight_decay=0.1)),
    "exadam": (lambda ps: exadam(ps, lr=1e-2, weight_decay=0.1),
               lambda ps: po.EXAdam(ps, lr=1e-2, weight_decay=0.1)),
    "stable_spam_transforms": (
        lambda ps: Chain(ps, [SpikeClip(0.999), AdaptiveGradNorm(0.7, 0.9, 1e-8), MomentumReset(ScaleByAdam(), 40),
                              AddDecayedWeights(0.1, shrink_params=True)], lr=1e-3),
        lambda ps: po.StableSPAM(ps, lr=1e-3, update_proj_gap=40, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_matches_pytorch_optimizer(name):
    ours, theirs = CASES[name]
    m1, m2 = mlp(), mlp()
    spikes = (10, 55, 90) if name.startswith("stable_spam") else ()
    a = run(m1, ours(m1.parameters()), 130, spikes)
    b = run(m2, theirs(m2.parameters()), 130, spikes)
    assert max_diff(a, b) < 1e-9


def test_adabound_default_weight_decay_conventions_differ():
    """pytorch-optimizer's default (decoupled) and the official coupled L2 give different trajectories."""
    m1, m2 = mlp(), mlp()
    a = run(m1, adabound(m1.parameters(), lr=1e-2, weight_decay=0.1), 50)
    b = run(m2, po.AdaBound(m2.parameters(), lr=1e-2, weight_decay=0.1), 50)
    assert max_diff(a, b) > 1e-4


def test_stable_spam_official_reset_order_differs_from_pytorch_optimizer():
    m1, m2 = mlp(), mlp()
    a = run(m1, stable_spam(m1.parameters(), lr=1e-3, update_proj_gap=40), 60)
    b = run(m2, po.StableSPAM(m2.parameters(), lr=1e-3, update_proj_gap=40), 60)
    assert max_diff(a, b) > 1e-6


SPAM_KW = dict(lr=1e-2, weight_decay=0.1, threshold=5, grad_accu_steps=5)


@pytest.mark.parametrize("warmup,steps", [(10, 39), (0, 130)])
def test_spam_matches_pytorch_optimizer_where_conventions_agree(warmup, steps):
    """Before the first reset (spike clipping, decay, spikes included) and, without warm-up, through 3 resets."""
    m1, m2 = mlp(), mlp()
    a = run(m1, spam(m1.parameters(), warmup_steps=warmup, DeltaT=40, **SPAM_KW), steps, (10, 55, 90))
    b = run(m2, po.SPAM(m2.parameters(), warmup_epoch=warmup, update_proj_gap=40, **SPAM_KW), steps, (10, 55, 90))
    assert max_diff(a, b) < 1e-9


def test_spam_post_reset_warmup_is_one_step_ahead_in_pytorch_optimizer():
    m1, m2 = mlp(), mlp()
    a = run(m1, spam(m1.parameters(), warmup_steps=10, DeltaT=40, **SPAM_KW), 41)
    b = run(m2, po.SPAM(m2.parameters(), warmup_epoch=10, update_proj_gap=40, **SPAM_KW), 41)
    assert max_diff(a, b) > 1e-5
