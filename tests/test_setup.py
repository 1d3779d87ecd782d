"""`make setup` on a machine it already set up: quick, and it changes nothing.

Runs the real target (the suite itself ran after a first `make setup`): virtualenvs, jars,
PostgreSQL's configuration and the admin login must all be found in place.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from granary.core import config
from granary.core.config import REPO_ROOT


def _watched(conn: psycopg.Connection) -> dict[str, float]:
    """Files a change would touch: PostgreSQL's rules and settings, the venv markers, the jars, the DSN."""
    (hba,) = conn.execute("show hba_file").fetchone()
    (data,) = conn.execute("show data_directory").fetchone()
    files = [
        Path(hba),
        Path(data) / "postgresql.auto.conf",
        *REPO_ROOT.glob(".venv*/.compiled"),
        *REPO_ROOT.glob(".jars/*/.fetched"),
        *REPO_ROOT.glob(".jars/*/*.jar"),
    ]
    return {str(f): f.stat().st_mtime_ns for f in files}


@pytest.mark.slow
def test_second_setup_is_quick_and_changes_nothing():
    admin_dsn = config.settings().pg_admin_dsn
    with psycopg.connect(admin_dsn) as conn:
        before = _watched(conn)
        (started,) = conn.execute("select pg_postmaster_start_time()").fetchone()
    t0 = time.monotonic()
    # As a person runs it: not with the test session's scratch settings (secrets dir, data root).
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANARY_")}
    done = subprocess.run(
        ["make", "setup"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    seconds = time.monotonic() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    # Every change setup can make announces itself with "setup: <verb>"; a second run has none.
    changes = [
        line for line in done.stdout.splitlines() if line.startswith("setup: ") and " on port " not in line
    ]
    assert changes == [], changes
    assert not any(word in done.stdout for word in ("uv sync", "mvn ", "apt-get")), done.stdout
    with psycopg.connect(config.settings().pg_admin_dsn) as conn:
        assert _watched(conn) == before
        # Not restarted, and the admin login still the one the DSN file holds.
        assert conn.execute("select pg_postmaster_start_time()").fetchone()[0] == started
    assert config.settings().pg_admin_dsn == admin_dsn
    print(f"second make setup: {seconds:.1f}s")
