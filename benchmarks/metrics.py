"""Time and peak memory of trainlab's diagnostics, with ratios against a reference in the same run.

Cases:
    hessian: top-10 Hessian eigenvalues of a digits-shaped MLP 64-h-10 (h in --widths) on n random
        inputs, by Lanczos (40 steps of Hessian-vector products) vs the dense Hessian + eigh
        (reference). Reports P, time, peak memory, the ratios dense/Lanczos and the maximum relative
        error of Lanczos' top-10 against eigh.
    mmd: unbiased RBF MMD^2 (sigma = 10, as CMMD) between two n x 512 float32 embedding sets, in
        1024 x 1024 tiles vs one tile (reference: the three full kernel matrices; only run where
        they fit, n <= --dense-max). n = 20000 runs tiled only (one tile would need ~3 x 1.6 GB).

Memory (CPU): each (case, implementation) runs in a fresh subprocess that builds its inputs,
resets the kernel's peak-RSS counter (writes "5" to /proc/self/clear_refs, Linux >= 4.0), reads
VmRSS, runs the computation once and reports VmHWM - VmRSS: the peak resident memory the call
added (torch's allocations included). Time: the same single call (wall clock), `--threads` threads.

Usage:
    PYTHONPATH=. .venv/bin/python benchmarks/metrics.py [--quick] [--threads 1] [--widths 8 16 32]
"""

from __future__ import annotations

import argparse
import json

from _peak import first_call_peak, run_worker  # benchmarks/ is on sys.path when run as a script


def _worker(spec: dict) -> dict:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    out: dict = {}
    if spec["case"] == "hessian":
        from trainlab.claims.tasks import mlp
        from trainlab.metrics.hessian import dense_hessian, hessian_top_eigenspace

        model = mlp(64, spec["width"], 10, depth=1)
        data = (torch.rand(spec["n"], 64, generator=gen), torch.randint(0, 10, (spec["n"],), generator=gen))
        out["params"] = sum(p.numel() for p in model.parameters())

        def call():
            if spec["impl"] == "dense":
                return torch.linalg.eigvalsh(dense_hessian(model, F.cross_entropy, data)).flip(0)[:10]
            return hessian_top_eigenspace(model, F.cross_entropy, data, k=10, iters=40)[0]
    else:
        from trainlab.metrics.mmd import mmd_rbf_unbiased

        x = torch.randn(spec["n"], 512, generator=gen)
        y = torch.randn(spec["n"], 512, generator=gen) + 0.05
        block = 1024 if spec["impl"] == "tiled" else None

        def call():
            return torch.tensor(mmd_rbf_unbiased(x, y, sigma=10.0, block_size=block))

    value, out["peak_mb"], out["seconds"] = first_call_peak(call)
    out["value"] = value.tolist()
    return out


def _run(spec: dict) -> dict:
    return run_worker(__file__, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller nets and samples")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--widths", type=int, nargs="*", default=None, help="hidden widths h of the MLP 64-h-10")
    ap.add_argument("--n", type=int, default=None, help="samples for the Hessian")
    ap.add_argument("--mmd-sizes", type=int, nargs="*", default=None)
    ap.add_argument("--dense-max", type=int, default=6000, help="largest n for the one-tile MMD reference")
    ap.add_argument("--worker", type=str, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return
    widths = args.widths or ([8, 16] if args.quick else [8, 16, 32, 64])
    n = args.n or (256 if args.quick else 512)
    sizes = args.mmd_sizes or ([1000, 2000, 5000] if args.quick else [2000, 5000, 20000])

    print(f"Hessian top-10 eigenvalues, MLP 64-h-10 on n={n} (threads={args.threads})")
    print(f"{'h':>4} {'P':>6} {'eigh s':>8} {'lanczos s':>10} {'time x':>7} {'eigh MB':>8} {'lanczos MB':>11} "
          f"{'mem x':>6} {'max rel err':>12}")
    for w in widths:
        common = {"case": "hessian", "width": w, "n": n, "threads": args.threads}
        dense, lan = _run({**common, "impl": "dense"}), _run({**common, "impl": "lanczos"})
        err = max(abs(a - b) / abs(a) for a, b in zip(dense["value"], lan["value"]))
        print(f"{w:>4} {dense['params']:>6} {dense['seconds']:>8.2f} {lan['seconds']:>10.2f} "
              f"{dense['seconds'] / lan['seconds']:>7.1f} {dense['peak_mb']:>8.1f} {lan['peak_mb']:>11.1f} "
              f"{dense['peak_mb'] / max(lan['peak_mb'], 0.1):>6.1f} {err:>12.2e}")

    print(f"\nUnbiased RBF MMD^2, two n x 512 float32 sets, sigma=10 (threads={args.threads})")
    print(f"{'n':>6} {'tiled s':>8} {'one-tile s':>11} {'time x':>7} {'tiled MB':>9} {'one-tile MB':>12} "
          f"{'mem x':>6} {'|diff|':>9}")
    for size in sizes:
        common = {"case": "mmd", "n": size, "threads": args.threads}
        tiled = _run({**common, "impl": "tiled"})
        if size <= args.dense_max:
            one = _run({**common, "impl": "one"})
            print(f"{size:>6} {tiled['seconds']:>8.2f} {one['seconds']:>11.2f} {one['seconds'] / tiled['seconds']:>7.2f} "
                  f"{tiled['peak_mb']:>9.1f} {one['peak_mb']:>12.1f} {one['peak_mb'] / max(tiled['peak_mb'], 0.1):>6.1f} "
                  f"{abs(tiled['value'] - one['value']):>9.2e}")
        else:
            dense_mb = 3 * size * size * 4 / 2**20  # one tile holds ~3 n x n float32 temporaries (x y^T, d2, exp)
            print(f"{size:>6} {tiled['seconds']:>8.2f} {'-':>11} {'-':>7} {tiled['peak_mb']:>9.1f} "
                  f"{'~%.0f (est.)' % dense_mb:>12} {'-':>6} {'-':>9}")


if __name__ == "__main__":
    main()
