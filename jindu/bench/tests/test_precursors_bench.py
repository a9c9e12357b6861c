"""``python -m jindu.bench precursors`` runs at a tiny size, prints valid JSON lines, and its
reconciliation finds every planted anomaly and no violation in the clean flows (no timing
asserted)."""

import json
import os
import subprocess
import sys

from jindu.bench.tests.test_bench import ROOT

KINDS = {
    "unmatched_outbound", "unmatched_inbound", "quantity_mismatch", "purchase_unlicensed", "purchase_over_limit",
    "purchase_after_expiry", "sale_to_unlicensed", "transport_unlicensed", "late_report", "stock_count_mismatch",
    "negative_balance", "expired_not_destroyed", "unusual_movement",
}


def run_bench(*args: str) -> subprocess.CompletedProcess:
    # Migrating a fresh database is most of the run: allow for a busy machine.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run([sys.executable, "-m", "jindu.bench", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1200)


def test_precursors_bench_prints_json_lines_and_finds_the_planted_anomalies():
    result = run_bench("precursors", "--size", "2000", "--size", "3000", "--enterprises", "50",
                       "--import-rows", "200", "--database", "sqlite")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines, result.stderr
    for line in lines:
        assert line["bench"] == "precursors"
        assert {"metric", "value", "unit"} <= line.keys()
        assert isinstance(line["value"], (int, float))
        assert line["database"] == "sqlite"
    metrics = {(line["metric"], line.get("size")) for line in lines}
    for size in (2000, 3000):
        assert {("generate_s", size), ("entries", size), ("aggregate_s", size), ("reconcile_full_s", size),
                ("reconcile_full_ratio", size), ("reconcile_full_peak_rss_mb", size),
                ("reconcile_incremental_s", size), ("read_rows_per_s", size), ("import_rows_per_s", size),
                ("import_read_ratio", size), ("import_peak_rss_mb", size)} <= metrics
    assert ("incremental_ratio", None) in metrics
    assert ("import_failed", 2000) not in metrics

    by = {(line["metric"], line.get("size")): line for line in lines}
    # the ledger holds the size asked for; the import posted every row of its file
    assert 2000 <= by[("entries", 2000)]["value"] <= 2001  # a sale and its delivery may end the last day
    assert by[("import_rows_per_s", 2000)]["posted"] == 200
    # the second run is incremental: it checks the pairs the new entries touched
    assert by[("reconcile_incremental_s", 2000)]["mode"] == "incremental"

    # every planted anomaly is found by its rule, at every size
    found = [line for line in lines if line["metric"] == "planted_found"]
    assert {line["kind"] for line in found} == KINDS
    for line in found:
        assert line["planted"] >= 2
        assert line["found"] == line["planted"], line
    # and the clean flows raise no suspected violation (statistical review flags may occur)
    raised = [line for line in lines if line["metric"] == "raised"]
    assert raised
    for line in raised:
        assert line["on_clean"] == 0, line
