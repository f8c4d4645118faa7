"""Uniformly smoothed attributions under attribution attacks.

smoothed-attribution-robustness-digits. Set-up fixed before any run (catalog hint for arXiv:2405.06361):
a softplus MLP (2 x 128, beta = 10, so the input Hessian is non-zero and the attack has a signal)
trained on digits (pixels in [0, 1]; Adam lr 1e-3, 30 epochs, batch 64); the first 200 test images;
attribution = input gradient of the predicted class's logit. Attack: l2 PGD with eps = 0.1, 10 steps
of size eps / 4, minimising the cosine between the attribution at x + delta and at x, keeping only
iterates whose predicted label is unchanged (the lowest-cosine one is kept). Baseline arm: the
vanilla gradient; treatment arm: its uniform smoothing on the l2 ball of radius r = 1.0 (the
attack differentiates a 16-sample estimate with fresh noise per step; evaluation uses 128 samples
with the same noise at x and x + delta). Metric: mean cosine(attr(x + delta), attr(x)); the catalog's
claim is a gain >= 0.2 (min_effect 0.2, continuous).
The frozen model and the attribution are `tasks.frozen_softplus_digits` / `tasks.logit_input_gradient`.

Gates: health: the frozen model classifies the digits test split (accuracy > 60%, chance 10%);
premise (baseline arm): the attack actually fools the vanilla gradient, leaving room for a 0.2 gain:
its mean cosine under attack <= 0.8. Measured on the baseline arm (seeds 0-2): cosine 0.997 at eps 0.1,
0.990 at 0.2, 0.948-0.953 at 0.5, 0.860-0.866 at 1.0 (= r); 0.84 at eps 1.0 with 50 attack steps;
Softplus beta 1 or 3 instead of 10: >= 0.985. The vanilla gradient of this small MLP is not fragile
at any attack size up to the smoothing radius, so the premise is absent here and the claim is
expected to be "not testable here"; the catalog's eps = 0.1 is kept (no setting was found where the
premise holds without leaving the certificate's regime eps < r). Cost: ~1 s (baseline), ~3 s (treatment).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...explain.smoothed import uniform_ball_noise
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import digits_test_accuracy, frozen_softplus_digits, logit_input_gradient

MIN_EFFECT = 0.2


@claim(
    name="smoothed-attribution-robustness-digits",
    paper="Certified ell_2 Attribution Robustness via Uniformly Smoothed Attributions",
    statement="Under an l2 attribution attack (eps = 0.1), uniformly smoothed gradients (r = 1) keep a "
              "cosine similarity to the clean attribution >= 0.2 higher than the vanilla gradient.",
    task="digits softplus MLP 2x128, 200 test images, l2 PGD attribution attack, label kept",
    baseline="vanilla input gradient", treatment="uniformly smoothed gradient (l2 ball r = 1.0)",
    metric="mean cosine(attr(x + delta), attr(x)) under attack", direction="higher", min_effect=MIN_EFFECT,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "images": 200, "eps": 0.1, "pgd_steps": 10,
            "radius": 1.0, "attack_samples": 16, "eval_samples": 128, "beta": 10.0},
    quick={"epochs": 15, "images": 100}, quick_seeds=2, second_look=20,
    gates=(above_chance(10.0, 50.0, key="test_acc"),
           premise("value", "<=", 1 - MIN_EFFECT, "the attribution attack lowers the vanilla gradient's cosine to "
                   "<= 0.8, leaving room for the 0.2 gain")),
    components=("uniform_smoothed",),
)
def smoothed_attribution_robustness_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    model, x, t = frozen_softplus_digits(seed, config)
    n, d, eps = x.shape[0], x.shape[1], config["eps"]
    gen = torch.Generator().manual_seed(1000 + seed)
    smooth = arm == "treatment"

    def noise(s: int) -> torch.Tensor | None:
        return uniform_ball_noise(s * n, d, config["radius"], gen).view(s, n, d) if smooth else None

    eval_noise = noise(config["eval_samples"])
    clean = logit_input_gradient(model, x, t, eval_noise, graph=False)
    clean_attack = logit_input_gradient(model, x, t, noise(config["attack_samples"]), graph=False)
    delta = eps * torch.randn(n, d, generator=gen) / d ** 0.5  # start inside the ball
    best, best_cos = torch.zeros_like(x), torch.ones(n)
    for _ in range(config["pgd_steps"]):
        dl = delta.clone().requires_grad_(True)
        with torch.enable_grad():
            cos = F.cosine_similarity(logit_input_gradient(model, x + dl, t, noise(config["attack_samples"]), graph=True),
                                      clean_attack, dim=1)
            (step,) = torch.autograd.grad(cos.sum(), dl)
        delta = delta - (eps / 4) * step / step.norm(dim=1, keepdim=True).clamp_min(1e-12)
        delta = delta * (eps / delta.norm(dim=1, keepdim=True).clamp_min(eps))  # project on the l2 ball
        with torch.no_grad():
            same = model(x + delta).argmax(1) == t
        now = F.cosine_similarity(logit_input_gradient(model, x + delta, t, eval_noise, graph=False), clean, dim=1)
        better = same & (now < best_cos)
        best[better], best_cos[better] = delta[better], now[better]
    return {"value": best_cos.mean().item(), "test_acc": digits_test_accuracy(seed, config, config["beta"])}
