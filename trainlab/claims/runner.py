"""Run claims: paired seeds, gates, looks, resumable per-run records, atomic JSON with provenance.

Layout under `out/`:
    runs/<claim>/<mode>-<config hash>/<arm>-seed<k>.json   one finished run each (the resume unit)
    <claim>.json, <claim>.png                             a full run's result (verdict) and its plot
    quick/<claim>.json                                    a quick run's smoke result (no verdict)

The config hash covers the mode too, so quick records never mix with full ones. A full result
holds every per-seed number, the gates, the decision, `config_hash` (the runs) and
`protocol_hash` (config + everything the verdict depends on; a report marks a result whose
protocol hash differs from the claim's current one as stale), the trainlab commit, date,
versions, machine and seconds of runs.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import multiprocessing
import os
import platform
import subprocess
import tempfile
import time
import traceback
import warnings
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .base import ALPHA, ARMS, RULE, Claim, _hash, decide, get_claim

RESULT_KIND = "trainlab-claim-result"


def atomic_write_text(path: Path, text: str) -> None:
    """Write text atomically (unique temporary name, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, as `atomic_write_text` does."""
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=True))


def config_hash(config: Mapping[str, Any], quick: bool = False) -> str:
    return _hash({"config": dict(config), "mode": "quick" if quick else "full"})


def versions() -> dict[str, str]:
    import numpy as np
    import torch

    from .. import __version__

    return {"trainlab": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(terse=True), "arch": platform.machine(), "cpus": os.cpu_count()}


@lru_cache(maxsize=1)
def commit() -> dict[str, Any]:
    """The trainlab source commit and whether tracked files differ from it (None outside a git checkout)."""
    src = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "-uno", "--", "trainlab"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": dirty}


def run_dir(out: Path, c: Claim, quick: bool) -> Path:
    mode = "quick" if quick else "full"
    return Path(out) / "runs" / c.name / f"{mode}-{config_hash(c.config_for(quick), quick)}"


def _as_record(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        if "value" not in value:
            raise ValueError("a claim's run returned a dict without 'value'")
        extras = {k: v for k, v in value.items() if k != "value"}
        return {"value": float(value["value"]), "extras": json.loads(json.dumps(extras, default=float))}
    return {"value": float(value), "extras": {}}


def run_one(name: str, arm: str, seed: int, quick: bool, out: str) -> dict[str, Any]:
    """Run one (claim, arm, seed) on one thread (torch and BLAS: numbers do not depend on --jobs) and record it.

    A run that raises is returned as `{"error": ...}` and not recorded, so a rerun retries it.
    """
    import torch

    from .. import claims as _  # noqa: F401  (registers claims in a fresh worker process)

    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    c = get_claim(name)
    config = c.config_for(quick)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        with threadpool_limits(1):  # BLAS/OpenMP of numpy and scikit-learn too, not only torch
            rec = _as_record(c.run(arm, seed, config))
    except Exception:  # noqa: BLE001  (reported with its traceback; the run is retried next time)
        return {"claim": name, "arm": arm, "seed": seed, "error": traceback.format_exc(limit=8)}
    finally:
        torch.set_num_threads(threads)
    record = {"claim": name, "arm": arm, "seed": seed, **rec, "seconds": time.perf_counter() - t0,
              **commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(run_dir(Path(out), c, quick) / f"{arm}-seed{seed}.json", record)
    return record


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        warnings.warn(f"unreadable run record {path}: it will be run again", stacklevel=2)
        return None
    if not isinstance(rec, dict) or "value" not in rec:
        warnings.warn(f"malformed run record {path}: it will be run again", stacklevel=2)
        return None
    return rec


def pending_runs(c: Claim, quick: bool, seeds: int, out: Path) -> tuple[dict[tuple[str, int], dict], list[tuple[str, int]]]:
    """Split the (arm, seed) runs of seeds 0..seeds-1 into those already recorded and those still to do."""
    folder = run_dir(out, c, quick)
    done, todo = {}, []
    for seed in range(seeds):
        for arm in ARMS:
            f = folder / f"{arm}-seed{seed}.json"
            rec = _read_record(f) if f.exists() else None
            if rec is not None:
                done[(arm, seed)] = rec
            else:
                todo.append((arm, seed))
    return done, todo


def _flat(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {"value": rec["value"], **rec.get("extras", {})}


def evaluate_gates(c: Claim, records: dict[tuple[str, int], dict], n: int) -> list[dict[str, Any]]:
    by_arm = {arm: [_flat(records[(arm, s)]) for s in range(n)] for arm in ARMS}
    return [g.evaluate(by_arm) for g in c.all_gates()]


def _common(c: Claim, records: dict[tuple[str, int], dict], n: int, quick: bool) -> dict[str, Any]:
    recs = [records[(a, s)] for s in range(n) for a in ARMS]
    seconds = sum(r["seconds"] for r in recs)
    commits = sorted({r.get("commit") or "" for r in recs} - {""})
    return {
        "kind": RESULT_KIND, "claim": c.name, "paper": c.paper, "statement": c.statement, "task": c.task,
        "baseline_arm": c.baseline, "treatment_arm": c.treatment, "metric": c.metric, "direction": c.direction,
        "min_effect": c.min_effect, "resolution": c.resolution, "seeds": list(range(n)),
        "baseline": [records[("baseline", s)]["value"] for s in range(n)],
        "treatment": [records[("treatment", s)]["value"] for s in range(n)],
        "extras": {arm: [records[(arm, s)].get("extras", {}) for s in range(n)] for arm in ARMS},
        "config": c.config_for(quick), "config_hash": config_hash(c.config_for(quick), quick),
        "mode": "quick" if quick else "full", "seconds": seconds, "seconds_per_seed": seconds / max(n, 1),
        "run_commits": commits, **commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(), "machine": machine(),
    }


def summarize(c: Claim, records: dict[tuple[str, int], dict], n: int, quick: bool, alpha: float,
              look: int, protocol: str) -> dict[str, Any]:
    """A claim's result from its first n seeds: smoke status (quick) or gates + verdict (full)."""
    res = _common(c, records, n, quick)
    gates = evaluate_gates(c, records, n)
    res["gates"] = gates
    if quick:
        res["status"] = "ran"
        return res
    diffs = [t - b for t, b in zip(res["treatment"], res["baseline"])]
    failed = [g["name"] for g in gates if not g["passed"]]
    if failed:
        finite = [d for d in diffs if math.isfinite(d)]
        dec = decide(finite, c.direction, c.min_effect, alpha).to_dict() if finite else {"n": n}
        dec["verdict"] = "not testable here"
    else:
        dec = decide(diffs, c.direction, c.min_effect, alpha).to_dict()
    res.update(verdict=dec.pop("verdict"), failed_gates=failed, decision=dec, diff_mean=dec.get("mean", math.nan),
               ci_low=dec.get("ci_low", math.nan), ci_high=dec.get("ci_high", math.nan), look=look,
               looks=c.looks(), protocol=protocol, protocol_hash=c.protocol_hash(), rule=RULE)
    return res


def run_claims(
    claims: Iterable[Claim],
    *,
    out: Path,
    quick: bool = False,
    seeds: int | None = None,
    jobs: int = 1,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    on_claim: Callable[[dict[str, Any]], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every pending (claim, arm, seed) look by look, then write each claim's result (and plot).

    Args:
        claims: the claims.
        out: results folder (resumable: recorded runs are reused).
        quick: the smoke test: each claim's quick config and `quick_seeds`; results carry
            status "ran"/"failed" and no verdict.
        seeds: override the seeds of the first look (>= 1; disables a declared second look; the
            result's `protocol` then reads "overridden", never "declared").
        jobs: parallel worker processes (1 = in this process).
        on_run: called with each finished (or failed) run record (progress reporting).
        on_claim: called with each claim's result once decided.
        on_plan: called with the number of newly scheduled runs at each look.

    Returns:
        The result dicts, in the order of `claims`. A claim any of whose runs raised has status /
        verdict "failed" with the errors (and no stored result).
    """
    claims = list(claims)
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    out = Path(out)
    looks: dict[str, list[tuple[int, float]]] = {}
    for c in claims:
        if quick:
            looks[c.name] = [(seeds or c.quick_seeds, math.nan)]
        elif seeds is not None:
            looks[c.name] = [(seeds, ALPHA)]
        else:
            looks[c.name] = c.looks()
    protocol = "declared" if (seeds is None and not quick) else ("smoke" if quick else "overridden")
    by_name = {c.name: c for c in claims}
    state = {c.name: {"look": 0, "records": {}, "errors": [], "todo": set()} for c in claims}
    results: dict[str, dict[str, Any]] = {}

    def schedule(name: str) -> list[tuple[str, str, int]]:
        st = state[name]
        n = looks[name][st["look"]][0]
        done, todo = pending_runs(by_name[name], quick, n, out)
        st["records"].update(done)
        st["todo"] = {(arm, seed) for arm, seed in todo}
        return [(name, arm, seed) for arm, seed in todo]

    def conclude(name: str) -> list[tuple[str, str, int]]:
        """Decide a claim whose look is complete; returns the runs of its second look if it takes one."""
        c, st = by_name[name], state[name]
        if st["errors"]:
            results[name] = {"claim": name, "mode": "quick" if quick else "full", "status": "failed",
                             "verdict": "failed", "errors": st["errors"]}
            if on_claim:
                on_claim(results[name])
            return []
        n, alpha = looks[name][st["look"]]
        try:
            res = summarize(c, st["records"], n, quick, alpha, st["look"] + 1, protocol)
        except Exception:  # noqa: BLE001  (e.g. a gate reading a number the run does not return)
            st["errors"].append("summarizing: " + traceback.format_exc(limit=4))
            return conclude(name)
        if not quick and res["verdict"] == "inconclusive" and st["look"] + 1 < len(looks[name]):
            st["look"] += 1  # the pre-declared second look
            more = schedule(name)
            if on_plan:
                on_plan(len(more))
            return more or conclude(name)
        if quick:
            atomic_write_json(out / "quick" / f"{name}.json", res)
        else:
            atomic_write_json(out / f"{name}.json", res)
            from .plot import plot_claim

            plot_claim(res, out / f"{name}.png")
        results[name] = res
        if on_claim:
            on_claim(res)
        return []

    def record(rec: dict[str, Any]) -> list[tuple[str, str, int]]:
        name = rec["claim"]
        st = state[name]
        if "error" in rec:
            st["errors"].append(f"{rec['arm']} seed {rec['seed']}: {rec['error']}")
        else:
            st["records"][(rec["arm"], rec["seed"])] = rec
        st["todo"].discard((rec["arm"], rec["seed"]))
        if on_run:
            on_run(rec)
        return conclude(name) if not st["todo"] else []

    # Claim by claim (in the given order), so an interrupted run leaves whole claims decided.
    queue: list[tuple[str, str, int]] = []
    for c in claims:
        queue += schedule(c.name)
    if on_plan:
        on_plan(len(queue))
    for c in claims:
        if not state[c.name]["todo"]:
            queue += conclude(c.name)
    _execute(queue, quick, out, jobs, record)
    return [results[c.name] for c in claims]


def _execute(queue: list[tuple[str, str, int]], quick: bool, out: Path, jobs: int,
             record: Callable[[dict[str, Any]], list[tuple[str, str, int]]]) -> None:
    """Run the queue (which `record` may extend with second-look runs), at most `jobs` at a time."""
    queue = deque(queue)
    if jobs == 1:
        while queue:
            queue.extend(record(run_one(*queue.popleft(), quick, str(out))))
        return
    ctx = multiprocessing.get_context("spawn")  # fork + torch threads can deadlock
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        running: set = set()
        while queue or running:
            while queue and len(running) < jobs:
                running.add(pool.submit(run_one, *queue.popleft(), quick, str(out)))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                queue.extend(record(fut.result()))


def _load_dir(folder: Path) -> list[dict[str, Any]]:
    found = []
    for p in sorted(folder.glob("*.json")):
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            warnings.warn(f"skipping unreadable result {p}", stacklevel=3)
            continue
        if isinstance(data, dict) and data.get("kind") == RESULT_KIND and "claim" in data:
            found.append(data)
    return sorted(found, key=lambda r: r["claim"])


def load_results(out: Path, quick: bool = False) -> list[dict[str, Any]]:
    """Every stored claim result in `out` (full mode, or the quick smoke results), sorted by claim.

    Files that are not trainlab results are ignored; unreadable ones are skipped with a warning.
    """
    folder = Path(out) / "quick" if quick else Path(out)
    return _load_dir(folder) if folder.is_dir() else []


def load_harness(out: Path) -> list[dict[str, Any]]:
    """The MNIST-1D harness rows stored by `trainlab harness` in `out/harness/mnist1d.json` (empty if none)."""
    p = Path(out) / "harness" / "mnist1d.json"
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return []
    return list(data.get("rows", [])) if isinstance(data, dict) else []
