"""The `trainlab` command: list, info, check, report."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from . import registry
from .registry import KINDS

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Techniques from deep-learning papers, with claims.")
# Piped or captured output (CI logs) gets a wide table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

VERDICT_STYLE = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow",
                 "not testable here": "magenta"}


def _claims():
    from . import claims

    return claims


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)


@app.command("list")
def list_cmd(
    kind: Optional[str] = typer.Argument(None, help=f"one of: {', '.join(KINDS)}, claim"),
    pattern: str = typer.Argument("*", help="glob on the name"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON array"),
) -> None:
    """List registered components (or claims, with KIND=claim)."""
    if kind == "claim":
        rows = [{"name": c.name, "kind": "claim", "paper": c.paper, "summary": c.statement}
                for c in _claims().all_claims() if Path(c.name).match(pattern)]
    else:
        if kind is not None and kind not in KINDS:
            close = difflib.get_close_matches(kind, [*KINDS, "claim"], n=1)
            _fail(f"unknown kind {kind}" + (f"; did you mean {close[0]}?" if close else ""))
        rows = [i.to_dict() for i in registry.list(kind, pattern)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("name", "kind", "summary", "paper")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["summary"], r["paper"])
    console.print(table)


@app.command()
def info(name: str) -> None:
    """Show a component's summary, paper, defaults, flags and claims (or a claim's definition)."""
    claims = _claims()
    by_name = {c.name: c for c in claims.all_claims()}
    if name in by_name:
        c = by_name[name]
        console.print(f"[bold]{c.name}[/bold] (claim)\n{c.statement}\npaper: {c.paper}\ntask: {c.task}\n"
                      f"baseline: {c.baseline}\ntreatment: {c.treatment}\nmetric: {c.metric} ({c.direction} is better, "
                      f"min effect {c.min_effect:g})\nseeds: {c.seeds}"
                      f"{f' (second look at {c.second_look})' if c.second_look else ''}"
                      f"{f' ({c.seeds_reason})' if c.seeds_reason else ''} (quick smoke test: {c.quick_seeds})\n"
                      f"gates: {[g.name for g in c.all_gates()]}\nconfig: {dict(c.config)}\n"
                      f"quick overrides: {dict(c.quick)}", highlight=False)
        return
    try:
        i = registry.get(name)
    except registry.UnknownNameError:
        close = difflib.get_close_matches(name, [*by_name, *(x.name for x in registry.list())], n=1)
        _fail(f"unknown technique {name}" + (f"; did you mean {close[0]}?" if close else ""))
    related = [c.name for c in claims.all_claims() if i.name in c.components or c.paper == i.paper]
    console.print(f"[bold]{i.name}[/bold] ({i.kind})\n{i.summary}\npaper: {i.paper}" +
                  (f" (arXiv {i.arxiv})" if i.arxiv else "") + (f"\ncode: {i.code}" if i.code else "") +
                  f"\ndefaults: {i.to_dict()['defaults']}\nflags: {sorted(i.flags)}\nclaims: {related or 'none'}",
                  highlight=False)


def _select_claims(names: List[str], all_: bool):
    claims = _claims()
    every = claims.all_claims()
    if all_:
        return every
    if not names:
        _fail("name at least one claim or component, or pass --all")
    by_name = {c.name: c for c in every}
    chosen = []
    for n in names:
        if n in by_name:
            chosen.append(by_name[n])
            continue
        try:
            info_ = registry.get(n)
        except registry.UnknownNameError:
            close = difflib.get_close_matches(n, [*by_name, *(i.name for i in registry.list())], n=1)
            _fail(f"unknown technique {n}" + (f"; did you mean {close[0]}?" if close else ""))
        found = [c for c in every if n in c.components or c.paper == info_.paper]
        if not found:
            _fail(f"{n} has no claim yet")
        chosen.extend(c for c in found if c not in chosen)
    return chosen


@app.command()
def check(
    names: List[str] = typer.Argument(None, help="claim or component names"),
    all_: bool = typer.Option(False, "--all", help="every claim"),
    seeds: Optional[int] = typer.Option(None, min=1, help="paired seeds at the first look (default: the claim's "
                                        "declared protocol; overriding it marks results 'overridden', not evidence)"),
    jobs: int = typer.Option(1, min=1, max=64, help="parallel worker processes"),
    quick: bool = typer.Option(False, "--quick", help="smoke test: shortened configs, prints ran/failed, no verdicts"),
    out: Path = typer.Option(Path("results"), help="results folder (resumable); `--out evidence` for the evidence"),
    against: Optional[Path] = typer.Option(None, help="compare each claim's per-seed numbers with the records in "
                                           "this folder (e.g. evidence) and exit 1 if any differ"),
) -> None:
    """Run claims (resuming finished runs): verdicts in full mode, ran/failed in quick mode."""
    import time

    from .claims.report import fmt, write_report

    chosen = _select_claims(names or [], all_)
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=False) as progress:
        task = progress.add_task("claims runs", total=0)

        def on_plan(n):
            progress.update(task, total=(progress.tasks[0].total or 0) + n)

        def on_run(rec):
            progress.advance(task)
            failed = " FAILED" if "error" in rec else ""
            progress.update(task, description=f"{rec['claim']} {rec['arm']} seed {rec['seed']}{failed}")

        results = _claims().run_claims(chosen, out=out, quick=quick, seeds=seeds, jobs=jobs, on_run=on_run,
                                       on_plan=on_plan)
    wall = time.perf_counter() - t0
    failed = [r for r in results if r.get("status") == "failed"]
    if quick:
        table = Table(Column("claim", no_wrap=True), Column("smoke", no_wrap=True), "baseline per seed",
                      "treatment per seed", "s", title="quick mode: a smoke test of every claim (no verdicts)")
        for r in results:
            if r.get("status") == "failed":
                table.add_row(r["claim"], "[red]failed[/]", "-", "-", "-")
                continue
            table.add_row(r["claim"], "[green]ran[/]", ", ".join(fmt(v, 4) for v in r["baseline"]),
                          ", ".join(fmt(v, 4) for v in r["treatment"]), f"{r['seconds']:.0f}")
        console.print(table)
    else:
        table = Table(Column("claim", no_wrap=True), Column("verdict", no_wrap=True), "n",
                      "diff [interval]", "min effect", "gates", "s",
                      title="treatment - baseline (metric, direction and rule in the report)")
        for r in results:
            if r.get("status") == "failed":
                table.add_row(r["claim"], "[red]failed[/]", "-", "-", "-", "-", "-")
                continue
            gates = "pass" if not r["failed_gates"] else "[red]" + "; ".join(r["failed_gates"]) + "[/]"
            table.add_row(r["claim"], f"[{VERDICT_STYLE.get(r['verdict'], 'white')}]{r['verdict']}[/]",
                          str(len(r["seeds"])), f"{fmt(r['diff_mean'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                          f"{fmt(r['min_effect'])} ({r['direction']})", gates, f"{r['seconds']:.0f}")
        console.print(table)
        console.print(f"results: {out}/ (JSON and one plot per claim); report: {write_report(out)}", highlight=False)
    for r in failed:
        err.print(f"[red]{r['claim']} failed:[/red]\n" + "\n".join(r["errors"]), highlight=False)
    console.print(f"wall time {wall:.0f} s", highlight=False)
    mismatched = _compare(results, against) if against is not None and not quick else []
    if failed or mismatched:
        raise typer.Exit(1)


def _compare(results, against: Path) -> list[str]:
    """Claims whose per-seed numbers differ from the stored record of the same protocol in `against`."""
    stored = {r["claim"]: r for r in _claims().load_results(against)}
    mismatched = []
    for r in results:
        ref = stored.get(r["claim"])
        if r.get("status") == "failed" or ref is None or ref.get("protocol_hash") != r.get("protocol_hash"):
            console.print(f"{r['claim']}: no record of this protocol in {against}/ to compare with", highlight=False)
            continue
        n = min(len(ref["seeds"]), len(r["seeds"]))
        same = ref["baseline"][:n] == r["baseline"][:n] and ref["treatment"][:n] == r["treatment"][:n]
        console.print(f"{r['claim']}: {n} seeds {'identical to' if same else '[red]DIFFER from[/]'} {against}/", highlight=False)
        if not same:
            mismatched.append(r["claim"])
    return mismatched


@app.command()
def report(
    out: Path = typer.Option(Path("results"), help="results folder (`evidence` for the committed evidence)"),
    table: bool = typer.Option(True, "--table/--no-table", help="also print the verdict table"),
) -> None:
    """Write REPORT.md over every stored claim result (stale and missing claims marked) and print its table."""
    from .claims.report import classify, fmt, shown_counts, write_report

    if not out.is_dir():
        _fail(f"no results folder {out}; run `trainlab check` first")
    path = write_report(out)
    if table:
        rows = classify(_claims().load_results(out))
        t = Table(Column("claim", no_wrap=True), Column("verdict", no_wrap=True), "effect [interval] / min effect",
                  "n", "gates", "commit, date", title=f"evidence in {out}/ (rule and details in {path.name})")
        for row in rows:
            r = row["result"]
            if r is None or row["shown"] == "stale":
                t.add_row(row["claim"], f"[dim]{row['shown']}[/]", "-", "-", "-", "-")
                continue
            shown = row["shown"] + (" (BH)" if "bh" in row else "")
            t.add_row(row["claim"], f"[{VERDICT_STYLE.get(row['shown'], 'white')}]{shown}[/]",
                      f"{fmt(r['diff_mean'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] / {fmt(r['min_effect'])} "
                      f"({r['direction']})", str(len(r["seeds"])),
                      "pass" if not r["failed_gates"] else "; ".join(r["failed_gates"]),
                      f"{(r.get('commit') or '?')[:8]}, {r.get('date', '?')[:10]}")
        console.print(t)
        console.print(", ".join(f"{v} {k}" for k, v in sorted(shown_counts(rows).items())), highlight=False)
    console.print(f"wrote {path}", highlight=False)


@app.command()
def harness(
    seeds: int = typer.Option(3, min=1, max=20, help="initialisation seeds"),
    quick: bool = typer.Option(False, "--quick", help="300 steps: a smoke test, written nowhere"),
    out: Path = typer.Option(Path("results"), help="results folder; the report shows the table it writes"),
) -> None:
    """Train the MNIST-1D paper's logistic / MLP / CNN baselines and compare with its published table."""
    from .claims.harness.mnist1d import PUBLISHED, mnist1d_harness
    from .claims.report import fmt
    from .claims.runner import atomic_write_json, commit

    import torch

    runs = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as claim runs: 6,000 Adam steps amplify thread-dependent rounding into points
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err) as progress:
            task = progress.add_task("mnist1d harness", total=seeds)
            for s in range(seeds):
                runs.append(mnist1d_harness(s, quick=quick))
                progress.advance(task)
    finally:
        torch.set_num_threads(threads)
    rows = []
    for name in PUBLISHED:
        values = [r["models"][name]["test_acc"] for r in runs]
        rows.append({"model": name, "values": values, "mean": sum(values) / len(values), "published": PUBLISHED[name]})
    t = Table("model", "ours (mean)", "per seed", "published", title="MNIST-1D harness (test accuracy, %)")
    for r in rows:
        t.add_row(r["model"], fmt(r["mean"]), ", ".join(fmt(v) for v in r["values"]), fmt(r["published"]))
    console.print(t)
    if not quick:
        atomic_write_json(out / "harness" / "mnist1d.json", {"rows": rows, "runs": runs, **commit(),
                                                             "seconds": sum(r["wall_s"] for r in runs)})
        console.print(f"wrote {out / 'harness' / 'mnist1d.json'}", highlight=False)


if __name__ == "__main__":
    app()
