"""Uniformly smoothed attributions and their l2 cosine-similarity certificate."""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import torch
from scipy import special
from torch import nn

from trainlab.explain._checks import check_int
from trainlab.explain._common import noisy_attribution, prepare, row_chunks
from trainlab.registry import register

__all__ = ["uniform_ball_noise", "uniform_smoothed_attribution", "certify_attribution"]

Attribution = Callable[..., torch.Tensor]
_PAPER = "Certified ell_2 Attribution Robustness via Uniformly Smoothed Attributions"


def _check_number(value: Any, name: str, positive: bool) -> float:
    """A finite real number, > 0 (`positive`) or >= 0."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or (float(value) <= 0 if positive else float(value) < 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def uniform_ball_noise(
    m: int, dim: int, radius: float, generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
) -> torch.Tensor:
    """`m` points uniform in the l2 ball B(0; radius) of R^dim, shape (m, dim).

    u = radius * U^(1/dim) * z / ||z||, z ~ N(0, I), U ~ Uniform(0, 1): the direction is uniform on
    the sphere and P(||u|| <= s) = (s / radius)^dim, the volume fraction of the ball of radius s.
    """
    dev = generator.device if generator is not None else device
    z = torch.randn((m, dim), generator=generator, dtype=dtype, device=dev)
    u = torch.rand((m, 1), generator=generator, dtype=dtype, device=dev)
    z = z / z.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
    return (radius * u.pow(1.0 / dim) * z).to(device if device is not None else dev)


@register("attribution", "uniform_smoothed", paper=_PAPER, arxiv="2405.06361")
def uniform_smoothed_attribution(
    model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None = None,
    attribution: Attribution | None = None, radius: float = 1.0, n: int = 100,
    generator: torch.Generator | None = None, internal_batch_size: int | None = None, **options: Any,
) -> torch.Tensor:
    """Uniformly smoothed attribution: the mean of a base attribution over the l2 ball around x.

    h(x) = E_{eta ~ U(B(0; r))} [g(x + eta)]  ~=  (1 / n) sum_{s=1..n} g(x + eta_s),
    with g the input gradient by default or any attribution with the common call shape.

    Args:
        model: any module mapping (M, ...) to (M,), (M, 1) or (M, C); use eval mode.
        inputs: the batch to explain, shape (N, ...).
        target: None (scalar output), an int column or a (N,) integer tensor.
        attribution: the base attribution g, called as `attribution(model, noisy, target=...,
            **options)` on chunks of noisy copies; None = the input gradient.
        radius: r >= 0, the l2 radius of the smoothing ball (0 gives the base attribution).
        n: number of Monte Carlo samples per example (>= 1).
        generator: torch.Generator for the noise; None uses the global RNG.
        internal_batch_size: at most this many noisy copies per call (bounds memory); None = all.
        **options: passed to `attribution`; tensors shaped like `inputs` or (N,) are indexed
            alongside the noisy copies.

    Returns:
        The Monte Carlo estimate of h(x), shape of `inputs`.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
        >>> uniform_smoothed_attribution(model, torch.randn(2, 4), target=0, n=16).shape
        torch.Size([2, 4])

    Reference:
        Wang, Kong. "Certified ell_2 Attribution Robustness via Uniformly Smoothed Attributions",
        arXiv:2405.06361 (Section 3). The certificate holds for the exact expectation; like the
        paper's experiments this returns a Monte Carlo estimate (no confidence correction).
    """
    inputs, _, index, chunk = prepare(model, inputs, target, "uniformly smoothed attributions", internal_batch_size)
    radius = _check_number(radius, "radius", positive=False)
    n = check_int(n, "n", minimum=1)
    if attribution is not None and not callable(attribution):
        raise ValueError(f"attribution must be a callable attribution method, got {type(attribution).__name__}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    rows_total, d = inputs.shape[0] * n, inputs[0].numel()
    total = torch.zeros_like(inputs)  # (N, ...) running sum over samples
    # Rows are example-major: row j is sample j % n of example j // n.
    for rows in row_chunks(rows_total, chunk, inputs.device):
        i = rows // n
        eta = uniform_ball_noise(len(rows), d, radius, generator, inputs.dtype, inputs.device)
        noisy = inputs[i] + eta.view((len(rows),) + tuple(inputs.shape[1:]))  # (M, ...)
        attr = noisy_attribution(model, noisy, inputs, i, index, attribution, options)
        total.index_add_(0, i, attr)
    return total / n


def _deviation_fraction(eps: torch.Tensor, radius: float, dim: int) -> torch.Tensor:
    """V_U / V_S = 2 (1 - I_{1 - (eps / 2r)^2}((d + 1) / 2, 1 / 2)): the volume of the symmetric
    difference of two l2 balls of radius r at centre distance eps, relative to one ball (2 if disjoint)."""
    x = (1.0 - (eps / (2.0 * radius)) ** 2).clamp_min(0.0).double().cpu().numpy()
    inter = torch.as_tensor(special.betainc((dim + 1) / 2.0, 0.5, x), dtype=eps.dtype, device=eps.device)
    return 2.0 * (1.0 - inter)


def certify_attribution(
    smoothed: torch.Tensor, radius: float, eps: float | torch.Tensor | None = None,
    cos: float | None = None, bound: float = 1.0,
) -> torch.Tensor:
    """The l2 certificate of a uniformly smoothed attribution: a cosine lower bound or a radius.

    If ||g(z)||_2 <= M for every z, then for ||delta||_2 <= eps (the certification theorem of the paper's
    Section 4; the two balls B(x; r), B(x + delta; r) share their intersection, so only the crescents differ):
        ||h(x + delta) - h(x)|| <= rho = M V_U / V_S,
        V_U / V_S = 2 (1 - I_{1 - (eps / 2r)^2}((d + 1) / 2, 1 / 2))   (regularised incomplete beta)
        cos(h(x + delta), h(x)) >= sqrt(1 - rho^2 / ||h(x)||^2)  if rho < ||h(x)||, else -1.
    With `cos` = tau instead of `eps` (the paper's equivalent "maximum perturbation" form), the
    largest certified eps solves rho(eps) = ||h(x)|| sqrt(1 - tau^2) in closed form via the
    inverse incomplete beta function.

    Args:
        smoothed: h(x), the smoothed attributions, shape (N, ...).
        radius: r > 0 used to smooth.
        eps: the l2 perturbation budget (float or (N,) tensor, >= 0); give exactly one of eps/cos.
        cos: the cosine level tau in (-1, 1) to certify.
        bound: M > 0 with ||g(z)||_2 <= M for all z (1 for unit-normalised attributions).

    Returns:
        (N,) certified cosine lower bounds (eps given) or maximal certified eps (cos given; capped
        at 2r, where the balls stop overlapping and rho reaches its maximum 2M).

    Example:
        >>> h = torch.tensor([[0.6, 0.0], [0.05, 0.0]])  # ||g|| <= 1, d = 2
        >>> certify_attribution(h, radius=1.0, eps=0.05)  # row 2: no certificate
        tensor([ 0.9944, -1.0000])
        >>> certify_attribution(h, radius=1.0, cos=0.9)  # largest certified eps
        tensor([0.2058, 0.0171])

    Reference:
        Wang, Kong, arXiv:2405.06361, Section 4 (the certification theorem and its equivalent
        forms; we could not read the theorem's number in the full text available to us). Deviation:
        we state the cosine step as the exact minimum of cos(h, h + v) over ||v|| <= rho (the
        tangent to the sphere of radius rho), sqrt(1 - rho^2/||h||^2); a secondary summary gives
        the paper's bound as ||h|| / sqrt(||h||^2 + rho^2), which is larger (the case v orthogonal to
        h only) and which we could not verify against the paper's full text, so we use the smaller,
        provably valid value. We did not find official code.
    """
    if not isinstance(smoothed, torch.Tensor) or not smoothed.is_floating_point() or smoothed.dim() < 1:
        raise ValueError("smoothed must be a floating-point tensor of shape (N, ...)")
    if not bool(torch.isfinite(smoothed).all()):
        raise ValueError("smoothed contains NaN or infinite values")
    radius = _check_number(radius, "radius", positive=True)
    bound = _check_number(bound, "bound", positive=True)
    if (eps is None) == (cos is None):
        raise ValueError("give exactly one of eps (-> cosine bound) or cos (-> certified eps)")
    n, dim = smoothed.shape[0], smoothed[0].numel()
    norm = smoothed.reshape(n, -1).norm(dim=1)  # ||h(x)||, (N,)
    if cos is not None:
        tau = float(cos) if isinstance(cos, numbers.Real) and not isinstance(cos, bool) else math.nan
        if not -1.0 < tau < 1.0:
            raise ValueError(f"cos must be a number in (-1, 1), got {cos!r}")
        q = (norm / bound * math.sqrt(1.0 - tau * tau)).double().cpu().numpy()  # allowed V_U / V_S
        # rho(eps) <= q  <=>  I_x >= 1 - q/2  <=>  x >= I^{-1}(1 - q/2),  eps = 2 r sqrt(1 - x)
        level = (1.0 - q / 2.0).clip(0.0, 1.0)
        x = special.betaincinv((dim + 1) / 2.0, 0.5, level)
        out = torch.as_tensor(2.0 * radius * (1.0 - x).clip(0.0, None) ** 0.5, dtype=smoothed.dtype)
        return out.to(smoothed.device)
    eps_t = torch.as_tensor(eps, dtype=smoothed.dtype, device=smoothed.device)
    if eps_t.dim() > 1 or (eps_t.dim() == 1 and eps_t.shape != (n,)) or not bool(torch.isfinite(eps_t).all()) \
            or bool((eps_t < 0).any()):
        raise ValueError(f"eps must be a finite number >= 0 or a ({n},) tensor of them")
    rho = bound * _deviation_fraction(eps_t.expand(n), radius, dim)  # (N,)
    ratio = rho / norm.clamp_min(torch.finfo(smoothed.dtype).tiny)
    return torch.where(ratio < 1.0, (1.0 - ratio.clamp(max=1.0) ** 2).sqrt(), torch.full_like(ratio, -1.0))
