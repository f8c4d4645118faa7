"""A compiled step for `Chain`: the transforms' own `update` code run by torch.compile on flat buffers.

Update rule: exactly the chain's, u = T_k(...T_1(g)); p <- p - lr * u, computed on one flat buffer per
(param group, device, dtype, step count) bucket instead of a Python loop over tensors. Parameters and
every state tensor become views into flat storage (so `optimizer.state[p]` and `state_dict()` keep
torch's per-parameter format and eager <-> compiled checkpoints are interchangeable); gradients are
gathered with one `torch.cat` into a reused buffer per step (skipped when `p.grad` already views it).

Fast-path costs (measured on a 25M-parameter MLP, 2 CPU threads): after the first step every `p.grad`
is a view of the flat gradient buffer, so with `zero_grad(set_to_none=False)` backward accumulates
straight into it and no gather runs; `zero_grad(set_to_none=True)` (torch's default) makes backward
allocate fresh gradients, which forces one extra read+write of every gradient per step (the gather).
The chain's non-finite check runs as one aminmax per flat buffer instead of one per tensor, and the
per-step validity checks are C-level loops, so a 400-tensor step has ~0.3 ms of Python overhead. The
kernel is compiled with inductor's `cpp.dynamic_threads` so it always has an OpenMP parallel loop
(without it, a first compile on a small model produced a single-threaded kernel reused for all sizes).

Why flat: torch.compile over a Python loop of 400 tensors took minutes to compile, while one flat
buffer compiles in seconds and runs as one fused kernel. The graph is compiled with `dynamic=True`
and torch's default `specialize_float=False`, so the step count, lr (schedulers) and every float
hyperparameter are graph inputs: changing them does not recompile. Integer/None/bool hyperparameters
(warm-up lengths, flags) are baked in; a branch on the step (Grokfast's first step, AdEMAMix's warm-up
end) costs one extra compile when it flips. Compile time is paid on the first steps and recorded in
`opt.compile_stats` (`{"compiles": n, "seconds": s}`) and logged once per compile.

Only transforms whose class sets `elementwise = True` are accepted (their math acts per element, with
per-tensor scalars that depend only on the step and the group); others (global-norm clipping,
subset norms, SVD projections, DoG's norms, quantile clipping ...) raise ValueError naming them.

Deviation from the eager loop: inductor fuses and may reorder float ops, so trajectories agree with
the eager `Chain` to float rounding, not bit for bit (tested for every registered elementwise chain
over 25 steps: within 1e-6, or 3e-6 for EXAdam and 6e-6 for Optimistic AMSGrad, whose ratios with small
denominators amplify rounding). Parameters are re-pointed into contiguous flat storage (`p.data` is
replaced; a channels_last parameter becomes contiguous). Checkpoints reloaded into a compiled optimizer
continue bit-identically.
"""

from __future__ import annotations

import logging
import operator
import time
import itertools
import types
from typing import Any

import torch
from torch import Tensor

from .base import Chain

log = logging.getLogger(__name__)
_COUNTER = itertools.count()


def _first(x: Any) -> Any:
    return x[0] if isinstance(x, (list, tuple)) else x


def _scaled(other: Any, scale: Any) -> Any:
    other = _first(other)
    return other if scale is None else other * scale


def _shim(name: str) -> Any:
    """Per-tensor stand-in for `torch._foreach_<op>` on a one-tensor list.

    Inductor specialises (recompiles for every value of) a float passed as a Scalar argument of a
    foreach op or as `alpha=`/`value=`/lerp weight, but not one used in plain tensor arithmetic. The
    transforms' foreach calls are rewritten to that arithmetic while tracing, so lr and the step stay
    graph inputs: `add_(y, alpha=a)` -> `add_(y * a)`, `lerp_(y, w)` -> `add_((y - x) * w)`,
    `addcmul_(a, b, value=v)` -> `add_(a * b * v)`. Equal to the foreach ops up to rounding.
    """
    op = name[len("_foreach_"):]
    inplace = op.endswith("_")
    base = op.rstrip("_")

    def compute(x: Tensor, args: tuple, kw: dict) -> Tensor:
        if base in ("add", "sub"):
            y = _scaled(args[0], kw.get("alpha"))
            return x + y if base == "add" else x - y
        if base == "lerp":
            return x + (_first(args[0]) - x) * _first(args[1])
        if base in ("addcmul", "addcdiv"):
            a, b = _first(args[0]), _first(args[1])
            return x + _scaled(a * b if base == "addcmul" else a / b, kw.get("value", args[2] if len(args) > 2 else None))
        return getattr(torch, base)(x, *map(_first, args), **kw)

    def shim(xs: list[Tensor], *args: Any, **kw: Any) -> Any:
        if len(xs) != 1:
            return _ORIGINAL[name](xs, *args, **kw)
        x = xs[0]
        if not inplace:
            return [compute(x, args, kw)]
        if base == "copy":
            x.copy_(_first(args[0]))
        elif base in ("zero", "sqrt", "abs", "neg", "sign", "exp", "log", "reciprocal"):
            getattr(x, op)()
        else:
            x.copy_(compute(x, args, kw))
        return None

    return shim


_ORIGINAL = {n: getattr(torch, n) for n in dir(torch) if n.startswith("_foreach_")}
_SHIMS = {n: _shim(n) for n in _ORIGINAL}


class _ForeachAsTensorOps:
    """Swap torch._foreach_* for the shims while a compiled step runs (guards see the same objects)."""

    def __enter__(self) -> None:
        for n, f in _SHIMS.items():
            setattr(torch, n, f)

    def __exit__(self, *exc: Any) -> None:
        for n, f in _ORIGINAL.items():
            setattr(torch, n, f)


def _flat_step(transforms: list, p: Tensor, g: Tensor, states: list[dict[str, Tensor]], t: Any, hp: dict) -> None:
    # the transforms' own update code, on one-element lists of flat tensors (shape (n,))
    updates = [g]
    for tr, s in zip(transforms, states):
        updates = tr.update(updates, [p], [s], steps=[t], group=hp)
    p.add_(updates[0] * -hp["lr"])  # the eager chain's _foreach_add_(params, updates, alpha=-lr)


_COMPILED: dict[tuple, tuple[Any, dict[str, int]]] = {}


# Why: the graph is compiled once with dynamic sizes, and inductor decides whether a CPU kernel gets an
# OpenMP parallel loop from the size hint of the *first* compile (and its FX graph cache ignores hints),
# so a first compile on a small model (or a cached one) made every later, 25M-element step run on one
# thread. dynamic_threads always emits the parallel loop and lets the OpenMP runtime size it.
_INDUCTOR_PATCHES = {"cpp.dynamic_threads": True}


def _counting_backend(counter: dict[str, int]) -> Any:
    def backend(gm: Any, example_inputs: Any) -> Any:
        from torch._inductor.compile_fx import compile_fx

        counter["compiles"] += 1
        return compile_fx(gm, example_inputs, config_patches=_INDUCTOR_PATCHES)

    return backend


def _grad_ptr(p: Tensor) -> int:
    g = p.grad
    return -1 if g is None else g.data_ptr()


class _Bucket:
    """Parameters of one (device, dtype, step) set, with flat parameter/state/step/grad storage."""

    def __init__(self, params: list[Tensor], state: dict, keys: list[str]) -> None:
        self.params = params
        sizes = [p.numel() for p in params]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self.flat_p = torch.cat([p.detach().reshape(-1) for p in params])
        for p, view in zip(params, self._views(self.flat_p)):
            p.data = view
        self.ptrs = [p.data_ptr() for p in params]
        self.steps = torch.stack([state[p]["step"].detach().to(torch.float32).cpu() for p in params])
        self.states: list[dict[str, Tensor]] = []
        for key in keys:
            names = list(state[params[0]][key])
            flat: dict[str, Tensor] = {}
            for name in names:
                parts = []
                for pi, p in enumerate(params):
                    v = state[p][key].get(name)
                    if not isinstance(v, Tensor) or v.shape != p.shape or v.dtype != p.dtype:
                        raise ValueError(f"state {key}/{name} of parameter {pi} is not a tensor shaped like the "
                                         "parameter; this transform cannot run on flat buffers")
                    parts.append(v.detach().reshape(-1))
                flat[name] = torch.cat(parts)
                for p, view in zip(params, self._views(flat[name])):
                    state[p][key][name] = view
            self.states.append(flat)
        for i, p in enumerate(params):
            state[p]["step"] = self.steps[i]  # 0-d float32 view, torch's counter format
        self.flat_g = torch.empty_like(self.flat_p)
        self.grad_ptrs = [v.data_ptr() for v in self._views(self.flat_g)]
        self.state_dicts = [state[p] for p in params]

    def _views(self, flat: Tensor) -> list[Tensor]:
        return [flat[o:o + p.numel()].view(p.shape) for o, p in zip(self.offsets, self.params)]

    # The per-step checks below run over every parameter, so they use map() (C-level loops): with 400
    # tensors a Python generator per check cost ~0.5 ms a step, a sizeable part of a 4 ms fused step.
    def valid(self, state: dict) -> bool:
        """False when parameters were re-pointed or their state dicts replaced (e.g. by load_state_dict).

        Not checked per step (it cost more than the rest): a `state[p]["step"]` tensor replaced by hand
        inside a live state dict; call `compile_chain` again after such surgery.
        """
        return (list(map(Tensor.data_ptr, self.params)) == self.ptrs
                and all(map(operator.is_, map(state.get, self.params), self.state_dicts)))

    def grads_in_place(self) -> bool:
        """True when every `p.grad` is this bucket's view of `flat_g` (set by the last `gather_grads`).

        torch refuses a `p.grad` whose shape differs from `p`, so the start address identifies the view.
        """
        return list(map(_grad_ptr, self.params)) == self.grad_ptrs

    def gather_grads(self) -> Tensor:
        if not self.grads_in_place():
            torch.cat([p.grad.reshape(-1) for p in self.params], out=self.flat_g)
            for p, view in zip(self.params, self._views(self.flat_g)):
                p.grad = view  # with zero_grad(set_to_none=False) backward accumulates here: no cat next step
        return self.flat_g


class FlatStep:
    """The compiled step installed on a `Chain` by `compile_chain`; holds the flat buckets."""

    def __init__(self, opt: Chain, mode: str | None) -> None:
        self.keys = list(opt._runner.keys)
        self.transforms = list(opt.transforms)
        self.stats = opt.compile_stats = {"compiles": 0, "seconds": 0.0}
        # one compiled function per chain configuration, shared by every optimizer built the same way
        # (dynamo guards on the transforms' types and attribute values, not their identity); each gets
        # its own code object, because dynamo's cache and recompile budget are per code object
        signature = (mode, tuple((type(t), tuple(sorted((k, repr(v)) for k, v in vars(t).items())))
                                 for t in self.transforms))
        if signature not in _COMPILED:
            code = _flat_step.__code__.replace(co_name=f"_flat_step_{next(_COUNTER)}")
            fn = types.FunctionType(code, _flat_step.__globals__, code.co_name)
            counter = {"compiles": 0}
            _COMPILED[signature] = (torch.compile(fn, mode=mode, dynamic=True, fullgraph=True,
                                                  backend=_counting_backend(counter)), counter)
        self.fn, self._counter = _COMPILED[signature]
        self.layouts: dict[int, tuple[tuple[int, ...], list[_Bucket]]] = {}
        # (opt.state, {group index: buckets}) validated by grads_ok for the step that follows it
        self._verified: tuple[dict, dict[int, list[_Bucket]]] | None = None

    def _ready(self, opt: Chain, gi: int, group: dict[str, Any]) -> list[_Bucket] | None:
        """The group's cached buckets if they still fit (same parameters with gradients, same storage
        and state, every `p.grad` their flat view), else None. One pass of C-level loops."""
        cached = self.layouts.get(gi)
        if cached is None:
            return None
        ident, buckets = cached
        if tuple(map(id, group["params"])) != ident:  # common case: every parameter of the group has a grad
            if tuple(id(p) for p in group["params"] if p.grad is not None) != ident:
                return None
        for b in buckets:  # grads_in_place also proves every parameter in ident has a gradient
            if not (b.grads_in_place() and b.valid(opt.state)):
                return None
        return buckets

    def grads_ok(self, opt: Chain, checked: Any, param_groups: list[dict[str, Any]]) -> bool:
        """The chain's non-finite gradient check, on the flat gradient buffers when they hold every gradient.

        Why: the eager check runs a min/max per tensor (400 small kernels and a stack on many-tensor
        models); on flat buffers it is one aminmax per bucket. A finite result is final (a NaN or Inf
        survives min and max); anything else re-runs the eager check, so errors (naming the parameter),
        skips and the sparse-gradient error are exactly the eager chain's. The buckets validated here
        are handed to the step that `Chain.step` runs next, which then skips its own checks.
        """
        self._verified = None
        ready: dict[int, list[_Bucket]] = {}
        if param_groups is opt.param_groups:
            for gi, group in enumerate(param_groups):
                buckets = self._ready(opt, gi, group)
                if buckets is None:
                    if gi in self.layouts or any(p.grad is not None for p in group["params"]):
                        return checked(param_groups)
                    continue  # a group without gradients and without a layout: nothing to check
                ready[gi] = buckets
        else:
            return checked(param_groups)
        if opt._runner.nonfinite != "propagate":  # flat dense buffers: no sparse gradient to refuse
            for buckets in ready.values():
                for b in buckets:
                    f = b.flat_g
                    if f.numel() and not bool(torch.isfinite(torch.stack(torch.aminmax(f))).all()):
                        return checked(param_groups)
        self._verified = (opt.state, ready)
        return True

    def _buckets(self, opt: Chain, gi: int, params: list[Tensor]) -> list[_Bucket]:
        ident = tuple(map(id, params))
        cached = self.layouts.get(gi)
        if cached is not None and cached[0] == ident and all(b.valid(opt.state) for b in cached[1]):
            return cached[1]
        fresh = [p for p in params if "step" not in opt.state[p]]
        if fresh:  # initialise state exactly as the eager runner does
            for p in fresh:
                opt.state[p]["step"] = torch.tensor(0.0, dtype=torch.float32)
            for key, t in zip(self.keys, self.transforms):
                for p, s in zip(fresh, t.init(fresh)):
                    opt.state[p][key] = s
        split: dict[tuple, list[Tensor]] = {}
        for p in params:
            split.setdefault((p.device, p.dtype, int(opt.state[p]["step"])), []).append(p)
        buckets = [_Bucket(ps, opt.state, self.keys) for ps in split.values()]
        self.layouts[gi] = (ident, buckets)
        return buckets

    def __call__(self, opt: Chain) -> None:
        verified, self._verified = self._verified, None
        ready = verified[1] if verified is not None and verified[0] is opt.state else {}
        for gi, group in enumerate(opt.param_groups):
            buckets = ready.get(gi)
            if buckets is None:
                params = [p for p in group["params"] if p.grad is not None]
                if not params:
                    continue
                buckets = self._buckets(opt, gi, params)
            hp = {k: v for k, v in group.items() if k != "params"}
            for b in buckets:
                b.steps.add_(1)
                t = int(b.steps[0])
                g = b.flat_g if gi in ready else b.gather_grads()
                before, t0 = self._counter["compiles"], time.perf_counter()
                # the first step runs the same code uncompiled: transforms branch on t == 1 (Grokfast's EMA
                # starts from the first gradient), which would cost a compile specialised to t = 1, and
                # torch 2.13 fails a guard it creates itself on such a graph's per-step scalars (hoist.py)
                fn = _flat_step if t == 1 else self.fn
                with _ForeachAsTensorOps():
                    fn(self.transforms, b.flat_p, g, b.states, t, hp)
                if self._counter["compiles"] != before:
                    seconds = time.perf_counter() - t0
                    self.stats["compiles"] += self._counter["compiles"] - before
                    self.stats["seconds"] += seconds
                    log.info("compiled the flat step of %r in %.1f s (step %d)", opt, seconds, t)


def compile_chain(opt: Chain, *, mode: str | None = None) -> Chain:
    """Make `opt.step()` run the chain's transforms as one torch.compile'd kernel per flat bucket.

    Update rule: unchanged (see module docstring); trajectories match the eager chain to rounding.

    Args:
        opt: a `Chain` whose transforms all set `elementwise = True`.
        mode: torch.compile mode (None, "reduce-overhead", "max-autotune", ...).

    Returns:
        `opt` itself (modified in place); `opt.compile_stats` reports compiles and seconds spent.

    Example:
        >>> opt = compile_chain(trainlab.create("adamw", model.parameters(), lr=1e-3))
        >>> loss.backward(); opt.step()   # the first steps compile (seconds), later ones are fast

    Reference: compile design measured in trainlab issue 7 ("Fast path").
    """
    if not isinstance(opt, Chain):
        raise ValueError(f"opt must be a trainlab Chain, got {type(opt).__name__}")
    if mode is not None and not isinstance(mode, str):
        raise ValueError(f"mode must be a torch.compile mode string or None, got {mode!r}")
    for t in opt.transforms:
        if not getattr(t, "elementwise", False):
            raise ValueError(
                f"transform {type(t).__name__} ({t.name!r}) is not elementwise (it does not set "
                "elementwise = True), so it cannot be compiled on flat buffers; use the eager Chain"
            )
    flat = opt._fast_step = FlatStep(opt, mode)
    runner = opt._runner
    # the chain calls runner.grads_ok before the fast step; route it through the flat check (instance
    # attribute, so only this optimizer is affected; compiling twice re-wraps the eager check, not a wrapper)
    checked = runner.__dict__.get("_eager_grads_ok", runner.grads_ok)
    runner._eager_grads_ok = checked
    runner.grads_ok = lambda param_groups: flat.grads_ok(opt, checked, param_groups)
    return opt
