"""The `granary` CLI as a test runs it: this checkout's, through the session's resident worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def granary(*args: str, worker: str) -> subprocess.CompletedProcess:
    """Run `granary <args>` (commands go to the worker, as Airflow's tasks do); it must succeed."""
    cli = Path(sys.executable).with_name("granary")
    done = subprocess.run(
        [str(cli), *args], env={**os.environ, "GRANARY_WORKER": worker}, capture_output=True, text=True
    )
    assert done.returncode == 0, f"granary {' '.join(args)}: exit {done.returncode}\n{done.stderr[-3000:]}"
    return done
