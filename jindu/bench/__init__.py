"""Benchmarks: ``python -m jindu.bench <name> [--size N]`` prints one JSON object per line.

Each line is ``{"bench": ..., "metric": ..., "value": ..., "unit": ...}`` plus context keys
(``database``, ``size``). Ratios are measured within one run, so they compare like with
like on whatever machine runs them. Benchmarks never run inside the test suite's timing:
tests only check that a benchmark runs at a tiny size and prints valid lines.

Available benchmarks: ``scope`` (:mod:`jindu.bench.scope`).
"""
