"""`granary audit --tenant T`: who (role) read what (object) when, from pgaudit's object log, kept
per bank (a bank's trail is its own database's; another bank's reads never appear in it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from day_fixtures import PublishedDay

from granary.core.tenants import Tenant
from granary.serving.connection import tenant_connect

pytestmark = pytest.mark.slow

GRANARY = str(Path(sys.executable).with_name("granary"))


def _audit(tenant: Tenant, since: datetime) -> list[dict]:
    done = subprocess.run(
        [GRANARY, "audit", "--tenant", tenant.code, "--since", since.isoformat(), "--limit", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _read_with_marker(tenant: Tenant, table: str) -> str:
    """A read by the bank's role that names a unique marker, so the test finds exactly its line."""
    marker = f"audit-{uuid.uuid4().hex[:12]}"
    with tenant_connect(tenant, autocommit=True) as conn:
        conn.execute(f"select count(*) from {table} where '{marker}' <> ''").fetchone()
    return marker


def test_audit_says_who_read_what_when_per_bank(published_day: PublishedDay) -> None:
    a, b = published_day.tenants
    since = datetime.now(UTC) - timedelta(seconds=1)
    mark_a = _read_with_marker(a, "ads_customer_tag")
    mark_b = _read_with_marker(b, "ads_customer_profile")
    until = datetime.now(UTC) + timedelta(seconds=1)

    # The server writes its log asynchronously to us: give it a moment.
    for _ in range(20):
        trail_a, trail_b = _audit(a, since), _audit(b, since)
        if any(mark_a in r["statement"] for r in trail_a) and any(mark_b in r["statement"] for r in trail_b):
            break
        time.sleep(0.5)
    mine = [r for r in trail_a if mark_a in r["statement"]]
    assert len(mine) == 1, trail_a[-5:]
    (entry,) = mine
    assert entry["role"] == a.reader_role
    assert entry["object"] == f"{a.serving_schema}.ads_customer_tag"
    assert entry["command"] == "SELECT"
    assert since <= datetime.fromisoformat(entry["at"]) <= until
    # Kept per bank: B's read is in B's trail only, A's in A's only.
    assert any(mark_b in r["statement"] and r["role"] == b.reader_role for r in trail_b)
    assert not any(mark_b in r["statement"] for r in trail_a)
    assert not any(mark_a in r["statement"] for r in trail_b)
    assert {r["database"] for r in trail_a} == {trail_a[0]["database"]}
    # --since filters: nothing before the time asked for.
    assert all(datetime.fromisoformat(r["at"]) >= since for r in trail_a)


def test_a_bank_cannot_switch_its_audit_off(published_day: PublishedDay) -> None:
    tenant = published_day.tenants[0]
    with tenant_connect(tenant, autocommit=True) as conn:
        assert conn.execute("show pgaudit.role").fetchone() == ("granary_auditor",)
        for attempt in ("set pgaudit.role = ''", "set pgaudit.log = 'none'", "reset pgaudit.role"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attempt)
