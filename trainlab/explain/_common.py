"""Plumbing shared by the gradient-based attribution methods (argument checks + chunked gradients).

`_checks.py` holds the argument checks; this file wires them into the two steps every method
repeats: evaluate the model once on the inputs to validate `target` against the real output, and
take per-row gradients of the selected output over chunks of at most `internal_batch_size` rows.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import torch
from torch import nn

from trainlab.explain._checks import check_inputs, check_int, check_target, select_target, warn_if_stochastic

__all__ = ["prepare", "output_and_grad", "row_chunks", "expand_rows"]


def prepare(
    model: Any, inputs: Any, target: Any, method: str, internal_batch_size: Any = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int | None]:
    """Validate the common arguments before any gradient is computed.

    Returns:
        (inputs detached, model output on inputs (N, ...), target index (N,) or None, chunk).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    inputs = check_inputs(inputs).detach()
    chunk = check_int(internal_batch_size, "internal_batch_size", minimum=1, allow_none=True)
    warn_if_stochastic(model, method)
    n = inputs.shape[0]
    with torch.no_grad():
        out = model(inputs)
    if not isinstance(out, torch.Tensor) or out.dim() < 1 or out.shape[0] != n:
        raise ValueError(f"model must return a tensor with {n} rows for inputs with {n} rows")
    return inputs, out, check_target(target, out), chunk


def row_chunks(total: int, chunk: int | None, device: torch.device) -> Iterator[torch.Tensor]:
    """Consecutive index ranges [start, start + chunk) covering 0..total-1."""
    step = total if chunk is None else chunk
    for start in range(0, total, step):
        yield torch.arange(start, min(start + step, total), device=device)


def output_and_grad(
    model: nn.Module, points: torch.Tensor, index: torch.Tensor | None, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Selected output f (M,) and its gradient df/dpoints (M, ...) for a chunk of M points.

    Rows are independent (eval-mode model), so the gradient of sum_m f_m is the per-row gradient.
    A model whose output does not depend on its input gives zero gradients.
    """
    points = points.detach().requires_grad_(True)
    with torch.enable_grad():
        f = select_target(model(points), index)  # (M,)
        if not f.requires_grad:
            return f.detach(), torch.zeros_like(points)
        (grad,) = torch.autograd.grad(f.sum(), points, allow_unused=True, create_graph=create_graph)
    if grad is None:
        grad = torch.zeros_like(points)
    return (f if create_graph else f.detach()), grad


def expand_rows(value: Any, inputs: torch.Tensor, rows: torch.Tensor) -> Any:
    """Pick rows `rows` of per-example options (tensors shaped like `inputs`, or (N,) targets)."""
    if isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[0] == inputs.shape[0] and (
        value.shape == inputs.shape or value.dim() == 1
    ):
        return value[rows.to(value.device)]
    return value


def noisy_attribution(
    model: nn.Module, noisy: torch.Tensor, inputs: torch.Tensor, rows: torch.Tensor, index: torch.Tensor | None,
    attribution: Callable[..., torch.Tensor] | None, options: dict[str, Any],
) -> torch.Tensor:
    """Attribution of `noisy` (M, ...), noisy copies of the examples `rows` (M,) of `inputs` (N, ...).

    With `attribution` None it is the input gradient of the target logit; otherwise the base attribution,
    called with each example's target and per-example options picked for its rows. Raises ValueError when
    the base attribution returns another shape.
    """
    rows_target = None if index is None else index[rows]
    if attribution is None:
        attr = output_and_grad(model, noisy, rows_target)[1]
    else:
        kwargs = {k: expand_rows(v, inputs, rows) for k, v in options.items()}
        attr = attribution(model, noisy, target=rows_target, **kwargs).detach()
    if attr.shape != noisy.shape:
        raise ValueError(f"attribution returned shape {tuple(attr.shape)} for inputs of shape {tuple(noisy.shape)}")
    return attr
