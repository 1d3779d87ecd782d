"""Removing a bank: `granary tenant remove T`, after tenants/T.yaml was deleted.

What the platform holds for a bank goes, in this order: its Superset assets (dashboards, charts,
datasets, database connection with its saved queries, analyst user, role), its serving access (a pg_dump
of its serving database saved to the archive, then the database and its login role dropped), its
Airflow pool if Airflow runs; its landing, lake and warehouse data are moved (never deleted) into
`paths.archive_dir(T, <UTC timestamp>)`, its keys and passwords into `paths.removed_secrets_dir`.
The province's own records (ops tables, the external data ledger) keep the bank's history.

Idempotent: each step looks for what is left and says what it did; a second run finds nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console

from granary.core import paths
from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.postgres import admin_connect, admin_dsn, serving_database
from granary.core.tenants import Tenant, TenantConfigError

console = Console(stderr=True)

CODE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")  # as Tenant.code


@dataclass
class Removal:
    """What `remove` did, step by step (shown as it goes, returned for callers and tests)."""

    tenant: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    archive: Path | None = None

    def did(self, what: str) -> None:
        self.done.append(what)
        console.print(f"[green]✓[/] {what}")

    def skip(self, what: str) -> None:
        self.skipped.append(what)
        console.print(f"[dim]·[/] {what}")


def former_tenant(code: str) -> Tenant:
    """A bank whose YAML is gone: every per-bank name (tenants.py) derives from its code alone."""
    if not CODE.match(code):
        raise TenantConfigError(
            f"'{code}' is not a bank code (lower-case letters, digits, _; starts with a letter)"
        )
    path = settings().tenants_dir / f"{code}.yaml"
    if path.exists():
        raise TenantConfigError(
            f"{path} still exists: bank {code} is configured. Delete the file first (e.g. `git rm {path}`), "
            f"then run `granary tenant remove {code}` again"
        )
    return Tenant.model_construct(code=code)


def remove(code: str) -> Removal:
    tenant = former_tenant(code)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    removal = Removal(code)
    console.print(f"[bold]removing bank {code}[/] (its configuration is gone; archive stamp {stamp})")
    _remove_superset(tenant, removal)
    _remove_serving(tenant, stamp, removal)
    _remove_airflow_pool(tenant, removal)
    _remove_lake_tables(tenant, removal)
    _archive_data(tenant, stamp, removal)
    _archive_secrets(tenant, stamp, removal)
    if removal.archive is not None:
        _write_manifest(removal, stamp)
    console.print(
        f"[bold green]bank {code} removed[/]: {len(removal.done)} step(s) done, "
        f"{len(removal.skipped)} already gone" + (f"; archive {removal.archive}" if removal.archive else "")
    )
    return removal


# --- Superset ----------------------------------------------------------------------------------


def _remove_superset(tenant: Tenant, removal: Removal) -> None:
    from granary.superset import bundle, credentials
    from granary.superset.provision import admin_client

    if not credentials.secret_files(tenant)[1].exists():  # the admin's password: Superset was set up
        removal.skip("superset: never set up in this installation")
        return
    try:
        client = admin_client()
    except EngineError as exc:
        raise EngineError(
            f"{exc}. Nothing was removed; start Superset (`granary superset start`) and run "
            f"`granary tenant remove {tenant.code}` again"
        ) from exc
    databases = client.find("database", uuid=bundle.asset_uuid(tenant, "database"))
    datasets = [
        d
        for db in databases
        for d in client.list_all(
            "dataset", filters=[{"col": "database", "opr": "rel_o_m", "value": db["id"]}]
        )
    ]
    dataset_ids = {d["id"] for d in datasets}
    charts = [c for c in client.list_all("chart") if c.get("datasource_id") in dataset_ids]
    role = next(iter(client.find("security/roles", name=tenant.superset_role)), None)
    user = next(iter(client.find("security/users", username=tenant.analyst_user)), None)
    dashboards = _bank_dashboards(client, {c["id"] for c in charts}, role, user)
    _delete_many(client, "dashboard", dashboards, removal, "dashboard(s)")
    _delete_many(client, "chart", [c["id"] for c in charts], removal, "chart(s)")
    _delete_many(client, "dataset", sorted(dataset_ids), removal, "dataset(s)")
    # The connection's saved queries and SQL Lab history go with it (Superset cascades them).
    for db in databases:
        client.call("DELETE", f"/api/v1/database/{db['id']}")
    if databases:
        removal.did(f"superset: database connection {', '.join(d['database_name'] for d in databases)}")
    else:
        removal.skip("superset: no database connection")
    if user:
        client.call("DELETE", f"/api/v1/security/users/{user['id']}")
        removal.did(f"superset: user {tenant.analyst_user} (can no longer log in)")
    else:
        removal.skip(f"superset: no user {tenant.analyst_user}")
    if role:
        client.call("DELETE", f"/api/v1/security/roles/{role['id']}")
        removal.did(f"superset: role {tenant.superset_role}")
    else:
        removal.skip(f"superset: no role {tenant.superset_role}")


def _bank_dashboards(client, chart_ids: set[int], role: dict | None, user: dict | None) -> list[int]:  # noqa: ANN001
    """The bank's dashboards: restricted to its role, or owned by its analyst alone, or showing only
    its charts. A dashboard that mixes in other charts stays (it just loses the bank's)."""
    found = []
    for dash in client.list_all("dashboard"):
        roles = {r["id"] for r in dash.get("roles") or []}
        owners = {o["id"] for o in dash.get("owners") or []}
        if role and role["id"] in roles or user and owners == {user["id"]}:
            found.append(dash["id"])
            continue
        if chart_ids:
            on_it = {c["id"] for c in client.call("GET", f"/api/v1/dashboard/{dash['id']}/charts")["result"]}
            if on_it and on_it <= chart_ids:
                found.append(dash["id"])
    return found


def _delete_many(client, resource: str, ids: list[int], removal: Removal, what: str) -> None:  # noqa: ANN001
    from granary.superset.client import rison

    if not ids:
        removal.skip(f"superset: no {what}")
        return
    for start in range(0, len(ids), 100):
        client.call("DELETE", f"/api/v1/{resource}/", params={"q": rison(ids[start : start + 100])})
    removal.did(f"superset: {len(ids)} {what}")


# --- serving -----------------------------------------------------------------------------------


def _remove_serving(tenant: Tenant, stamp: str, removal: Removal) -> None:
    database, role = serving_database(tenant), tenant.reader_role
    with admin_connect(autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if exists:
            dump = _archive(tenant, stamp, removal) / "serving.dump"
            _pg_dump(database, dump)
            removal.did(f"serving: pg_dump of {database} saved to {dump}")
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(database)))
            removal.did(f"serving: database {database} dropped")
        else:
            removal.skip(f"serving: no database {database}")
        if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            try:
                conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
            except psycopg.errors.DependentObjectsStillExist as exc:
                raise EngineError(
                    f"role {role} still holds rights outside its database ({exc}); revoke them and run again"
                ) from exc
            removal.did(f"serving: login role {role} dropped")
        else:
            removal.skip(f"serving: no login role {role}")


def _pg_dump(database: str, target: Path) -> None:
    """A custom-format dump (`pg_restore` reads it), written beside and renamed when complete."""
    partial = target.with_suffix(".dump.partial")
    done = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={admin_dsn(database)}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise EngineError(f"pg_dump of {database} failed, nothing was dropped: {done.stderr.strip()}")
    os.replace(partial, target)


# --- Airflow -----------------------------------------------------------------------------------


def _remove_airflow_pool(tenant: Tenant, removal: Removal) -> None:
    from granary.stack import airflow

    if airflow.health() is None:
        removal.skip(f"airflow: not running at {settings().airflow_url} (pool {tenant.airflow_pool} left)")
        return
    api = airflow.Api()
    response = api.call("DELETE", f"/pools/{tenant.airflow_pool}", ok=(200, 204, 404))
    if response.status_code == 404:
        removal.skip(f"airflow: no pool {tenant.airflow_pool}")
    else:
        removal.did(f"airflow: pool {tenant.airflow_pool} deleted")


# --- data and secrets --------------------------------------------------------------------------


def _archive(tenant: Tenant, stamp: str, removal: Removal) -> Path:
    if removal.archive is None:
        removal.archive = paths.archive_dir(tenant.code, stamp)
        removal.archive.mkdir(parents=True, exist_ok=True)
    return removal.archive


def _data_paths(tenant: Tenant) -> dict[str, Path]:
    """What the bank has on disk, by its place in the archive."""
    s = settings()
    found = {
        "landing": s.landing_root / tenant.code,
        "lake": paths.lake_dir(tenant.code),
    }
    warehouse = paths.warehouse_db(tenant.code)
    for path in sorted(warehouse.parent.glob(f"{warehouse.name}*")):  # the file and any .wal beside it
        found[f"warehouse/{path.name}"] = path
    return found


def _remove_lake_tables(tenant: Tenant, removal: Removal) -> None:
    """The bank's namespace leaves the lake catalog; its tables' files are archived with its lake."""
    from granary.lake import tables

    dropped = tables.drop_namespace(tenant.code)
    if dropped:
        removal.did(f"lake: {len(dropped)} table(s) of namespace {tenant.code} dropped from the catalog")
    else:
        removal.skip(f"lake: no table of namespace {tenant.code} in the catalog")


def _archive_data(tenant: Tenant, stamp: str, removal: Removal) -> None:
    moved = False
    for place, source in _data_paths(tenant).items():
        if not source.exists():
            continue
        target = _archive(tenant, stamp, removal) / place
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        removal.did(f"archive: {source} → {target}")
        moved = True
    if not moved:
        removal.skip(f"archive: no landing, lake or warehouse data left for {tenant.code}")


def _archive_secrets(tenant: Tenant, stamp: str, removal: Removal) -> None:
    from granary.superset import credentials

    # secret_files: the installation's Superset secrets first, the bank analyst's last.
    files = [paths.tenant_key_file(tenant.code), paths.tenant_password_file(tenant.code)]
    files.append(credentials.secret_files(tenant)[-1])
    present = [f for f in files if f.exists()]
    if not present:
        removal.skip(f"secrets: none left for {tenant.code}")
        return
    target = paths.removed_secrets_dir(tenant.code, stamp)
    target.mkdir(parents=True, exist_ok=True)
    for folder in (target.parent, target):
        os.chmod(folder, 0o700)
    for f in present:
        shutil.move(f, target / f.name)
    removal.did(f"secrets: {', '.join(f.name for f in present)} moved to {target} (owner-only)")


def _write_manifest(removal: Removal, stamp: str) -> None:
    assert removal.archive is not None
    manifest = {
        "tenant": removal.tenant,
        "removed_at": stamp,
        "serving_database": serving_database(Tenant.model_construct(code=removal.tenant)),
        "done": removal.done,
        "already_gone": removal.skipped,
    }
    (removal.archive / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
