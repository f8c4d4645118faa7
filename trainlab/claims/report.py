"""The evidence report: one Markdown page over every stored claim result, with the rule stated.

Across the report, Benjamini-Hochberg (false-discovery rate 2.5%, the rule's one-sided level) runs
per direction over the one-sided p-values of every testable, current, full-protocol claim; a
decisive verdict whose hypothesis BH does not reject is shown as "inconclusive" with "(BH)".
Results whose protocol hash differs from the claim's current one are shown as "stale", never with
their old verdict; registered claims without a result are "missing".
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from .base import ALPHA, RULE, all_claims, benjamini_hochberg

RULE_TEXT = (
    "Each claim compares a baseline and a treatment arm over paired seeds (10 by default, 5 only where a claim's "
    "cost forces it and it says so). Verdicts come from a paired t interval on the differences (an exact sign "
    "test when every seed gives the same difference) at a one-sided 2.5% level per direction (1% then 1.5% for "
    "claims that declare a second look at 20 seeds): *reproduced* when the interval excludes 0 in the claimed "
    "direction and the mean effect reaches the claim's minimum effect, *not reproduced* when the interval lies "
    "entirely short of the minimum effect, *inconclusive* otherwise or with fewer than 5 seeds. Gates declared "
    "before any run (censoring at a step cap, the paper's premise measured on the baseline arm alone, training "
    "health) turn a verdict into *not testable here*. Benjamini-Hochberg at 2.5% per direction across the report "
    "downgrades decisive verdicts that do not survive it."
)


def fmt(x: Any, digits: int = 3) -> str:
    """A number to `digits` significant digits (no 93.33333373069763)."""
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    return f"{x:.{digits}g}" if 1e-4 <= abs(x) < 1e6 else f"{x:.{digits - 1}e}"


def _scaled_p(r: Mapping[str, Any], key: str) -> float:
    # With two looks a decision is taken at alpha < ALPHA; scaling p by ALPHA / alpha puts every claim's
    # decision threshold at ALPHA, the level BH runs at.
    d = r.get("decision", {})
    p, alpha = d.get(key), d.get("alpha")
    if p is None or alpha is None or not math.isfinite(p) or not alpha:
        return 1.0
    return min(1.0, p * ALPHA / alpha)


def classify(results: Sequence[Mapping[str, Any]], claims: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """Rows for the report: each registered claim (and each orphan result) with its shown status."""
    claims = all_claims() if claims is None else list(claims)
    current = {c.name: c for c in claims}
    by_name = {r["claim"]: r for r in results}
    rows = []
    for name in sorted(set(current) | set(by_name)):
        r, c = by_name.get(name), current.get(name)
        if c is None:
            rows.append({"claim": name, "shown": "orphan", "result": r})
        elif r is None:
            rows.append({"claim": name, "shown": "missing", "result": None})
        elif r.get("protocol_hash") != c.protocol_hash() or r.get("protocol") != "declared":
            rows.append({"claim": name, "shown": "stale", "result": r})
        else:
            rows.append({"claim": name, "shown": r["verdict"], "result": r})
    testable = [row for row in rows if row["shown"] in ("reproduced", "not reproduced", "inconclusive")]
    for verdict, key in (("reproduced", "p_reproduced"), ("not reproduced", "p_not_reproduced")):
        keep = benjamini_hochberg([_scaled_p(row["result"], key) for row in testable], ALPHA)
        for row, k in zip(testable, keep):
            if row["shown"] == verdict and not k:
                row["shown"], row["bh"] = "inconclusive", f"{verdict} at its own level, not after BH"
    return rows


def shown_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many report rows show each status (verdicts, stale, missing)."""
    return dict(Counter(row["shown"] for row in rows))


def _effect(r: Mapping[str, Any]) -> str:
    d = r.get("decision", {})
    if d.get("method") == "paired t":
        return f"{fmt(r.get('diff_mean'))} [{fmt(r.get('ci_low'))}, {fmt(r.get('ci_high'))}]"
    if d.get("method") == "sign test":  # identical differences: no interval, the exact sign test's p
        p = min(d.get("p_reproduced", 1.0), d.get("p_not_reproduced", 1.0))
        return f"{fmt(r.get('diff_mean'))} in every seed (sign test p={fmt(p, 2)})"
    return fmt(r.get("diff_mean"))


def render_report(results: list[dict[str, Any]], harness: Sequence[Mapping[str, Any]] = ()) -> str:
    rows = classify(results)
    counts = shown_counts(rows)
    rep, nrep = counts.get("reproduced", 0), counts.get("not reproduced", 0)
    lines = ["# trainlab evidence report", "", RULE_TEXT, "", f"Rule id: `{RULE}`.", "",
             "Counts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".", "",
             f"Expected chance verdicts: with BH at 2.5% per direction, at most {ALPHA:g} x {rep} = "
             f"{ALPHA * rep:.2g} of the reproduced and {ALPHA:g} x {nrep} = {ALPHA * nrep:.2g} of the not reproduced "
             "verdicts are expected to be false discoveries.", ""]
    if harness:
        lines += ["## Harness check: MNIST-1D", "", "| model | ours (mean over seeds) | per seed | published |",
                  "|---|---|---|---|"]
        for h in harness:
            lines.append(f"| {h['model']} | {fmt(h['mean'])} | {', '.join(fmt(v) for v in h['values'])} | "
                         f"{fmt(h['published'])} |")
        lines.append("")
    lines += ["## Claims", "",
              "| claim | verdict | effect (treatment - baseline) [CI] | min effect | n | gates | s per seed | commit, date |",
              "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = row["result"]
        if r is None:
            lines.append(f"| {row['claim']} | missing | - | - | - | - | - | - |")
            continue
        shown = row["shown"] + (" (BH)" if "bh" in row else "")
        if row["shown"] == "stale":
            shown = "stale (protocol changed since this result; re-run it)"
        gates = "pass" if not r.get("failed_gates") else "failed: " + "; ".join(r["failed_gates"])
        effect = "-" if row["shown"] == "stale" else _effect(r)
        lines.append(f"| [{row['claim']}](#{row['claim']}) | {shown} | {effect} | {fmt(r.get('min_effect'))} "
                     f"({r.get('direction', '?')} is better) | {len(r.get('seeds', []))} | {gates} | "
                     f"{fmt(r.get('seconds_per_seed'), 2)} | {(r.get('commit') or '?')[:10]}"
                     f"{' (dirty)' if r.get('dirty') else ''}, {r.get('date', '?')[:10]} |")
    lines.append("")
    for row in rows:
        r = row["result"]
        if r is None:
            continue
        lines += [f"## {row['claim']}", "", f"*{r['paper']}*", "", r["statement"], "",
                  f"- task: {r['task']}", f"- baseline: {r['baseline_arm']}; treatment: {r['treatment_arm']}",
                  f"- metric: {r['metric']} ({r['direction']} is better), minimum effect {fmt(r['min_effect'])}",
                  f"- per seed: baseline {', '.join(fmt(v, 4) for v in r['baseline'])}; "
                  f"treatment {', '.join(fmt(v, 4) for v in r['treatment'])}"]
        for g in r.get("gates", []):
            lines.append(f"- gate {g['name']}: {'pass' if g['passed'] else 'FAIL'} ({g['detail']})")
        d = r.get("decision", {})
        if d:
            lines.append(f"- decision: {d.get('method')} at one-sided {fmt(d.get('alpha'))}, look {r.get('look')}, "
                         f"p(no effect) {fmt(d.get('p_reproduced'), 2)}, p(effect >= min) {fmt(d.get('p_not_reproduced'), 2)}")
        lines += [f"- config: `{r['config']}` (hash {r['config_hash']}, protocol {r.get('protocol_hash')})",
                  f"- {fmt(r['seconds'], 3)} s of runs; {r.get('versions')}; {r.get('machine')}", "",
                  f"![{row['claim']}]({row['claim']}.png)", ""]
    return "\n".join(lines)


def write_report(out: Path) -> Path:
    from .runner import atomic_write_text, load_harness, load_results

    path = Path(out) / "REPORT.md"
    atomic_write_text(path, render_report(load_results(out), load_harness(out)))
    return path
