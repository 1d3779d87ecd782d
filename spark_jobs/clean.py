"""Spark job: ODS -> DWD, bad rows to quarantine, for one bank and day.

    python spark_jobs/clean.py --tenant hexi --date 2026-11-20 [--source loan ...]

Exactly `granary clean` (same code, options and exit codes), as a file a cluster's
launcher can run: the CLI, Airflow and a cluster all run one implementation.
"""

import sys

from granary.cli.app import app

if __name__ == "__main__":
    app(["clean", *sys.argv[1:]], prog_name="granary")
