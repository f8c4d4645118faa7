"""ms/step of every registered optimizer next to torch AdamW (foreach, fused) and pytorch-optimizer.

Two workloads: (a) 200 tensors of 64x64 plus 200 of 64 (many small tensors: per-tensor overhead),
(b) a 25M-parameter MLP (few large tensors: memory bandwidth). Gradients are fixed random tensors so
only the optimizer step is timed. Prints ratios to torch.optim.AdamW(fused=True) measured in the same
run, and the optimizer-state bytes per parameter. Optimizers whose transforms are all elementwise also
get a compiled column (`trainlab.optim.compiled.compile_chain`: one fused kernel per flat buffer); their
compile time (paid once, on the first steps) is printed in its own column and not included in ms/step.

    python benchmarks/optim_step.py            # both workloads
    python benchmarks/optim_step.py --quick    # workload (a) only, fewer repeats
    python benchmarks/optim_step.py --nonfinite propagate   # without the NaN/Inf gradient check
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import trainlab
from trainlab.optim.base import Chain
from trainlab.optim.compiled import compile_chain

# trainlab name -> pytorch-optimizer class of the same method (benchmarked when installed), and the
# keyword arguments that select the same variant
PEERS = {
    "ademamix": "AdEMAMix", "adabound": "AdaBound", "amsbound": "AdaBound", "grams": "Grams", "exadam": "EXAdam",
    "stable_spam": "StableSPAM", "spam": "SPAM", "adamomentum": "AdaMomentum", "dog": "DoG", "innaprop": "INNAprop",
    "grokfast_ema_adamw": "GrokFastAdamW", "adamw": "AdamW",
}
# (grokfast: pytorch-optimizer's GrokFastAdamW defaults to weight_decay 0, trainlab's to AdamW's 1e-2; the
# peer gets the same decay so that both run the same passes)
PEER_KWARGS = {"amsbound": {"ams_bound": True}, "grokfast_ema_adamw": {"weight_decay": 1e-2}}


def workload(kind: str) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    if kind == "small":
        shapes = [(64, 64)] * 200 + [(64,)] * 200
    else:  # ~25M parameters
        shapes = [(4096, 2048), (4096,), (2048, 4096), (2048,), (2048, 2048), (2048,), (2048, 2048), (2048,)]
    params = [torch.nn.Parameter(torch.randn(s, generator=g) * 0.02) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * 1e-3
    return params


def fresh(params: list[torch.nn.Parameter]) -> list[torch.nn.Parameter]:
    """Copies (with gradients): compile_chain re-points parameters into its own flat storage."""
    out = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for q, p in zip(out, params):
        q.grad = p.grad.clone()
    return out


def compilable(opt: torch.optim.Optimizer) -> bool:
    return isinstance(opt, Chain) and all(getattr(t, "elementwise", False) for t in opt.transforms)


def time_steps(make, params, repeats: int, warmup: int = 3) -> tuple[float, int]:
    opt = make(params)
    for _ in range(warmup):
        opt.step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    state_bytes = 0
    states = list(opt.state.values()) + (list(opt.base.state.values()) if hasattr(opt, "base") else [])
    for s in states:
        stack = [s]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(v, torch.Tensor) and v.dim() > 0:
                state_bytes += v.numel() * v.element_size()
    return statistics.median(times) * 1e3, state_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="*", help="glob on trainlab optimizer names")
    ap.add_argument("--no-compile", action="store_true", help="skip the compiled column")
    ap.add_argument("--nonfinite", default="raise", choices=["raise", "skip", "propagate"],
                    help="trainlab's NaN/Inf gradient policy; 'raise' (the default) reads every gradient once "
                         "more per step, 'propagate' checks nothing, as torch and pytorch-optimizer")
    args = ap.parse_args()
    try:
        import pytorch_optimizer as po
    except ImportError:
        po = None
    workloads = ["small"] if args.quick else ["small", "large"]
    repeats = 5 if args.quick else 20
    for kind in workloads:
        params = workload(kind)
        n = sum(p.numel() for p in params)
        print(f"\n== workload {kind}: {len(params)} tensors, {n / 1e6:.1f}M parameters, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads")
        ref, _ = time_steps(lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True), params, repeats)
        rows = [("torch AdamW fused", ref, None, 8 * n, None), ("torch AdamW foreach",
                time_steps(lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True), params, repeats)[0], None, 8 * n, None)]
        for info in trainlab.list("optimizer", args.only):
            if "needs_closure" in info.flags:
                continue
            kw = {"nonfinite": args.nonfinite} if "nonfinite" in info.defaults else {}
            ms, sb = time_steps(lambda ps: info.create(ps, lr=1e-3, **kw), params, repeats)
            cms, compile_s = None, None
            probe = info.create([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
            if compilable(probe) and not args.no_compile:
                stats = {}

                def make(ps):
                    opt = compile_chain(info.create(ps, lr=1e-3, **kw))
                    stats.update(stats=opt.compile_stats)
                    return opt

                cms, _ = time_steps(make, fresh(params), repeats)
                compile_s = stats["stats"]["seconds"]
            rows.append((f"trainlab {info.name}", ms, cms, sb, compile_s))
            peer = PEERS.get(info.name)
            if po is not None and peer and hasattr(po, peer):
                try:
                    ms, sb = time_steps(lambda ps: getattr(po, peer)(ps, lr=1e-3, **PEER_KWARGS.get(info.name, {})), params, repeats)
                    rows.append((f"  pytorch-optimizer {peer}", ms, None, sb, None))
                except Exception as e:  # a peer that cannot run here is reported, not fatal
                    rows.append((f"  pytorch-optimizer {peer} failed: {type(e).__name__}", float("nan"), None, 0, None))
        print(f"{'optimizer':45s} {'ms/step':>9s} {'x fused':>8s} {'compiled':>9s} {'x fused':>8s} "
              f"{'state B/param':>14s} {'compile s':>10s}")
        for name, ms, cms, sb, cs in rows:
            comp = f"{cms:9.2f} {cms / ref:8.2f}" if cms is not None else f"{'-':>9s} {'-':>8s}"
            cstr = f"{cs:10.1f}" if cs is not None else f"{'-':>10s}"
            print(f"{name:45s} {ms:9.2f} {ms / ref:8.2f} {comp} {sb / n:14.1f} {cstr}", flush=True)


if __name__ == "__main__":
    main()
