"""Provision banks in Superset through its REST API, as admin (idempotent: run it again any time).

Per bank: its assets (database connection with the bank's own Postgres role, datasets,
charts, one Chinese dashboard) from the template bundle; a role that can read exactly
those; an analyst user holding only that role; the dashboard restricted to that role.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import Progress

from granary.core.errors import EngineError
from granary.core.postgres import admin_connect, serving_database
from granary.core.secrets import tenant_password
from granary.core.tenants import Tenant
from granary.superset import bundle, credentials, province, service
from granary.superset.client import SupersetClient

console = Console(stderr=True)

# Superset's built-in permission sets an analyst's role is cut from (read dashboards,
# charts and datasets, explore, SQL Lab); data access is then added per bank.
BASE_ROLES = ("Gamma", "sql_lab")
# Never copied into a bank role: each would open every bank's data.
FORBIDDEN = {"all_database_access", "all_datasource_access", "all_query_access"}
# Permissions of the base roles a bank analyst does not get: SQL Lab's cost estimate
# (POST /api/v1/sqllab/estimate/) checks no data access in Superset 6.1, so it would run the
# analyst's EXPLAIN on any bank's connection, given its database id.
FORBIDDEN_PAIRS = {("can_estimate_query_cost", "SQLLab")}


@dataclass(frozen=True)
class BankAssets:
    database_id: int
    datasets: dict[str, int]  # table name -> dataset id
    dashboards: dict[str, int]  # uuid -> dashboard id, every template dashboard of the bank


def admin_client() -> SupersetClient:
    return SupersetClient(credentials.ADMIN_USER, credentials.admin_password())


def import_assets(client: SupersetClient, tenant: Tenant) -> BankAssets:
    """Import the bank's bundle (overwrite: same UUIDs, so assets update in place)."""
    files = bundle.render(tenant)
    # /assets/import/ overwrites databases, datasets and charts too; /dashboard/import/
    # would overwrite only the dashboard and keep stale charts and datasets.
    client.call(
        "POST",
        "/api/v1/assets/import/",
        files={"bundle": (f"granary_{tenant.code}.zip", bundle.zip_bundle(tenant, files), "application/zip")},
        data={"passwords": json.dumps({bundle.DATABASE_FILE: tenant_password(tenant.code)})},
    )
    database = client.one(
        "database", f"database of {tenant.code}", uuid=bundle.asset_uuid(tenant, "database")
    )
    datasets = client.list_all(
        "dataset", filters=[{"col": "database", "opr": "rel_o_m", "value": database["id"]}]
    )
    dashboards = {
        uuid: client.one("dashboard", f"dashboard {uuid} of {tenant.code}", uuid=uuid)["id"]
        for uuid in bundle.dashboard_uuids(tenant)
    }
    return BankAssets(database["id"], {d["table_name"]: d["id"] for d in datasets}, dashboards)


def _role_permission_ids(client: SupersetClient, role: str) -> set[int]:
    role_id = client.one("security/roles", f"built-in role '{role}'", name=role)["id"]
    perms = client.call("GET", f"/api/v1/security/roles/{role_id}/permissions/")["result"]
    return {
        p["id"]
        for p in perms
        if p["permission_name"] not in FORBIDDEN
        and (p["permission_name"], p["view_menu_name"]) not in FORBIDDEN_PAIRS
    }


def _data_permission_ids(tenant: Tenant, assets: BankAssets, known: dict[tuple[str, str], int]) -> set[int]:
    """schema_access on the bank's schema and datasource_access on each of its datasets, looked
    up by the names Superset gives those permissions.

    Deliberately not database_access: in Superset that means every schema the connection can
    name, so SQL Lab would send `t_<other bank>.…` on to Postgres (which refuses it); with
    schema_access Superset already rejects the query itself — two walls instead of one.
    """
    db_name = bundle.database_name(tenant)
    catalog = serving_database(tenant)
    wanted = {("schema_access", f"[{db_name}].[{catalog}].[{tenant.serving_schema}]")}
    wanted |= {
        ("datasource_access", f"[{db_name}].[{table}](id:{i})") for table, i in assets.datasets.items()
    }
    found = {key: known[key] for key in wanted if key in known}
    missing = wanted - found.keys()
    if missing:
        raise EngineError(f"Superset: permissions missing for bank {tenant.code}: {sorted(missing)}")
    return set(found.values())


def _ensure_analyst(client: SupersetClient, tenant: Tenant, role_id: int) -> int:
    user = {
        "first_name": tenant.name_zh,
        "last_name": "分析员",
        "email": f"{tenant.analyst_user}@granary.local",
        "active": True,
        "roles": [role_id],
        "password": credentials.analyst_password(tenant),
    }
    found = client.find("security/users", username=tenant.analyst_user)
    if found:
        client.call("PUT", f"/api/v1/security/users/{found[0]['id']}", json=user)
        return found[0]["id"]
    return client.call("POST", "/api/v1/security/users/", json={"username": tenant.analyst_user, **user})[
        "id"
    ]


def grant_bank(client: SupersetClient, tenant: Tenant, assets: BankAssets, permissions: set[int]) -> None:
    """The bank's role (exactly `permissions`), its analyst, and its dashboard restricted to it."""
    role_id = client.ensure_role(tenant.superset_role)
    # This endpoint replaces the role's permission set: re-running converges, never accumulates.
    client.call(
        "POST",
        f"/api/v1/security/roles/{role_id}/permissions",
        json={"permission_view_menu_ids": sorted(permissions)},
    )
    _ensure_analyst(client, tenant, role_id)
    # DASHBOARD_RBAC: only this bank's role (and admins) may open the bank's dashboards.
    for dashboard_id in assets.dashboards.values():
        client.call("PUT", f"/api/v1/dashboard/{dashboard_id}", json={"roles": [role_id], "published": True})


def open_sql_lab_on_own_database(tenant: Tenant, database_id: int) -> None:
    """SQL Lab opens on the analyst's last tab, and a new analyst has none: it would open empty, on
    no database. The first tab is made here, as the analyst (Superset keeps tabs per user): the
    bank's own database and schema, with a query to start from. A user with tabs keeps them."""
    analyst = SupersetClient(tenant.analyst_user, credentials.analyst_password(tenant))
    analyst.web_login()
    if analyst.call("GET", "/api/v1/sqllab/")["result"]["tab_state_ids"]:
        return
    editor = {
        "name": f"{tenant.name_zh} SQL",
        "dbId": database_id,
        "schema": tenant.serving_schema,
        "sql": "select * from ads_branch_daily order by dt desc limit 100",
        "autorun": False,
    }
    analyst.call("POST", "/tabstateview/", data={"queryEditor": json.dumps(editor, ensure_ascii=False)})


@contextmanager
def _one_provisioning_at_a_time() -> Iterator[None]:
    """Superset creates a permission the first time an import needs it, and two imports at once
    (each bank's first DAG task provisions it) collide on that: HTTP 500, duplicate key. So
    provisioning of one Superset waits for any other (a PostgreSQL advisory lock, held by this
    session: any host running `granary` for the installation sees it, and a crash releases it)."""
    with admin_connect(autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (f"granary superset {service.metadata_db()}",))
        yield


def provision(tenants: list[Tenant]) -> None:
    """Role, analyst, database connection, datasets and dashboard for each bank (idempotent)."""
    with _one_provisioning_at_a_time():
        _provision(tenants)


def _provision(tenants: list[Tenant]) -> None:
    client = admin_client()
    base: set[int] = set()
    for role in BASE_ROLES:
        base |= _role_permission_ids(client, role)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Superset: importing banks' assets", total=2 * len(tenants))
        imported: list[tuple[Tenant, BankAssets]] = []
        for tenant in tenants:
            imported.append((tenant, import_assets(client, tenant)))
            progress.advance(task)
        # One listing after all imports: each import adds the permissions of its new datasets.
        known = client.all_permissions()
        progress.update(task, description="Superset: roles, analysts, dashboard access")
        for tenant, assets in imported:
            grant_bank(client, tenant, assets, base | _data_permission_ids(tenant, assets, known))
            open_sql_lab_on_own_database(tenant, assets.database_id)
            progress.advance(task)
    # The province ops dashboard (granary.superset.province): the province admin's alone.
    ops = province.provision(client, base)
    for tenant, _ in imported:
        console.print(
            f"[green]✓[/] superset {tenant.code}: role {tenant.superset_role}, user {tenant.analyst_user}, "
            f"{len(bundle.dashboard_uuids(tenant))} dashboards "
            f"(start at /superset/dashboard/{bundle.dashboard_slug(tenant)}/)"
        )
    console.print(
        f"[green]✓[/] superset province: role {province.PROVINCE_ROLE}, user {province.PROVINCE_USER}, "
        f"dashboard /superset/dashboard/{province.DASHBOARD_SLUG}/ ({ops.charts} charts)"
    )
