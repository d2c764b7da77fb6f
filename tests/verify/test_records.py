"""Kept verifications: newest first, unreadable files skipped and kept, one summary row each."""

import math

from dpviz.verify import records
from tests.conftest import VERIFY_CONFIG, verify_report

REPORT = verify_report()


def test_history_is_newest_first_and_skips_what_it_cannot_read(tmp_path):
    for stamp in ("20261201-101500", "20261201-091500", "20261202-080000"):
        records.write(tmp_path, f"verify-{stamp}-abc123", status="running", config=VERIFY_CONFIG)
    broken = tmp_path / "verifications" / "verify-20261203-000000-ffffff.json"
    broken.write_text("{half a reco")
    ids = [r["id"] for r in records.history(tmp_path)]
    assert ids == ["verify-20261202-080000-abc123", "verify-20261201-101500-abc123", "verify-20261201-091500-abc123"]
    assert broken.exists()  # skipped, never deleted
    assert [r["id"] for r in records.history(tmp_path, limit=1)] == ids[:1]


def test_no_history_without_a_folder(tmp_path):
    assert records.history(tmp_path / "nowhere") == []


def test_a_summary_row_says_when_what_and_the_verdict(tmp_path):
    records.write(
        tmp_path, "verify-20261201-221530-0a0b0c", status="completed", config=VERIFY_CONFIG, report=REPORT.to_dict()
    )
    row = records.summary(records.read(tmp_path, "verify-20261201-221530-0a0b0c"))
    assert row["started"] == "2026-12-01 22:15:30" and row["status"] == "completed"
    assert (row["kind"], row["canaries"], row["model"], row["σ"]) == ("gradient", 10000, "mlp", 1.0)
    assert row["ε claimed"] == 3.06 and row["ε ≥ (f-DP)"] == 1.9 and row["verdict"] == "consistent with its claim"


def test_a_running_or_infinite_claim_row_has_no_numbers_it_does_not_know(tmp_path):
    records.write(tmp_path, "verify-20261201-221530-000001", status="running", config=VERIFY_CONFIG)
    row = records.summary(records.read(tmp_path, "verify-20261201-221530-000001"))
    assert row["ε claimed"] is None and row["ε ≥ (f-DP)"] is None and row["verdict"] == ""
    infinite = verify_report(theoretical_epsilon=math.inf)
    records.write(tmp_path, "verify-20261201-221530-000002", status="completed", config={}, report=infinite.to_dict())
    row = records.summary(records.read(tmp_path, "verify-20261201-221530-000002"))
    assert row["ε claimed"] is None and row["ε ≥ (f-DP)"] == 1.9


def test_started_reads_only_ids_start_made():
    assert records.started("verify-20261201-221530-0a0b0c") == "2026-12-01 22:15:30"
    assert records.started("verify-t-1") == "" and records.started("x") == ""


def test_started_refuses_a_short_time_strptime_would_take():
    assert records.started("verify-20261201-2215-aaaaaa") == "" and records.started("verify-20261301-221530-a") == ""
