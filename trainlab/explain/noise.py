"""SmoothGrad, squared SmoothGrad and VarGrad: average an attribution over Gaussian-noised inputs."""

from __future__ import annotations

import numbers
from typing import Any, Callable

import torch
from torch import nn

from trainlab.explain._checks import check_int
from trainlab.explain._common import noisy_attribution, output_and_grad, prepare, row_chunks
from trainlab.registry import register

__all__ = ["input_gradient", "smoothgrad", "smoothgrad_sq", "vargrad"]

Attribution = Callable[..., torch.Tensor]
_PAPER = "SmoothGrad: removing noise by adding noise"


def input_gradient(
    model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None = None,
    internal_batch_size: int | None = None,
) -> torch.Tensor:
    """Gradient of the (target) output with respect to the inputs, shape (N, ...)."""
    inputs, _, index, chunk = prepare(model, inputs, target, "input gradients", internal_batch_size)
    out = torch.empty_like(inputs)
    for rows in row_chunks(inputs.shape[0], chunk, inputs.device):
        out[rows] = output_and_grad(model, inputs[rows], None if index is None else index[rows])[1]
    return out


def _noise_tunnel(
    model: nn.Module, inputs: torch.Tensor, target: Any, attribution: Attribution | None, n_samples: int,
    stdev: float | None, noise_level: float, generator: torch.Generator | None,
    internal_batch_size: int | None, options: dict[str, Any], statistic: str,
) -> torch.Tensor:
    """Mean ("mean"), mean of squares ("square") or variance ("var") of attribution(x + e_s)."""
    inputs, _, index, chunk = prepare(model, inputs, target, "SmoothGrad", internal_batch_size)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    if attribution is not None and not callable(attribution):
        raise ValueError(f"attribution must be a callable attribution method, got {type(attribution).__name__}")
    for name, value in (("stdev", stdev), ("noise_level", noise_level)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    n = inputs.shape[0]
    flat = inputs.reshape(n, -1)
    view = (-1,) + (1,) * (inputs.dim() - 1)
    # sigma per example (N,): absolute, or a fraction of that example's value range (the paper's).
    sigma = (torch.full((n,), float(stdev), dtype=inputs.dtype, device=inputs.device) if stdev is not None
             else noise_level * (flat.max(1).values - flat.min(1).values))
    # Running sums over samples (Chan's parallel update for the variance): each (N, ...).
    mean, m2 = torch.zeros_like(inputs), torch.zeros_like(inputs)
    # Rows are example-major (row r = sample r % S of example r // S), as in Captum's NoiseTunnel, so
    # with the global RNG and one chunk the noise draws coincide with Captum's.
    for rows in row_chunks(n * n_samples, chunk, inputs.device):
        i = rows // n_samples
        shape = (len(rows),) + tuple(inputs.shape[1:])
        if generator is None:
            eps = torch.randn(shape, dtype=inputs.dtype, device=inputs.device)
        else:
            eps = torch.randn(shape, generator=generator, dtype=inputs.dtype, device=generator.device).to(inputs.device)
        noisy = inputs[i] + sigma[i].view(view) * eps  # (M, ...)
        attr = noisy_attribution(model, noisy, inputs, i, index, attribution, options)
        if statistic == "square":
            attr = attr * attr
        _accumulate(mean, m2, i, attr, rows % n_samples)
    if statistic == "var":
        return m2 / n_samples
    return mean


def _accumulate(mean: torch.Tensor, m2: torch.Tensor, ex: torch.Tensor, attr: torch.Tensor, slot: torch.Tensor) -> None:
    """Welford update of per-example running mean / sum of squared deviations for sample slots."""
    for j in torch.unique(slot).tolist():
        sel = slot == j
        e, a = ex[sel], attr[sel]
        delta = a - mean[e]
        mean[e] += delta / (j + 1)  # sample slot j is the (j+1)-th sample of example e
        m2[e] += delta * (a - mean[e])


_ARGS_DOC = """
    Args:
        model: any module mapping (M, ...) to (M,), (M, 1) or (M, C); use eval mode.
        inputs: the batch to explain, shape (N, ...).
        target: None (scalar output), an int column or a (N,) integer tensor.
        attribution: the attribution smoothed, called as `attribution(model, noisy, target=...,
            **options)` on chunks of noisy copies; None = the plain input gradient (the paper's).
        n_samples: number of noisy copies per example (the paper uses ~50).
        stdev: absolute noise standard deviation; when None, `noise_level` is used.
        noise_level: sigma as a fraction of each example's value range x.max() - x.min()
            (the paper recommends 0.1-0.2).
        generator: torch.Generator for the noise (reproducible); None uses the global RNG.
        internal_batch_size: at most this many noisy copies per call of `attribution`
            (bounds memory); None = all N * n_samples at once.
        **options: passed to `attribution`; tensors shaped like `inputs` (e.g. a per-example
            baseline) or (N,) are indexed alongside the noisy copies.

"""


def _doc(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn.__doc__ = fn.__doc__.replace("    {args}\n", _ARGS_DOC.lstrip("\n"))
    return fn


@register("attribution", "smoothgrad", paper=_PAPER, arxiv="1706.03825", code="https://github.com/PAIR-code/saliency")
@_doc
def smoothgrad(
    model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None = None,
    attribution: Attribution | None = None, n_samples: int = 50, stdev: float | None = None,
    noise_level: float = 0.15, generator: torch.Generator | None = None,
    internal_batch_size: int | None = None, **options: Any,
) -> torch.Tensor:
    """SmoothGrad: the mean of an attribution over Gaussian-noised copies of the input.

    M_hat(x) = (1 / n) sum_{s=1..n} M(x + e_s),  e_s ~ N(0, sigma^2 I),
    with M the input gradient by default or any attribution method (e.g. integrated gradients).

    {args}
    Returns:
        The smoothed attributions, shape of `inputs`.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
        >>> smoothgrad(model, torch.randn(2, 4), target=0, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 4])

    Reference:
        Smilkov, Thorat, Kim, Viegas, Wattenberg. "SmoothGrad: removing noise by adding noise",
        arXiv:1706.03825. The same noise is used for every method wrapped (one draw per copy).
    """
    return _noise_tunnel(model, inputs, target, attribution, n_samples, stdev, noise_level, generator,
                         internal_batch_size, options, "mean")


@register("attribution", "smoothgrad_sq", paper=_PAPER, arxiv="1706.03825", code="https://github.com/PAIR-code/saliency")
@_doc
def smoothgrad_sq(
    model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None = None,
    attribution: Attribution | None = None, n_samples: int = 50, stdev: float | None = None,
    noise_level: float = 0.15, generator: torch.Generator | None = None,
    internal_batch_size: int | None = None, **options: Any,
) -> torch.Tensor:
    """Squared SmoothGrad: the mean of the squared attribution over Gaussian-noised inputs.

    M_sq(x) = (1 / n) sum_{s=1..n} M(x + e_s)^2,  e_s ~ N(0, sigma^2 I).

    {args}
    Returns:
        The non-negative smoothed squared attributions, shape of `inputs`.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
        >>> bool((smoothgrad_sq(model, torch.randn(2, 4), target=0) >= 0).all())
        True

    Reference:
        Registered under "SmoothGrad: removing noise by adding noise" (arXiv:1706.03825), the
        catalog entry that lists this variant; SmoothGrad-Squared itself was named by Hooker et
        al., "A Benchmark for Interpretability Methods in Deep Neural Networks" (not in the catalog).
    """
    return _noise_tunnel(model, inputs, target, attribution, n_samples, stdev, noise_level, generator,
                         internal_batch_size, options, "square")


@_doc
def vargrad(
    model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None = None,
    attribution: Attribution | None = None, n_samples: int = 50, stdev: float | None = None,
    noise_level: float = 0.15, generator: torch.Generator | None = None,
    internal_batch_size: int | None = None, **options: Any,
) -> torch.Tensor:
    """VarGrad: the variance of an attribution over Gaussian-noised copies of the input.

    V(x) = (1 / n) sum_{s=1..n} (M(x + e_s) - M_hat(x))^2 (population variance, as in Captum),
    accumulated with Welford's update so memory does not grow with n.

    {args}
    Returns:
        The non-negative attribution variance, shape of `inputs`.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
        >>> vargrad(model, torch.randn(2, 4), target=0, n_samples=8).shape
        torch.Size([2, 4])

    Reference:
        Adebayo et al., "Local Explanation Methods for Deep Neural Networks Lack Sensitivity to
        Parameter Values" (arXiv:1810.03307). Not registered: neither that paper nor another
        that introduces VarGrad is in the catalog.
    """
    return _noise_tunnel(model, inputs, target, attribution, n_samples, stdev, noise_level, generator,
                         internal_batch_size, options, "var")
