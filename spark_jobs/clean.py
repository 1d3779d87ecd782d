"""Spark job: ODS -> DWD + quarantine + reconciliation for one bank and day.

    python spark_jobs/clean.py --tenant hexi --date 2026-11-20 [--source loan ...]

The work is in granary.clean; this file only parses arguments, so the CLI, Airflow and a
cluster all run the same code. Exit codes: 0 ok, 1 the step failed (bad data or engine
down), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from granary.clean import clean
from granary.errors import GranaryError
from granary.tenants import TenantConfigError, get_tenant


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="spark_jobs/clean.py", description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", required=True, help="bank code, e.g. qingshan")
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="business date, YYYY-MM-DD")
    parser.add_argument("--source", action="append", help="source table (repeat for more); default: all")
    args = parser.parse_args(argv)
    try:
        clean(get_tenant(args.tenant), args.date, args.source)
    except TenantConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GranaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
