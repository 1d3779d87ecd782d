"""`granary credentials rotate --tenant T`: a new password for one bank, owner-only on disk, set in
PostgreSQL (the old one refused from then on) and in the bank's Superset connection; the other
bank, and the bank's own open sessions, carry on untouched."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from granary.core import config, paths
from granary.core.postgres import admin_connect
from granary.core.secrets import tenant_password
from granary.core.tenants import Tenant
from granary.serving.connection import tenant_connect, tenant_conninfo
from granary.superset import bundle, credentials
from granary.superset.client import SupersetClient

pytestmark = pytest.mark.slow

GRANARY = str(Path(sys.executable).with_name("granary"))
REPO = Path(__file__).resolve().parents[1]


def _role_hash(tenant: Tenant) -> str:
    with admin_connect() as conn:
        return conn.execute(
            "select rolpassword from pg_authid where rolname = %s", (tenant.reader_role,)
        ).fetchone()[0]


def _sql_lab(tenant: Tenant, admin: SupersetClient) -> int:
    """The bank's analyst runs a query in SQL Lab on the bank's own connection; the row count."""
    database = admin.find("database", uuid=bundle.asset_uuid(tenant, "database"))[0]["id"]
    client = SupersetClient(tenant.analyst_user, credentials.analyst_password(tenant))
    resp = client.request(
        "POST",
        "/api/v1/sqllab/execute/",
        json={
            "database_id": database,
            "sql": "select count(*) as n from ads_customer_tag",
            "schema": tenant.serving_schema,
            "runAsync": False,
            "client_id": secrets.token_hex(5),
        },
    )
    assert resp.status_code == 200, f"{tenant.code}: SQL Lab on its own connection: {resp.text[:400]}"
    return resp.json()["data"][0]["n"]


def test_rotate_changes_one_banks_password_and_its_superset_connection(superset_stack) -> None:
    from granary.superset.provision import admin_client

    me, other = superset_stack.banks["qingshan"].tenant, superset_stack.banks["hexi"].tenant
    admin = admin_client()
    rows_before = {t.code: _sql_lab(t, admin) for t in (me, other)}
    old, other_password, other_hash = tenant_password(me.code), tenant_password(other.code), _role_hash(other)

    with tenant_connect(me, autocommit=True) as open_session:
        done = subprocess.run(
            [GRANARY, "credentials", "rotate", "--tenant", me.code],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Superset connection" in done.stderr and "updated" in done.stderr, done.stderr
        # A session opened before the rotation keeps working: no downtime for the bank either.
        assert open_session.execute("select count(*) from ads_customer_tag").fetchone()[0] > 0

    new = tenant_password(me.code)
    assert new != old and len(new) >= 24
    secret = paths.tenant_password_file(me.code)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert not list(secret.parent.glob("*.pending"))
    # The old password is refused (pg_hba.conf checks bank roles' passwords), the new one works.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**{**tenant_conninfo(me), "password": old}).close()
    with tenant_connect(me) as conn:
        assert conn.execute("select current_user").fetchone() == (me.reader_role,)
    # The bank's Superset connection was given the new password: SQL Lab still answers.
    assert _sql_lab(me, admin) == rows_before[me.code]

    # The other bank: same password on disk and in PostgreSQL, still logs in, SQL Lab unchanged.
    assert tenant_password(other.code) == other_password
    assert _role_hash(other) == other_hash
    with tenant_connect(other) as conn:
        assert conn.execute("select count(*) from ads_customer_tag").fetchone()[0] > 0
    assert _sql_lab(other, admin) == rows_before[other.code]


def test_rotate_without_superset_still_rotates_and_says_what_is_left(superset_stack) -> None:
    """Superset unreachable (a URL nothing answers): PostgreSQL and the secret change, and the CLI
    says that `granary superset provision` gives Superset the password later; it does."""
    from granary.superset import provision

    me = superset_stack.banks["hexi"].tenant
    admin = provision.admin_client()
    rows = _sql_lab(me, admin)
    old = tenant_password(me.code)
    env = {**os.environ, "GRANARY_SUPERSET_URL": "http://127.0.0.1:9"}
    done = subprocess.run(
        [GRANARY, "credentials", "rotate", "--tenant", me.code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Superset is not running" in done.stderr and "granary superset provision" in done.stderr
    assert tenant_password(me.code) != old
    with tenant_connect(me) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    provision.provision([me])
    assert _sql_lab(me, admin) == rows


def test_credentials_live_outside_the_repo_and_are_never_committed() -> None:
    secrets_dir = config.settings().secrets_dir.resolve()
    assert REPO not in secrets_dir.parents and secrets_dir != REPO
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert not [f for f in tracked.splitlines() if f.endswith((".password", ".key", ".pending"))]
