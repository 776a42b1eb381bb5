"""Run the benchmarks: `python -m bench [name ...] [--options]` (or `./dev bench`)."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "crm": "bench.crm",
    "ingest": "bench.ingest",
    "peers": "bench.peers",
    "peers-db": "bench.peers_db",
    "reports": "bench.reports",
    "scan": "bench.scan",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help="which benchmarks")
    args, rest = parser.parse_known_args(argv)
    for name in args.names:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        module = importlib.import_module(BENCHMARKS[name])
        status = module.main(rest)
        if status:
            return int(status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
