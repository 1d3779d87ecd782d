"""After a bank's publish: warm its dashboards' chart caches so the first analyst waits for nothing.

Each chart of each of the bank's template dashboards is re-run through Superset's own
warm-up endpoint (PUT /api/v1/chart/warm_up_cache, which forces a fresh query), as admin.
The data cache is shared by all web workers (superset_config.py), so one warm-up serves all.
"""

from __future__ import annotations

from datetime import date

from rich.console import Console
from rich.progress import Progress

from granary.core.errors import EngineError
from granary.core.tenants import Tenant
from granary.superset import bundle, credentials
from granary.superset.client import SupersetClient

console = Console(stderr=True)


def configured() -> bool:
    """Superset was set up in this installation iff its admin secret exists."""
    return credentials.admin_secret_file().exists()


def bank_dashboard_ids(client: SupersetClient, tenant: Tenant) -> dict[str, int]:
    """Title -> id of each of the bank's template dashboards present in Superset."""
    found: dict[str, int] = {}
    for uuid in bundle.dashboard_uuids(tenant):
        for row in client.find("dashboard", uuid=uuid):
            found[row["dashboard_title"]] = row["id"]
    return found


def refresh(tenant: Tenant, day: date) -> int:
    """Warm every chart of the bank's dashboards; returns how many charts were warmed.

    Raises EngineError when Superset is down or a chart's query fails (retrying may help).
    """
    if not configured():
        console.print(
            f"Superset is not set up in this installation (no {credentials.admin_secret_file()}): "
            "nothing to refresh"
        )
        return 0
    client = SupersetClient(credentials.ADMIN_USER, credentials.admin_password())
    dashboards = bank_dashboard_ids(client, tenant)
    if not dashboards:
        raise EngineError(
            f"Superset has no dashboards for bank '{tenant.code}'; "
            f"run `granary superset provision --tenant {tenant.code}` first"
        )
    charts = {
        (title, dash_id, c["id"], c["slice_name"])
        for title, dash_id in dashboards.items()
        for c in client.call("GET", f"/api/v1/dashboard/{dash_id}/charts")["result"]
    }
    failed: list[str] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"Superset: warming {tenant.code} {day} charts", total=len(charts))
        for title, dash_id, chart_id, name in sorted(charts):
            body = client.call(
                "PUT", "/api/v1/chart/warm_up_cache", json={"chart_id": chart_id, "dashboard_id": dash_id}
            )
            for result in body["result"]:
                if result.get("viz_error"):
                    failed.append(f"{title} / {name} (chart {chart_id}): {result['viz_error']}")
            progress.advance(task)
    if failed:
        raise EngineError(
            f"Superset: {len(failed)} chart(s) of {tenant.code} failed to refresh for {day}; "
            "check the bank's serving database was published, then run this again:\n" + "\n".join(failed)
        )
    console.print(
        f"[green]✓[/] superset {tenant.code} {day}: "
        f"{len(charts)} charts of {len(dashboards)} dashboards warmed"
    )
    return len(charts)
