"""The committed evidence is current: every claim has a result for its present protocol, or is listed as pending.

`evidence/` is written only by `trainlab check --all --out evidence` (and `trainlab report --out
evidence`). `evidence/PENDING.txt` names the claims whose evidence run has not finished yet; the
list may only shrink: a claim listed there must really lack a current record, and the report shows
such claims as missing or stale, never with an old verdict.
"""

from __future__ import annotations

from pathlib import Path

from trainlab.claims import all_claims, load_results
from trainlab.claims.report import classify

EVIDENCE = Path(__file__).resolve().parents[1] / "evidence"


def pending() -> set[str]:
    path = EVIDENCE / "PENDING.txt"
    if not path.exists():
        return set()
    return {ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")}


def test_every_claim_has_a_current_evidence_record_or_is_pending():
    rows = {r["claim"]: r for r in classify(load_results(EVIDENCE))}
    names = {c.name for c in all_claims()}
    waiting = pending()
    assert waiting <= names, f"PENDING.txt names unknown claims: {sorted(waiting - names)}"
    orphans = sorted(n for n, r in rows.items() if r["shown"] == "orphan")
    assert not orphans, f"evidence for claims that no longer exist: {orphans}"
    not_current = sorted(n for n, r in rows.items() if r["shown"] in ("missing", "stale"))
    unlisted = sorted(set(not_current) - waiting)
    assert not unlisted, f"claims whose protocol has no matching evidence record (run `trainlab check NAME --out evidence`): {unlisted}"
    done = sorted(waiting - set(not_current))
    assert not done, f"these claims have current evidence: remove them from evidence/PENDING.txt: {done}"


def test_evidence_records_come_from_the_declared_protocol_on_committed_code():
    for r in load_results(EVIDENCE):
        assert r["mode"] == "full" and r["protocol"] == "declared", r["claim"]
        assert r["commit"] and r["dirty"] is False, f"{r['claim']}: evidence must be run from a committed tree"
        assert len(r["baseline"]) == len(r["treatment"]) == len(r["seeds"]) >= 5
