"""Command line: ``python -m jindu.bench <name> [options]`` (``--help`` per benchmark)."""

from __future__ import annotations

import sys

BENCHES = {"scope": "jindu.bench.scope", "persons": "jindu.bench.persons",
           "enforcement": "jindu.bench.enforcement", "precursors": "jindu.bench.precursors"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in BENCHES:
        print(f"usage: python -m jindu.bench {{{','.join(BENCHES)}}} [options]", file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    from importlib import import_module

    return import_module(BENCHES[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
