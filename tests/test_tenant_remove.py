"""A bank's lifecycle in the session's real Superset and PostgreSQL: `granary tenant add T` (what
each DAG run's first task does), a published day, `granary tenant remove T`, and the bank added
again: nothing of its first life (passwords, PII key, served rows, Superset assets, data) is in
the second, and its analyst sees all eight dashboards with the new day's data.

The bank is one made for this test, `tmpbank` (a copy of qingshan's published day under its own
code, tenants dir and serving database), so the shared `published_day` / `superset_stack` banks
stay as they were for every later test; the test checks that they did.

Costs: two onboardings (serving init and Superset provisioning), two publishes, CLI runs (~2 min).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.lake import day_rows

from granary.core import paths
from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant, load_tenant_file
from granary.lake import tables
from granary.serving.publish import publish
from granary.superset import bundle, credentials, provision
from granary.superset.client import SupersetClient

pytestmark = pytest.mark.slow

CODE = "tmpbank"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(tenants_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    granary = Path(sys.executable).with_name("granary")
    # Nothing answers on this Airflow port: the pool step must say so, not fail (or touch a demo's).
    env = {
        **os.environ,
        "GRANARY_TENANTS_DIR": str(tenants_dir),
        "GRANARY_AIRFLOW_URL": f"http://127.0.0.1:{_free_port()}",
    }
    done = subprocess.run([str(granary), *args], capture_output=True, text=True, env=env, timeout=600)
    # Rich wraps at 80 columns without a terminal: compare words, not lines.
    done.stderr = " ".join(done.stderr.split())
    return done


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _counts(admin: SupersetClient) -> dict[str, int]:
    return {
        r: len(admin.list_all(r))
        for r in ("dashboard", "chart", "dataset", "database", "security/roles", "security/users")
    }


def _bank_assets(admin: SupersetClient, tenant: Tenant) -> dict[str, set[int]]:
    dbs = admin.find("database", uuid=bundle.asset_uuid(tenant, "database"))
    datasets = {
        d["id"]
        for db in dbs
        for d in admin.list_all("dataset", filters=[{"col": "database", "opr": "rel_o_m", "value": db["id"]}])
    }
    charts = {c["id"] for c in admin.list_all("chart") if c.get("datasource_id") in datasets}
    role = admin.find("security/roles", name=tenant.superset_role)
    return {
        "database": {d["id"] for d in dbs},
        "dataset": datasets,
        "chart": charts,
        "dashboard": {
            d["id"]
            for d in admin.list_all("dashboard")
            if role and role[0]["id"] in {r["id"] for r in d["roles"] or []}
        },
        "role": {r["id"] for r in role},
        "user": {u["id"] for u in admin.find("security/users", username=tenant.analyst_user)},
    }


@pytest.fixture(scope="module")
def tmpbank(superset_stack, published_day, tmp_path_factory) -> Iterator[tuple[Tenant, Path]]:
    """A third bank with a real published day, Superset assets and data on disk (qingshan's, copied).
    Removed again afterwards, whatever the tests did."""
    tenants_dir = tmp_path_factory.mktemp("tenants")
    _write_yaml(tenants_dir)
    tenant = load_tenant_file(tenants_dir / f"{CODE}.yaml")
    _drop_leftovers(tenant)
    added = _cli(tenants_dir, "tenant", "add", CODE)
    assert added.returncode == 0, added.stderr[-3000:]
    for made in (
        "serving password",
        "PII key",
        f"serving database {serving_database(tenant)}",
        "Superset role",
    ):
        assert f"created {made}" in added.stderr, added.stderr
    _copy_day(tenant, published_day)
    yield tenant, tenants_dir
    (tenants_dir / f"{CODE}.yaml").unlink(missing_ok=True)
    _cli(tenants_dir, "tenant", "remove", CODE)
    _drop_leftovers(tenant)


def _drop_leftovers(tenant: Tenant) -> None:
    """The bank's serving database and role, whatever the tests did (named under this session's
    serving prefix: an earlier session's are never in the way)."""
    with admin_connect(autocommit=True) as conn:
        conn.execute(f'drop database if exists "{serving_database(tenant)}" with (force)')
        conn.execute(f'drop role if exists "{tenant.reader_role}"')


def _write_yaml(tenants_dir: Path) -> None:
    raw = yaml.safe_load((settings().tenants_dir / "qingshan.yaml").read_text(encoding="utf-8"))
    raw.update(code=CODE, name_zh="临时测试农商银行", name_en="Temporary Test Rural Bank")
    (tenants_dir / f"{CODE}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def _copy_day(tenant: Tenant, day) -> None:  # noqa: ANN001 - day_fixtures.PublishedDay
    """qingshan's published day as this bank's own (its data on disk and its lake tables in the
    catalog: two DWD tables' day, committed to its own namespace), then published."""
    s = settings()
    shutil.copytree(s.landing_root / "qingshan", s.landing_root / CODE)
    lake_tables = shutil.ignore_patterns(*(f"{layer}_*" for layer in tables.LAYERS))
    shutil.copytree(paths.lake_dir("qingshan"), paths.lake_dir(CODE), ignore=lake_tables)
    for table in ("customer", "loan"):
        tables.write_day_arrow(day_rows("qingshan", "dwd", table, day.dt), CODE, "dwd", table, day.dt)
    shutil.copyfile(day.warehouses[("qingshan", day.dt)], paths.warehouse_db(CODE))
    publish(tenant, day.dt)


def test_remove_a_bank(superset_stack, tmpbank: tuple[Tenant, Path]) -> None:
    tenant, tenants_dir = tmpbank
    admin = provision.admin_client()
    others = [f.tenant for f in superset_stack.banks.values()]
    others_before = {t.code: _bank_assets(admin, t) for t in others}
    mine = _bank_assets(admin, tenant)
    assert all(mine.values()), mine  # it has every kind of asset before
    before = _counts(admin)
    SupersetClient(tenant.analyst_user, credentials.analyst_password(tenant))  # can log in
    s = settings()
    data = {
        "landing": _digests(s.landing_root / CODE),
        "lake": _digests(paths.lake_dir(CODE)),
        f"warehouse/{CODE}.duckdb": hashlib.sha256(paths.warehouse_db(CODE).read_bytes()).hexdigest(),
    }
    analyst_password = credentials.analyst_password(tenant)
    assert tables.tables_of(CODE) == ["dwd_customer", "dwd_loan"]

    refused = _cli(tenants_dir, "tenant", "remove", CODE)
    assert refused.returncode == 2
    assert "still exists" in refused.stderr and "Delete the file first" in refused.stderr
    assert _bank_assets(admin, tenant) == mine  # nothing touched

    (tenants_dir / f"{CODE}.yaml").unlink()
    done = _cli(tenants_dir, "tenant", "remove", CODE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "airflow: not running" in done.stderr

    # Superset: every asset of the bank gone, exactly those; its analyst cannot log in.
    assert not any(_bank_assets(admin, tenant).values())
    after = _counts(admin)
    assert after == {
        "dashboard": before["dashboard"] - len(mine["dashboard"]),
        "chart": before["chart"] - len(mine["chart"]),
        "dataset": before["dataset"] - len(mine["dataset"]),
        "database": before["database"] - 1,
        "security/roles": before["security/roles"] - 1,
        "security/users": before["security/users"] - 1,
    }
    with pytest.raises(EngineError, match="login as 'tmpbank_analyst' failed"):
        SupersetClient(tenant.analyst_user, analyst_password)

    # Serving: database and login role gone, a restorable dump in the archive.
    with admin_connect() as conn:
        assert not conn.execute(
            "select 1 from pg_database where datname = %s", (serving_database(tenant),)
        ).fetchone()
        assert not conn.execute("select 1 from pg_roles where rolname = %s", (tenant.reader_role,)).fetchone()
    [archive] = sorted(s.archive_root.glob(f"{CODE}-*"))
    listing = subprocess.run(
        ["pg_restore", "--list", str(archive / "serving.dump")], capture_output=True, text=True
    )
    assert (
        listing.returncode == 0 and "publish_info" in listing.stdout and "ads_branch_daily" in listing.stdout
    )

    # Data: moved, byte for byte, never deleted; its tables out of the lake's catalog.
    assert not (s.landing_root / CODE).exists() and not paths.lake_dir(CODE).exists()
    assert tables.tables_of(CODE) == []
    assert not paths.warehouse_db(CODE).exists()
    assert _digests(archive / "landing") == data["landing"]
    assert _digests(archive / "lake") == data["lake"]
    assert (
        hashlib.sha256((archive / "warehouse" / f"{CODE}.duckdb").read_bytes()).hexdigest()
        == data[f"warehouse/{CODE}.duckdb"]
    )
    assert (archive / "manifest.json").is_file()
    # Its secrets moved aside, owner-only.
    removed = paths.removed_secrets_dir(CODE, archive.name.removeprefix(f"{CODE}-"))
    assert not paths.tenant_password_file(CODE).exists()
    assert (removed / f"{CODE}.pg.password").is_file() and (removed / f"{CODE}.superset.password").is_file()
    assert removed.stat().st_mode & 0o077 == 0

    # The other banks: untouched, their analysts still read their own data.
    assert {t.code: _bank_assets(admin, t) for t in others} == others_before
    for t in others:
        client = SupersetClient(t.analyst_user, credentials.analyst_password(t))
        [db] = client.list_all("database")
        assert db["database_name"] == bundle.database_name(t)
        with admin_connect(serving_database(t)) as conn:
            assert conn.execute(f"select count(*) from {t.serving_schema}.publish_info").fetchone()[0] > 0

    # Idempotent: a second run finds nothing left and archives nothing new.
    again = _cli(tenants_dir, "tenant", "remove", CODE)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 step(s) done" in again.stderr
    assert sorted(s.archive_root.glob(f"{CODE}-*")) == [archive]
    assert _counts(admin) == after


def test_added_again_nothing_of_the_first_life_remains(
    superset_stack, published_day, tmpbank: tuple[Tenant, Path]
) -> None:
    """Runs after test_remove_a_bank: the same code, added again by its file and `granary tenant add`."""
    tenant, tenants_dir = tmpbank
    s = settings()
    [archive] = sorted(s.archive_root.glob(f"{CODE}-*"))
    removed = paths.removed_secrets_dir(CODE, archive.name.removeprefix(f"{CODE}-"))
    first_life = {
        name: (removed / name).read_text(encoding="utf-8").strip()
        for name in (f"{CODE}.pg.password", f"{CODE}.superset.password", f"{CODE}.pii.key")
        if (removed / name).exists()
    }
    assert f"{CODE}.pii.key" in first_life  # the first life's PII key went to the archive too

    _write_yaml(tenants_dir)
    added = _cli(tenants_dir, "tenant", "add", CODE)
    assert added.returncode == 0, added.stderr[-3000:]
    assert "Superset role" in added.stderr and "created serving database" in added.stderr

    # New secrets: nothing of the first life's passwords or key.
    assert (
        paths.tenant_password_file(CODE).read_text(encoding="utf-8").strip()
        != first_life[f"{CODE}.pg.password"]
    )
    assert paths.tenant_key_file(CODE).read_text(encoding="utf-8").strip() != first_life[f"{CODE}.pii.key"]
    assert credentials.analyst_password(tenant) != first_life[f"{CODE}.superset.password"]
    with pytest.raises(EngineError, match="login as 'tmpbank_analyst' failed"):
        SupersetClient(tenant.analyst_user, first_life[f"{CODE}.superset.password"])
    # An empty serving database and no data on disk until its day runs.
    with admin_connect(serving_database(tenant)) as conn:
        assert not conn.execute(
            "select 1 from pg_tables where schemaname = %s", (tenant.serving_schema,)
        ).fetchone()
    assert not paths.lake_dir(CODE).exists() and not paths.warehouse_db(CODE).exists()

    # Its day, then its analyst: eight dashboards, each chart answering with the new day's rows.
    _copy_day(tenant, published_day)
    analyst = SupersetClient(tenant.analyst_user, credentials.analyst_password(tenant))
    dashboards = analyst.list_all("dashboard")
    assert len(dashboards) == len(bundle.dashboard_uuids(tenant)) == 8
    for dashboard in dashboards:
        charts = analyst.call("GET", f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
        assert charts, dashboard["dashboard_title"]
        answered = [analyst.request("GET", f"/api/v1/chart/{c['id']}/data/") for c in charts]
        assert all(r.status_code == 200 for r in answered), dashboard["dashboard_title"]
        assert any(r.json()["result"][0]["data"] for r in answered), dashboard["dashboard_title"]
    [db] = analyst.list_all("database")
    assert db["database_name"] == bundle.database_name(tenant)

    # And out again: the round trip leaves nothing in PostgreSQL.
    (tenants_dir / f"{CODE}.yaml").unlink()
    gone = _cli(tenants_dir, "tenant", "remove", CODE)
    assert gone.returncode == 0, gone.stderr[-3000:]
    with admin_connect() as conn:
        assert not conn.execute(
            "select 1 from pg_database where datname = %s", (serving_database(tenant),)
        ).fetchone()
        assert not conn.execute("select 1 from pg_roles where rolname = %s", (tenant.reader_role,)).fetchone()
