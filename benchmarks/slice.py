"""Benchmark: one day of the slice per bank, wall time of each stage.

    .venv/bin/python benchmarks/slice.py --scale 0.1 [--tenants qingshan,hexi] [--date 2026-11-20]

Uses the Spark Connect server (started if needed) and the serving database of this
installation. Prints a table and records benchmarks/results/slice-sf<scale>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from granary.core.tenants import get_tenant, load_tenants
from granary.generate import generate
from granary.pipeline import run as pipeline
from granary.serving.publish import init_serving
from granary.stack import spark_server

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--tenants", default=None, help="comma list; default all")
    args = parser.parse_args()
    tenants = [get_tenant(c) for c in args.tenants.split(",")] if args.tenants else load_tenants()

    console = Console()
    stages: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    spark_server.start_connect_server()
    init_serving(tenants)
    t0 = time.perf_counter()
    generate(tenants, [args.date], scale=args.scale, seed=42)
    generate_s = time.perf_counter() - t0
    for tenant in tenants:
        stages[tenant.code] = pipeline.run_all(tenant, args.date)
    total = time.perf_counter() - started

    steps = list(next(iter(stages.values())))  # the day's steps, in order (granary/catalog/day.yaml)
    table = Table("bank", *steps, "total", title=f"slice at SF{args.scale} ({args.date})")
    for code, timing in stages.items():
        table.add_row(code, *(f"{timing[s]:.1f}s" for s in steps), f"{sum(timing.values()):.1f}s")
    console.print(table)
    console.print(f"generate: {generate_s:.1f}s   wall (incl. Spark start): {total:.1f}s")

    record = {
        "benchmark": "slice",
        "scale": args.scale,
        "date": args.date.isoformat(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "generate_s": round(generate_s, 2),
        "stages_s": {code: {k: round(v, 2) for k, v in t.items()} for code, t in stages.items()},
        "wall_s": round(total, 2),
        "peak_rss_mb_client": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"slice-sf{args.scale:g}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")


if __name__ == "__main__":
    main()
