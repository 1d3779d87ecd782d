"""Adding a bank: `granary tenant add T` after tenants/T.yaml was added, and the first task of the
bank's every DAG run (so a new YAML file is the whole procedure).

Creates what the bank needs and is missing, in the order its day needs it: its generated secrets
(serving password, PII key), its serving database and login role, its Airflow pool (if Airflow runs
here), its Superset role, analyst, database connection and dashboards (if Superset is set up here).
What is there already is left as it is, so a nightly run pays a few lookups. A bank whose YAML does
not load is a configuration error (exit 2, never retried); a service that does not answer is an
engine error (exit 1, retried).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console

from granary.core import paths
from granary.core.errors import EngineError
from granary.core.postgres import admin_connect, serving_database
from granary.core.secrets import pii_key, tenant_password
from granary.core.tenants import Tenant, get_tenant

# Unwrapped: each line is one line of the provision task's log, what it made said in full.
console = Console(stderr=True, soft_wrap=True)


@dataclass
class Onboarding:
    tenant: str
    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)

    def made(self, what: str) -> None:
        self.created.append(what)
        console.print(f"[green]✓[/] created {what}")

    def found(self, what: str) -> None:
        self.present.append(what)
        console.print(f"[dim]·[/] {what}: already there")


def add(code: str) -> Onboarding:
    tenant = get_tenant(code)  # TenantConfigError (exit 2) names the file and field
    done = Onboarding(code)
    _secrets(tenant, done)
    _serving(tenant, done)
    _airflow_pool(tenant, done)
    _superset(tenant, done)
    console.print(
        f"[bold green]bank {code} ready[/]: {len(done.created)} created, {len(done.present)} already there"
    )
    return done


def _secrets(tenant: Tenant, done: Onboarding) -> None:
    for label, path, make in (
        ("serving password", paths.tenant_password_file(tenant.code), tenant_password),
        ("PII key", paths.tenant_key_file(tenant.code), pii_key),
    ):
        if path.exists():
            done.found(label)
        else:
            make(tenant.code)
            done.made(f"{label} ({path}, owner-only)")


def _serving(tenant: Tenant, done: Onboarding) -> None:
    from granary.serving.databases import init_serving

    database = serving_database(tenant)
    with admin_connect(autocommit=True) as conn:
        has_db = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        has_role = conn.execute("select 1 from pg_roles where rolname = %s", (tenant.reader_role,)).fetchone()
    if has_db and has_role:
        done.found(f"serving database {database} and role {tenant.reader_role}")
        return
    init_serving([tenant])
    done.made(f"serving database {database}, login role {tenant.reader_role}")


def _airflow_pool(tenant: Tenant, done: Onboarding) -> None:
    from granary.stack import airflow

    if airflow.health() is None:
        done.found("Airflow pool: Airflow does not run here; `granary airflow start` makes every bank's pool")
        return
    api = airflow.Api()
    response = api.call("GET", f"/pools/{tenant.airflow_pool}", ok=(200, 404))
    if response.status_code == 200:
        done.found(f"Airflow pool {tenant.airflow_pool}")
        return
    airflow.sync_pools([tenant], api)
    done.made(f"Airflow pool {tenant.airflow_pool} ({tenant.airflow.pool_slots} slots)")


def _superset(tenant: Tenant, done: Onboarding) -> None:
    from granary.superset import bundle, credentials
    from granary.superset.client import SupersetClient
    from granary.superset.provision import provision
    from granary.superset.refresh import bank_dashboard_ids, configured

    if not configured():
        done.found("Superset: not set up in this installation (`granary superset start` and provision)")
        return
    try:
        client = SupersetClient(credentials.ADMIN_USER, credentials.admin_password())
    except EngineError as exc:
        raise EngineError(f"{exc}; start it (`granary superset start`), then run this again") from exc
    if len(bank_dashboard_ids(client, tenant)) == len(bundle.dashboard_uuids(tenant)):
        done.found(f"Superset role {tenant.superset_role}, analyst {tenant.analyst_user} and dashboards")
        return
    provision([tenant])
    done.made(f"Superset role {tenant.superset_role}, analyst {tenant.analyst_user}, connection, dashboards")
