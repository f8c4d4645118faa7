"""The command line: list --json, info, check, report, errors with exit status 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from trainlab.cli import app

runner = CliRunner()


def test_list_json_has_the_required_keys():
    res = runner.invoke(app, ["list", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    assert {"adamw", "ademamix", "comp_sum", "gce", "elr", "integrated_gradients", "grokfast_ema"} <= {r["name"] for r in rows}
    for r in rows:
        assert {"name", "kind", "paper", "summary"} <= set(r) and r["paper"] and r["summary"]


def test_list_filters_by_kind_and_pattern():
    rows = json.loads(runner.invoke(app, ["list", "loss", "g*", "--json"]).stdout)
    assert [r["name"] for r in rows] == ["gce"]
    claims = json.loads(runner.invoke(app, ["list", "claim", "--json"]).stdout)
    assert "elr-noisy-digits" in {r["name"] for r in claims}


def test_unknown_names_exit_2_with_a_suggestion():
    res = runner.invoke(app, ["info", "adamx"])
    assert res.exit_code == 2 and "unknown technique adamx; did you mean adamw?" in res.output
    res = runner.invoke(app, ["check", "grokfast_emaa", "--quick"])
    assert res.exit_code == 2 and "did you mean grokfast_ema" in res.output
    res = runner.invoke(app, ["list", "losss"])
    assert res.exit_code == 2 and "did you mean loss" in res.output


def test_bad_options_are_refused_before_work(tmp_path):
    res = runner.invoke(app, ["check", "elr", "--seeds", "0", "--out", str(tmp_path)])
    assert res.exit_code == 2 and not any(tmp_path.iterdir())
    res = runner.invoke(app, ["check", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--all" in res.output


def test_info_shows_paper_defaults_and_claims():
    res = runner.invoke(app, ["info", "elr"])
    assert res.exit_code == 0
    assert "Early-Learning Regularization Prevents Memorization of Noisy Labels" in res.output
    assert "elr-noisy-digits" in res.output and "beta" in res.output


def test_quick_check_is_a_smoke_test_without_verdict_words(tmp_path):
    res = runner.invoke(app, ["check", "integrated_gradients", "--quick", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "ig-deletion-digits" in res.stdout and "ran" in res.stdout
    for word in ("reproduced", "inconclusive", "not testable"):
        assert word not in res.stdout.lower()
    assert (tmp_path / "quick" / "ig-deletion-digits.json").exists()
    assert not (tmp_path / "ig-deletion-digits.json").exists()


def _toy_claim(monkeypatch):
    from trainlab.claims.base import _CLAIMS, Claim

    def run(arm, seed, config):
        return 1.0 + seed + (2.0 + 0.01 * (seed % 3) if arm == "treatment" else 0.0)

    c = Claim(name="toy-cli", paper="p", statement="s", task="t", baseline="b", treatment="tr", metric="m",
              direction="higher", min_effect=1.0, run=run)
    monkeypatch.setitem(_CLAIMS, c.name, c)
    return c


def test_full_check_prints_verdicts_report_and_compares_with_evidence(tmp_path, monkeypatch):
    _toy_claim(monkeypatch)
    res = runner.invoke(app, ["check", "toy-cli", "--out", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    assert "reproduced" in res.stdout
    assert (tmp_path / "ev" / "toy-cli.json").exists() and (tmp_path / "ev" / "toy-cli.png").exists()
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "ev")])
    assert res.exit_code == 0 and "toy-cli" in res.stdout
    text = (tmp_path / "ev" / "REPORT.md").read_text()
    assert "](toy-cli.png)" in text and "| reproduced |" in text
    # regenerating elsewhere gives the same numbers as the stored record
    res = runner.invoke(app, ["check", "toy-cli", "--out", str(tmp_path / "again"), "--against", str(tmp_path / "ev")])
    assert res.exit_code == 0 and "identical to" in res.stdout
    record = tmp_path / "ev" / "toy-cli.json"
    data = json.loads(record.read_text())
    data["treatment"][0] += 1.0
    record.write_text(json.dumps(data))
    res = runner.invoke(app, ["check", "toy-cli", "--out", str(tmp_path / "again"), "--against", str(tmp_path / "ev")])
    assert res.exit_code == 1 and "DIFFER" in res.stdout
