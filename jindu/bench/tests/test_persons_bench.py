"""``python -m jindu.bench persons`` runs at a tiny size and prints valid JSON lines (no timing asserted)."""

import json
import os
import subprocess
import sys

from jindu.bench.tests.test_bench import ROOT


def run_bench(*args: str) -> subprocess.CompletedProcess:
    # Migrating a fresh database is most of the run: allow for a busy machine.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run([sys.executable, "-m", "jindu.bench", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1200)


def test_persons_bench_prints_json_lines():
    result = run_bench("persons", "--size", "120", "--size", "240", "--import-rows", "20", "--repeat", "2",
                       "--database", "sqlite")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines, result.stderr
    for line in lines:
        assert line["bench"] == "persons"
        assert {"metric", "value", "unit"} <= line.keys()
        assert isinstance(line["value"], (int, float))
        assert line["database"] == "sqlite"
    metrics = {(line["metric"], line.get("size")) for line in lines}
    for size in (120, 240):
        assert {("worklist_ms", size), ("recompute_initial_people_per_s", size),
                ("recompute_nightly_people_per_s", size), ("recompute_nightly_people_per_cpu_s", size),
                ("recompute_nightly_peak_rss_mb", size)} <= metrics
    assert {("ratio", None), ("import_rows_per_s", None), ("read_rows_per_s", None),
            ("import_read_ratio", None), ("import_peak_rss_mb", None)} <= metrics
    # the social worker's caseload is the same people at every size
    items = {line["size"]: line["value"] for line in lines if line["metric"] == "worklist_items"}
    assert items[120] == items[240] > 0
    # every generated person was recomputed, and the next night found nothing left to rewrite at once
    nightly = [line for line in lines if line["metric"] == "recompute_nightly_people_per_s"]
    assert all(line["value"] > 0 for line in nightly)
