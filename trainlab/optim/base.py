"""Gradient transforms and the `Chain` optimizer that applies them.

A `Transform` maps a list of update tensors to a new list (as optax's GradientTransformation does),
reading its hyperparameters from the parameter group so that per-group values and LR-style schedulers
work on every hyperparameter. `Chain` is a real `torch.optim.Optimizer`: `lr` lives in ordinary param
groups, each transform's state is nested in `self.state[p]` under its own key, and the per-parameter
step counter lives under `"step"`, so `state_dict()` / `load_state_dict()` use torch's own format.

The learning rate is applied last: `p <- p - lr * u`, where `u` is the chain's output. AdamW is
`Chain(params, [ScaleByAdam(), AddDecayedWeights()])`.

Non-finite gradients: with `nonfinite="raise"` (the default) a NaN or Inf gradient raises
`FloatingPointError` naming the parameter before any state or parameter is changed; with
`nonfinite="skip"` the whole step is skipped (state untouched, returns the closure's loss);
with `nonfinite="propagate"` nothing is checked, as in `torch.optim`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import torch
from torch import Tensor

from .deferred import Deferred

NONFINITE_POLICIES = ("raise", "skip", "propagate")


class Transform:
    """Base class of gradient transforms: `init(params) -> states`, `update(...) -> updates`.

    Subclasses declare their hyperparameters in `self.hyperparams` (param-group key -> default),
    validate them in `check(group)` and never modify `updates` in place (they may be `p.grad`).
    Counters derive from `steps` (how many times each parameter has been updated, 1-based), so
    transform state holds only tensors shaped like the parameter.
    """

    name = "transform"

    def __init__(self, **hyperparams: Any) -> None:
        self.hyperparams = dict(hyperparams)

    def check(self, group: dict[str, Any]) -> None:
        """Raise ValueError naming a hyperparameter of `group` that is out of range."""

    def init(self, params: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        """Fresh per-parameter state (a dict of tensors for each parameter)."""
        return [{} for _ in params]

    def update(
        self,
        updates: list[Tensor],
        params: list[Tensor],
        states: list[dict[str, Tensor]],
        *,
        steps: list[int],
        group: dict[str, Any],
    ) -> list[Tensor]:
        raise NotImplementedError

    def update_lazy(self, updates, params, states, *, steps, group) -> "list[Tensor] | Deferred":
        """As `update`, but may return a `Deferred` (u = a / b or a * b, not yet formed) that the chain
        applies in one pass. Only called on the last transform that changes the update."""
        return self.update(updates, params, states, steps=steps, group=group)

    def passes_deferred(self, group: dict[str, Any]) -> bool:
        """True if `update` returns its input unchanged for this group (so a `Deferred` may pass it)."""
        return False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass that defines only `update_lazy` gets the `update` that materializes it (bound to its
        # own `update_lazy`, so a further subclass overriding `update` and calling super().update is
        # served by this one). A subclass that redefines `update` but not `update_lazy` must not inherit
        # a parent's `update_lazy`, which would skip the subclass's own `update`.
        super().__init_subclass__(**kwargs)
        if "update_lazy" in cls.__dict__ and "update" not in cls.__dict__:
            cls.update = _materializing(cls.__dict__["update_lazy"])  # type: ignore[method-assign]
        elif "update" in cls.__dict__ and "update_lazy" not in cls.__dict__:
            cls.update_lazy = Transform.update_lazy  # type: ignore[method-assign]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"{type(self).__name__}({args})"


def _materializing(update_lazy: Callable[..., Any]) -> Callable[..., list[Tensor]]:
    """`update` for a transform that defines `update_lazy`: its result as a list of tensors."""
    def update(self, updates, params, states, *, steps, group):
        out = update_lazy(self, updates, params, states, steps=steps, group=group)
        return out.materialize() if isinstance(out, Deferred) else out

    update.__doc__ = "As `update_lazy`, with a `Deferred` result formed into a list of tensors."
    return update


def check_range(name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = True) -> None:
    """Raise ValueError naming `name` unless low <= value < high (interval ends configurable)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if not (ok_low and ok_high) or v != v:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value!r}")


def check_betas(group: dict[str, Any], count: int) -> None:
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != count:
        raise ValueError(f"betas must be a tuple of {count} numbers, got {betas!r}")
    for i, b in enumerate(betas):
        check_range(f"betas[{i}]", b, 0.0, 1.0)


def merge_hyperparams(transforms: Sequence[Transform]) -> dict[str, Any]:
    """Union of the transforms' hyperparameters; a key declared twice must agree."""
    merged: dict[str, Any] = {}
    for t in transforms:
        for key, value in t.hyperparams.items():
            if key in merged and merged[key] != value:
                raise ValueError(
                    f"hyperparameter {key!r} is declared by two transforms with different defaults "
                    f"({merged[key]!r} and {value!r}); rename one"
                )
            merged[key] = value
    return merged


def state_keys(transforms: Sequence[Transform]) -> list[str]:
    """Keys under which each transform's state is nested in `optimizer.state[p]`."""
    return [f"{i}.{t.name}" for i, t in enumerate(transforms)]


def by_step(steps: Sequence[int]) -> dict[int, list[int]]:
    """Indices of the tensors at each step count (usually one group), so foreach ops get scalars."""
    if len(steps) == 1:  # the compiled flat path: don't hash t, torch.compile would specialise on it
        return _OneStep(steps[0])  # type: ignore[return-value]
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(steps):
        groups.setdefault(t, []).append(i)
    return groups


class _OneStep:
    def __init__(self, t: Any) -> None:
        self.t = t

    def items(self) -> list[tuple[Any, list[int]]]:
        return [(self.t, [0])]


def step_counts(counters: list[Tensor]) -> list[int]:
    """`[int(c) for c in counters]` with one host sync instead of one per counter (0-d step tensors)."""
    try:
        return [int(c) for c in torch.stack(counters).tolist()]
    except RuntimeError:  # counters on different devices (a hand-edited state): read them one by one
        return [int(c) for c in counters]


def check_params(groups: Iterable[dict[str, Any]]) -> None:
    for gi, group in enumerate(groups):
        for pi, p in enumerate(group["params"]):
            if p.is_complex():
                raise ValueError(
                    f"parameter {pi} of param group {gi} is complex; complex parameters are not "
                    "supported (optimise torch.view_as_real(p) instead)"
                )


def _finite(g: Tensor) -> bool:
    """True if `g` holds no NaN/Inf: min and max survive a NaN or Inf, and nothing can overflow."""
    return g.numel() == 0 or bool(torch.isfinite(torch.stack(torch.aminmax(g.reshape(-1)))).all())


def all_finite(tensors: Sequence[Tensor]) -> bool:
    """True if no tensor holds a NaN or Inf, with one host sync per (device, dtype) group.

    Why: one reduction and one sync per tensor dominated the step for many small tensors. Each
    (device, dtype) group gets one `torch._foreach_norm` (a NaN or Inf in a tensor makes its 2-norm
    NaN or Inf; no copy of the gradients is made) and one `isfinite().all()`. A finite tensor whose
    2-norm overflows (elements beyond ~1e19 in float32) makes the fused test fail, so a failure is
    confirmed tensor by tensor with an exact min/max test before False is returned. Half-precision
    norms are accumulated and returned in float32, so they do not overflow at 65504.
    """
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for g in tensors:
        if g.numel():
            groups.setdefault((g.device, g.dtype), []).append(g)
    for (_, dtype), group in groups.items():
        wide = torch.float32 if dtype in (torch.float16, torch.bfloat16) else None
        norms = torch._foreach_norm(group, 2, dtype=wide)
        if not bool(torch.isfinite(torch.stack(norms)).all()) and not all(_finite(g) for g in group):
            return False
    return True


class TransformRunner:
    """Applies a transform list to the parameters of one param group, holding state in `state`."""

    def __init__(self, transforms: Sequence[Transform], nonfinite: str) -> None:
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
        self.transforms = list(transforms)
        self.keys = state_keys(self.transforms)
        self.nonfinite = nonfinite
        # id(param group) -> (the step counters of its last stepped parameters, the 1-D buffer they view)
        self._counters: dict[int, tuple[list[Tensor], Tensor]] = {}

    def check_group(self, group: dict[str, Any]) -> None:
        for t in self.transforms:
            t.check(group)

    def grads_ok(self, param_groups: list[dict[str, Any]]) -> bool:
        """Validate gradients of all groups before any state changes; False means skip the step."""
        located, grads = [], []
        for gi, group in enumerate(param_groups):
            for pi, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ValueError(f"parameter {pi} of param group {gi} has a sparse gradient; not supported")
                located.append((gi, pi))
                grads.append(p.grad)
        if self.nonfinite == "propagate" or not grads:
            return True
        if all_finite(grads):
            return True
        if self.nonfinite == "skip":
            return False
        # only now, after the fused check failed, look for the first offending tensor (one sync each)
        gi, pi = next(loc for loc, g in zip(located, grads) if not _finite(g))
        raise FloatingPointError(
            f"non-finite gradient in parameter {pi} of param group {gi} (pass nonfinite='skip' to skip such steps)"
        )

    def run(self, group: dict[str, Any], state: dict[Tensor, dict[str, Any]],
            lazy: bool = False) -> tuple[list[Tensor], "list[Tensor] | Deferred"]:
        """Return (params with grads, transformed updates) for one group, advancing the state.

        With `lazy=True` the updates may be a `Deferred` (see `trainlab.optim.deferred`): the last
        transform that changes the update is asked for one, and the transforms after it pass it through.
        """
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return [], []
        fresh = [p for p in params if "step" not in state[p]]
        if fresh:
            for p in fresh:
                # float32 scalar on CPU, as torch's own optimizers keep it
                state[p]["step"] = torch.tensor(0.0, dtype=torch.float32)
            for key, t in zip(self.keys, self.transforms):
                for p, s in zip(fresh, t.init(fresh)):
                    state[p][key] = s
        states = [state[p] for p in params]
        steps = self._advance(group, states)
        updates = [p.grad for p in params]
        last = len(self.transforms) - 1
        if lazy:
            while last >= 0 and self.transforms[last].passes_deferred(group):
                last -= 1
        # only transform `last` may return a Deferred; every transform after it passes it through
        for i, (key, t) in enumerate(zip(self.keys, self.transforms)):
            update = t.update_lazy if lazy and i == last else t.update
            updates = update(updates, params, [s[key] for s in states], steps=steps, group=group)
        return params, updates

    def _advance(self, group: dict[str, Any], states: list[dict[str, Any]]) -> list[int]:
        """Add 1 to each `state["step"]` and return the new counts as ints.

        Why: a foreach add over hundreds of 0-d counters costs as much as a foreach op over the
        parameters themselves. So the counters are 0-d views into one 1-D float32 buffer per group (still
        torch's per-parameter format in `state_dict`), advanced with one add and read with one sync.
        The buffer is used only while every counter of this step is the very object it handed out (a
        counter replaced by `load_state_dict` or by hand, or another set of parameters with gradients,
        falls back to the per-counter add and then re-bases the counters onto a new buffer).
        """
        counters = [s["step"] for s in states]
        cached = self._counters.get(id(group))
        if cached is not None and len(cached[0]) == len(counters) and all(a is b for a, b in zip(cached[0], counters)):
            base = cached[1]
            base.add_(1)
            return [int(c) for c in base.tolist()]
        torch._foreach_add_(counters, 1)
        steps = step_counts(counters)
        if all(c.dim() == 0 and c.dtype == torch.float32 and c.device.type == "cpu" for c in counters):
            base = torch.stack(counters)
            views = list(base.unbind(0))
            for s, v in zip(states, views):
                s["step"] = v
            self._counters[id(group)] = (views, base)
        return steps


class Chain(torch.optim.Optimizer):
    """An optimizer built from gradient transforms, with the learning rate applied last.

    Update rule: u = T_k(...T_1(g)); p <- p - lr * u.

    Args:
        params: parameters or param-group dicts, as for any torch optimizer.
        transforms: the `Transform` instances, applied in order.
        lr: learning rate (>= 0).
        nonfinite: "raise" | "skip" | "propagate" for NaN/Inf gradients (see module docstring).
        **hyperparams: overrides of the transforms' hyperparameter defaults (e.g. `weight_decay=0.1`).

    Example:
        >>> from trainlab.optim import Chain, ScaleByAdam, AddDecayedWeights
        >>> w = torch.nn.Parameter(torch.ones(3))
        >>> opt = Chain([w], [ScaleByAdam(), AddDecayedWeights(weight_decay=0.01)], lr=0.1)
        >>> (w ** 2).sum().backward(); opt.step()
    """

    def __init__(
        self,
        params: Iterable[Any],
        transforms: Sequence[Transform],
        lr: float = 1e-3,
        *,
        nonfinite: str = "raise",
        **hyperparams: Any,
    ) -> None:
        self._runner = TransformRunner(transforms, nonfinite)
        defaults = merge_hyperparams(transforms)
        unknown = sorted(set(hyperparams) - set(defaults))
        if unknown:
            raise ValueError(
                f"unknown hyperparameter(s) {', '.join(map(repr, unknown))}; accepted: lr, {', '.join(sorted(defaults))}"
            )
        defaults.update(hyperparams)
        defaults["lr"] = lr
        super().__init__(params, defaults)
        check_params(self.param_groups)

    @property
    def transforms(self) -> list[Transform]:
        return self._runner.transforms

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_range("lr", group["lr"], 0.0, float("inf"))
        self._runner.check_group(group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not self._runner.grads_ok(self.param_groups):
            return loss
        if getattr(self, "_fast_step", None) is not None:  # set by trainlab.optim.compiled.compile_chain
            self._fast_step(self)
            return loss
        for group in self.param_groups:
            params, updates = self._runner.run(group, self.state, lazy=True)
            if not params:
                continue
            if isinstance(updates, Deferred):
                updates.apply_(params, group["lr"])  # one addcdiv_/addcmul_ instead of forming u first
            else:
                torch._foreach_add_(params, updates, alpha=-group["lr"])
        return loss

    def __repr__(self) -> str:
        return f"Chain({self.transforms!r}, lr={self.defaults['lr']})"
