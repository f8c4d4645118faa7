"""trainlab's eager optimizers against pytorch-optimizer's version of the same method, steps interleaved.

`optim_step.py` times each optimizer in its own block, so on a shared or throttled CPU the two sides of a
ratio can see different machine states. Here each pair (trainlab, peer) runs on copies of the same
parameters and gradients, alternating single steps (ABAB..., BABA... every other round), and the ratio of
the two medians is printed. Needs the `peers` extra (pytorch-optimizer).

    python benchmarks/optim_vs_peer.py                       # small workload, every pair
    python benchmarks/optim_vs_peer.py --workload large --steps 16
    python benchmarks/optim_vs_peer.py --nonfinite propagate # trainlab without its NaN/Inf gradient check
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import trainlab
from optim_step import PEER_KWARGS, PEERS, fresh, workload


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["small", "large"], default="small")
    ap.add_argument("--steps", type=int, default=200, help="timed steps per optimizer")
    ap.add_argument("--only", default="*", help="glob on trainlab optimizer names")
    ap.add_argument("--nonfinite", default="raise", choices=["raise", "skip", "propagate"])
    args = ap.parse_args()
    if args.steps < 2:
        raise SystemExit("--steps must be at least 2")
    try:
        import pytorch_optimizer as po
    except ImportError:
        raise SystemExit("pytorch-optimizer is not installed (pip install -e '.[peers]')") from None
    base = workload(args.workload)
    print(f"workload {args.workload}: {len(base)} tensors, {torch.get_num_threads()} threads, trainlab "
          f"nonfinite={args.nonfinite}, {args.steps} interleaved steps each")
    print(f"{'trainlab optimizer':22s} {'peer':16s} {'trainlab ms':>11s} {'peer ms':>9s} {'ratio':>6s}")
    for info in trainlab.list("optimizer", args.only):
        peer = PEERS.get(info.name)
        if peer is None or not hasattr(po, peer) or "needs_closure" in info.flags:
            continue
        kw = {"nonfinite": args.nonfinite} if "nonfinite" in info.defaults else {}
        ours = info.create(fresh(base), lr=1e-3, **kw)
        theirs = getattr(po, peer)(fresh(base), lr=1e-3, **PEER_KWARGS.get(info.name, {}))
        for _ in range(3):  # warm-up: state allocation, first-step branches
            ours.step()
            theirs.step()
        times: dict[int, list[float]] = {id(ours): [], id(theirs): []}
        for i in range(args.steps):
            for opt in (ours, theirs) if i % 2 == 0 else (theirs, ours):
                t0 = time.perf_counter()
                opt.step()
                times[id(opt)].append(time.perf_counter() - t0)
        a, b = (statistics.median(times[id(o)]) * 1e3 for o in (ours, theirs))
        print(f"{info.name:22s} {peer:16s} {a:11.2f} {b:9.2f} {a / b:6.2f}", flush=True)


if __name__ == "__main__":
    main()
