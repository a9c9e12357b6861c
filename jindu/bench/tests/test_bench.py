"""The benchmark command runs at a tiny size and prints valid JSON lines (no timing asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "-m", "jindu.bench", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_scope_bench_prints_json_lines():
    result = run_bench("scope", "--size", "300", "--size", "600", "--scope-rows", "40", "--repeat", "2",
                       "--database", "sqlite")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines, result.stderr
    for line in lines:
        assert line["bench"] == "scope"
        assert {"metric", "value", "unit"} <= line.keys()
        assert isinstance(line["value"], (int, float))
    metrics = {(line["metric"], line.get("size")) for line in lines}
    assert {("page_count_ms", 300), ("page_count_ms", 600), ("ratio", None)} <= metrics
    # the user's scope holds the same rows whatever the table's size
    assert {line["value"] for line in lines if line["metric"] == "scope_rows"} == {40}
    assert all(line["database"] == "sqlite" for line in lines)


def test_unknown_bench_is_refused():
    result = run_bench("nope")
    assert result.returncode == 2
    assert "usage" in result.stderr
