"""The claims runner: pairing, gates, looks, quick smoke mode, resumability, records, report."""

from __future__ import annotations

import json

import pytest

from trainlab.claims import all_claims, run_claims
from trainlab.claims.base import Claim, Gate, _CLAIMS
from trainlab.claims.gates import above_chance, censoring, premise
from trainlab.claims.report import classify, render_report

CALLS: list[tuple[str, int]] = []


def toy_run(arm, seed, config):
    CALLS.append((arm, seed))
    wobble = config["noise"] * ((seed * 7919) % 13 - 6) / 6  # a fixed, seed-dependent wobble of the treatment
    value = config["base"] + seed + (config["effect"] + wobble if arm == "treatment" else 0.0)
    return {"value": value, "censored": config.get("censored", False), "gap": config.get("gap", 10.0)}


def toy(effect=1.0, direction="higher", min_effect=0.5, name="toy", noise=0.1, **kw):
    extra = {k: kw.pop(k) for k in ("censored", "gap") if k in kw}
    return Claim(name=name, paper="p", statement="s", task="t", baseline="b", treatment="tr", metric="m",
                 direction=direction, min_effect=min_effect, run=toy_run,
                 config={"base": 1.0, "effect": effect, "noise": noise, **extra}, quick={}, quick_seeds=2, **kw)


@pytest.fixture
def registered(monkeypatch):
    def add(c):
        monkeypatch.setitem(_CLAIMS, c.name, c)
        return c

    CALLS.clear()
    return add


def test_full_run_writes_a_result_with_provenance(tmp_path, registered):
    c = registered(toy())
    (res,) = run_claims([c], out=tmp_path)
    stored = json.loads((tmp_path / "toy.json").read_text())
    assert stored == json.loads(json.dumps(res))
    for key in ("claim", "paper", "verdict", "metric", "baseline", "treatment", "diff_mean", "ci_low", "ci_high",
                "config", "config_hash", "protocol_hash", "versions", "machine", "commit", "date", "seconds",
                "gates", "decision", "rule"):
        assert key in stored, key
    assert len(stored["baseline"]) == 10 and stored["verdict"] == "reproduced"
    assert stored["diff_mean"] == pytest.approx(1.0, abs=0.1) and stored["protocol"] == "declared"
    assert stored["extras"]["baseline"][0] == {"censored": False, "gap": 10.0}
    assert (tmp_path / "toy.png").stat().st_size > 0
    assert not list(tmp_path.glob("**/*.tmp*"))
    assert len(CALLS) == 20


def test_a_failed_gate_means_not_testable_here(tmp_path, registered):
    c = registered(toy(name="capped", censored=True, gates=(censoring(),)))
    (res,) = run_claims([c], out=tmp_path)
    assert res["verdict"] == "not testable here" and res["failed_gates"] == ["censoring: censored"]
    # the premise gate reads the baseline arm alone: a check that looks at the treatment is given none
    seen = []
    spy = Gate("premise: spy", "premise", "d", lambda recs: (seen.append(sorted(recs)) or True, ""))
    c = registered(toy(name="spy", gap=2.0, gates=(spy, premise("gap", ">=", 5.0, "gap is large"))))
    (res,) = run_claims([c], out=tmp_path)
    assert seen == [["baseline"]]
    assert res["verdict"] == "not testable here" and res["failed_gates"] == ["premise: gap >= 5"]


def test_health_gate_and_non_finite_metric(tmp_path, registered):
    c = registered(toy(name="chance", gates=(above_chance(chance=50.0, margin=5.0),)))
    assert run_claims([c], out=tmp_path)[0]["verdict"] == "not testable here"

    def nan_run(arm, seed, config):
        return float("nan") if arm == "treatment" and seed == 3 else float(seed)

    c = registered(Claim(name="nan", paper="p", statement="s", task="t", baseline="b", treatment="tr", metric="m",
                         direction="higher", min_effect=1.0, run=nan_run))
    res = run_claims([c], out=tmp_path)[0]
    assert res["verdict"] == "not testable here" and res["failed_gates"] == ["health: finite metric"]


def test_a_gate_reading_a_missing_number_fails_the_claim_not_the_command(tmp_path, registered):
    c = registered(toy(name="nokey", gates=(premise("absent", ">=", 1.0, "needs a number the run lacks"),)))
    res = run_claims([c], out=tmp_path)[0]
    assert res["status"] == "failed" and "absent" in res["errors"][0]


def test_second_look_runs_only_when_the_first_is_inconclusive(tmp_path, registered):
    clear = registered(toy(name="clear", second_look=20))
    assert len(run_claims([clear], out=tmp_path)[0]["baseline"]) == 10
    # an effect near the minimum with noise: inconclusive at 10 seeds, so 10 more are run
    vague = registered(toy(name="vague", effect=0.5, noise=3.0, second_look=20))
    res = run_claims([vague], out=tmp_path)[0]
    assert len(res["baseline"]) == 20 and res["look"] == 2 and res["decision"]["alpha"] == 0.015


def test_quick_mode_is_a_smoke_test_without_verdicts(tmp_path, registered):
    c = registered(toy())
    quick = run_claims([c], out=tmp_path, quick=True)[0]
    assert quick["status"] == "ran" and "verdict" not in quick and len(quick["baseline"]) == 2
    assert (tmp_path / "quick" / "toy.json").exists() and not (tmp_path / "toy.json").exists()
    CALLS.clear()
    run_claims([c], out=tmp_path)  # the same config in full mode shares no record with quick mode
    assert len(CALLS) == 20
    dirs = sorted(p.name for p in (tmp_path / "runs" / "toy").iterdir())
    assert len(dirs) == 2 and dirs[0].startswith("full-") and dirs[1].startswith("quick-")


def test_claims_are_decided_one_after_another(tmp_path, registered):
    # an interrupted evidence run leaves whole claims decided, not a little of every claim
    a, b = registered(toy(name="a")), registered(toy(name="b"))
    events = []
    run_claims([a, b], out=tmp_path, on_run=lambda r: events.append(("run", r["claim"])),
               on_claim=lambda r: events.append(("decided", r["claim"])))
    assert events.index(("decided", "a")) < events.index(("run", "b"))


def test_a_run_that_raises_fails_the_claim_and_is_retried(tmp_path, registered):
    state = {"raise": True}

    def flaky(arm, seed, config):
        if state["raise"] and seed == 4:
            raise RuntimeError("boom")
        return float(seed + (arm == "treatment"))

    c = registered(Claim(name="flaky", paper="p", statement="s", task="t", baseline="b", treatment="tr",
                         metric="m", direction="higher", min_effect=0.5, run=flaky))
    res = run_claims([c], out=tmp_path, quick=False)[0]
    assert res["status"] == "failed" and "boom" in res["errors"][0]
    assert not (tmp_path / "flaky.json").exists()
    state["raise"] = False
    assert run_claims([c], out=tmp_path)[0]["verdict"] == "reproduced"


def test_rerun_skips_finished_runs_and_resumes_after_a_kill(tmp_path, registered):
    c = registered(toy())
    run_claims([c], out=tmp_path)
    CALLS.clear()
    run_claims([c], out=tmp_path)
    assert CALLS == []
    folder = next((tmp_path / "runs" / "toy").iterdir())
    (folder / "treatment-seed3.json").unlink()
    (folder / "baseline-seed1.json").write_text("{trunc")  # a record cut short by a crash
    run_claims([c], out=tmp_path)
    assert sorted(CALLS) == [("baseline", 1), ("treatment", 3)]


def test_report_marks_stale_missing_and_ignores_foreign_json(tmp_path, registered):
    c = registered(toy())
    run_claims([c], out=tmp_path)
    (tmp_path / "other.json").write_text('{"not": "a result"}')
    from trainlab.claims import load_results

    results = load_results(tmp_path)
    assert [r["claim"] for r in results] == ["toy"]
    rows = {r["claim"]: r for r in classify(results, [c, toy(name="new")])}
    assert rows["toy"]["shown"] == "reproduced" and rows["new"]["shown"] == "missing"
    changed = toy(min_effect=0.6)  # the protocol changed after the result was written
    assert classify(results, [changed])[0]["shown"] == "stale"
    text = render_report(results)
    assert "Benjamini-Hochberg" in text and "Expected chance verdicts" in text


def test_benjamini_hochberg_downgrades_a_lone_marginal_win():
    base = {"kind": "trainlab-claim-result", "protocol": "declared", "direction": "higher"}
    c1, c2 = toy(name="a"), toy(name="b")
    results = [
        {**base, "claim": "a", "protocol_hash": c1.protocol_hash(), "verdict": "reproduced",
         "decision": {"p_reproduced": 0.02, "p_not_reproduced": 0.9, "alpha": 0.025}},
        {**base, "claim": "b", "protocol_hash": c2.protocol_hash(), "verdict": "inconclusive",
         "decision": {"p_reproduced": 0.5, "p_not_reproduced": 0.5, "alpha": 0.025}},
    ]
    rows = classify(results, [c1, c2])
    assert rows[0]["shown"] == "inconclusive" and "BH" in rows[0]["bh"]


def test_bad_runner_options_and_claim_definitions(tmp_path):
    with pytest.raises(ValueError, match="seeds"):
        run_claims([toy()], out=tmp_path, seeds=0)
    with pytest.raises(ValueError, match="jobs"):
        run_claims([toy()], out=tmp_path, jobs=0)
    with pytest.raises(ValueError, match="direction"):
        toy(direction="up")
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="min_effect"):
            toy(min_effect=bad)
    with pytest.raises(ValueError, match="seeds must be >= 5"):
        toy(seeds=3)
    with pytest.raises(ValueError, match="seeds_reason"):
        toy(seeds=5)
    toy(seeds=5, seeds_reason="each seed trains for an hour")
    with pytest.raises(ValueError, match="resolution"):
        toy(min_effect=0.3, resolution=0.22)
    with pytest.raises(ValueError, match="second_look"):
        toy(second_look=10)


def test_every_registered_claim_follows_the_evidence_rules():
    import csv
    from pathlib import Path

    import trainlab

    claims = all_claims()
    assert len(claims) >= 5
    names = {i.name for i in trainlab.list()}
    catalog = Path(__file__).resolve().parents[2] / "shared" / "catalog.tsv"
    titles = None
    if catalog.exists():
        titles = {r["title"] for r in csv.DictReader(catalog.open(), delimiter="\t")}
    for c in claims:
        assert c.min_effect > 0 and c.seeds >= 5, c.name
        assert c.min_effect >= 1e-6 and "PROVISIONAL" not in c.seeds_reason, c.name
        assert c.seeds >= 10 or c.seeds_reason, c.name
        assert set(c.components) <= names, c.name
        if titles is not None:
            assert c.paper in titles, c.paper


def test_real_claim_is_deterministic_and_parallel_equals_serial(tmp_path):
    from trainlab.claims import get_claim

    c = get_claim("ig-deletion-digits")
    serial = run_claims([c], out=tmp_path / "a", quick=True)[0]
    parallel = run_claims([c], out=tmp_path / "b", quick=True, jobs=2)[0]
    assert serial["baseline"] == parallel["baseline"] and serial["treatment"] == parallel["treatment"]
