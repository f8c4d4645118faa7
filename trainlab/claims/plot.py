"""One figure per claim: the paired per-seed values, and the differences with the interval and minimum effect."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any


def plot_claim(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base, treat = result["baseline"], result["treatment"]
    diffs = [t - b for t, b in zip(treat, base)]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(8, 3.8), gridspec_kw={"width_ratios": [1, 1.2]})
    for b, t in zip(base, treat):
        ax.plot([0, 1], [b, t], color="0.75", lw=1, zorder=1)
    ax.scatter([0] * len(base), base, color="tab:blue", zorder=2, s=14)
    ax.scatter([1] * len(treat), treat, color="tab:orange", zorder=2, s=14)
    ax.set_xticks([0, 1], [_short(result.get("baseline_arm", "baseline")), _short(result.get("treatment_arm", "treatment"))],
                  fontsize=7)
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel(_short(result["metric"], 48), fontsize=8)
    ax.set_title("per seed", fontsize=8)

    sign = 1 if result["direction"] == "higher" else -1
    m = sign * result["min_effect"]
    bx.axhline(0, color="0.3", lw=0.8)
    bx.axhspan(m, m + sign * 1e9, color="tab:green", alpha=0.12, lw=0,
               label=f"reaches min effect ({m:+.3g})")
    bx.axhline(m, color="tab:green", lw=0.8, ls="--")
    bx.scatter(range(len(diffs)), diffs, color="0.2", s=14, zorder=3, label="treatment - baseline")
    lo, hi, mean = result.get("ci_low"), result.get("ci_high"), result.get("diff_mean")
    if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
        bx.axhspan(lo, hi, color="tab:purple", alpha=0.18, lw=0, label="interval")
    if mean is not None and math.isfinite(mean):
        bx.axhline(mean, color="tab:purple", lw=1.2, label=f"mean {mean:+.3g}")
    span = [v for v in [*diffs, 0, m, lo, hi] if v is not None and math.isfinite(v)]
    pad = 0.15 * ((max(span) - min(span)) or 1.0)
    bx.set_ylim(min(span) - pad, max(span) + pad)
    bx.set_xlabel("seed", fontsize=8)
    bx.set_title("paired differences", fontsize=8)
    bx.legend(fontsize=6, loc="best")
    status = result.get("verdict", result.get("status", ""))
    fig.suptitle(f"{result['claim']}: {status} ({result.get('mode', '')}, n={len(diffs)})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp.png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
