"""Benchmark: the synthetic extracts for a day, at a scale, for some or all banks.

    .venv/bin/python benchmarks/generate.py --scale 1            # the whole province, SF1
    .venv/bin/python benchmarks/generate.py --scale 0.01 --tenants qingshan,hexi,anfeng

Writes into a throwaway data root (deleted afterwards unless --keep), prints a table and
records benchmarks/results/generate-sf<scale>.json: wall time, rows, bytes, rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--tenants", default=None, help="comma list; default: every bank in tenants/")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="granary-generate-"))
    os.environ["GRANARY_DATA"] = str(root)
    from granary.core.tenants import get_tenant, load_tenants
    from granary.generate import generate

    tenants = [get_tenant(c) for c in args.tenants.split(",")] if args.tenants else load_tenants()
    started = time.perf_counter()
    counts = generate(tenants, [args.date], scale=args.scale, seed=42)
    wall = time.perf_counter() - started

    rows = {code: sum(tables.values()) for code, tables in counts.items()}
    landing = root / "landing"
    size = sum(f.stat().st_size for f in landing.rglob("*") if f.is_file())
    total = sum(rows.values())
    customers = sum(t.get("customer", 0) for t in counts.values())

    console = Console()
    table = Table("banks", "customers", "rows", "MB", "seconds", "rows/s", title=f"generate SF{args.scale:g}")
    table.add_row(
        str(len(tenants)),
        f"{customers:,}",
        f"{total:,}",
        f"{size / 1e6:.0f}",
        f"{wall:.1f}",
        f"{total / wall:,.0f}",
    )
    console.print(table)
    record = {
        "benchmark": "generate",
        "scale": args.scale,
        "date": args.date.isoformat(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "banks": len(tenants),
        "customers": customers,
        "rows": total,
        "bytes": size,
        "wall_s": round(wall, 2),
        "rows_per_s": round(total / wall),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "rows_per_bank": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"generate-sf{args.scale:g}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}" + ("" if args.keep else f"; removing {root}"))
    if not args.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
