"""Benchmark: ingest + clean of one generated day per bank on the Spark Connect server.

    .venv/bin/python benchmarks/ingest_clean.py --scale 0.1 --tenants qingshan,hexi [--date 2026-11-20]

Generates the day (not timed in the rates), then per bank runs `ingest` and `clean` for every
source table whose extract was generated, and records rows in (the landing rows, from the
reconciliation records), seconds and rows per second per bank and in total to
benchmarks/results/ingest_clean-sf<scale>.json. Starts the Spark Connect server if none answers
at GRANARY_SPARK_REMOTE. Use a scratch GRANARY_DATA and GRANARY_LAKE_CATALOG to keep the
benchmark's data apart: the lake tables it writes are named in the lake catalog, and a Spark
server writes the catalog (and lake root) it was started with, so point GRANARY_SPARK_REMOTE at a
free address to have it start one on them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from granary.catalog.sources import contracts
from granary.core import paths
from granary.core.tenants import Tenant, get_tenant, load_tenants
from granary.generate import generate
from granary.pipeline.clean import clean
from granary.pipeline.ingest import ingest
from granary.stack import spark_server

RESULTS = Path(__file__).parent / "results"


def run_bank(tenant: Tenant, dt: date) -> dict:
    tables = [t for t in contracts() if paths.landing_file(tenant.code, dt, t).is_file()]
    landed = sum(paths.landing_file(tenant.code, dt, t).stat().st_size for t in tables)
    t0 = time.perf_counter()
    ingest(tenant, dt, tables)
    t1 = time.perf_counter()
    clean(tenant, dt, tables)
    t2 = time.perf_counter()
    per_table = {}
    for table in tables:
        recon = json.loads(paths.reconciliation_file(tenant.code, table, dt).read_text(encoding="utf-8"))
        per_table[table] = {k: recon[k] for k in ("rows_in", "rows_clean", "rows_quarantined")}
    rows_in = sum(t["rows_in"] for t in per_table.values())
    seconds = t2 - t0
    return {
        "tables": per_table,
        "landing_mb": round(landed / 1e6, 2),
        "rows_in": rows_in,
        "ingest_s": round(t1 - t0, 2),
        "clean_s": round(t2 - t1, 2),
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows_in / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--tenants", default="qingshan,hexi", help="comma list; 'all' for every bank")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    tenants = load_tenants() if args.tenants == "all" else [get_tenant(c) for c in args.tenants.split(",")]

    console = Console()
    spark_server.start_connect_server()
    t0 = time.perf_counter()
    generate(tenants, [args.date], scale=args.scale, seed=args.seed)
    generate_s = time.perf_counter() - t0

    banks: dict[str, dict] = {}
    started = time.perf_counter()
    for tenant in tenants:
        banks[tenant.code] = run_bank(tenant, args.date)
    wall = time.perf_counter() - started
    rows_total = sum(b["rows_in"] for b in banks.values())

    table = Table(
        "bank", "tables", "rows in", "MB", "ingest", "clean", "seconds", "rows/s",
        title=f"ingest + clean at SF{args.scale:g} ({args.date})",
    )  # fmt: skip
    for code, b in banks.items():
        cells = [
            f"{b['rows_in']:,}",
            f"{b['landing_mb']:.1f}",
            f"{b['ingest_s']:.1f}s",
            f"{b['clean_s']:.1f}s",
        ]
        table.add_row(code, str(len(b["tables"])), *cells, f"{b['seconds']:.1f}s", f"{b['rows_per_s']:,.0f}")
    table.add_row("total", "", f"{rows_total:,}", "", "", "", f"{wall:.1f}s", f"{rows_total / wall:,.0f}")
    console.print(table)
    console.print(f"generate: {generate_s:.1f}s (not in the rates)")

    record = {
        "benchmark": "ingest_clean",
        "scale": args.scale,
        "date": args.date.isoformat(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        # other work on the machine skews the figures: the 1-minute load average when the run ended
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "spark_remote": os.environ.get("GRANARY_SPARK_REMOTE", "sc://127.0.0.1:15002"),
        "generate_s": round(generate_s, 2),
        "banks": banks,
        "total": {
            "rows_in": rows_total,
            "seconds": round(wall, 2),
            "rows_per_s": round(rows_total / wall, 1),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ingest_clean-sf{args.scale:g}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")


if __name__ == "__main__":
    main()
