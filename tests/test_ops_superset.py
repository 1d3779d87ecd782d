"""The province ops dashboard in the session's real Superset: the province admin reads every chart
with the banks of the run in it, bank analysts reach none of it by any API door, and provisioning
twice leaves the same number of every asset.

Costs: one ops refresh and two provisioning runs on the shared `superset_stack` (~40 s here).
"""

from __future__ import annotations

import secrets

import pytest

from granary.province.marts import refresh
from granary.superset import province, provision
from granary.superset.client import SupersetClient

pytestmark = pytest.mark.slow

DENIED = (403, 404)
ASSETS = ("dashboard", "chart", "dataset", "database", "saved_query", "security/roles", "security/users")


@pytest.fixture(scope="module")
def ops_ready(superset_stack):
    """The marts of the session's day, refreshed for the banks it published."""
    banks = [f.tenant for f in superset_stack.banks.values()]
    refresh(banks, max(_published_days(superset_stack)))
    return superset_stack


def _published_days(stack) -> list:
    from granary.serving.publish import serving_day

    return [serving_day(f.tenant) for f in stack.banks.values()]


def province_admin() -> SupersetClient:
    return SupersetClient(province.PROVINCE_USER, province.password())


def _dashboard(client: SupersetClient) -> dict:
    resp = client.request("GET", f"/api/v1/dashboard/{province.DASHBOARD_SLUG}")
    assert resp.status_code == 200, resp.text[:300]
    return resp.json()["result"]


def _province_ids(admin: SupersetClient) -> tuple[int, list[int], list[int], int]:
    """(dashboard id, chart ids, dataset ids, database id) of the province assets, found by UUID."""
    [dash] = admin.find("dashboard", uuid=province.asset_uuid(province.DASHBOARD))
    charts = sorted(c["id"] for c in admin.call("GET", f"/api/v1/dashboard/{dash['id']}/charts")["result"])
    [db] = admin.find("database", uuid=province.asset_uuid("database"))
    datasets = admin.list_all("dataset", filters=[{"col": "database", "opr": "rel_o_m", "value": db["id"]}])
    return dash["id"], charts, sorted(d["id"] for d in datasets), db["id"]


def test_province_admin_reads_every_chart_with_every_bank(ops_ready) -> None:
    client = province_admin()
    dashboard = _dashboard(client)
    assert dashboard["dashboard_title"] == "全省运营监控"
    charts = client.call("GET", f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
    expected = sorted(p.stem for p in (province.TEMPLATES / "charts").glob("*.yaml"))
    assert len(charts) == len(expected) == 11
    names = {f.tenant.name_zh for f in ops_ready.banks.values()}
    for chart in charts:
        resp = client.request("GET", f"/api/v1/chart/{chart['id']}/data/")
        assert resp.status_code == 200, f"{chart['slice_name']}: {resp.text[:300]}"
        rows = resp.json()["result"][0]["data"]
        assert rows, f"chart {chart['slice_name']} returned no rows"
        banks_seen = {r.get("bank_zh") for r in rows} - {None}
        if banks_seen:  # every per-bank chart names each bank of the run
            assert names <= banks_seen, (chart["slice_name"], banks_seen)
    # Every bank's lake and serving database have a size; the day's partitions added to the lake.
    [storage] = [c for c in charts if c["slice_name"] == "各行存储：湖大小与当日增长"]
    sizes = client.call("GET", f"/api/v1/chart/{storage['id']}/data/")["result"][0]["data"]
    for row in sizes:
        if row["bank_zh"] in names:
            assert row["lake_mb"] > 0 and row["serving_mb"] > 0, row
            assert 0 < row["lake_day_mb"] <= row["lake_mb"], row
            assert row["lake_snapshots"] > 0 and row["lake_files"] > 0, row
    [total] = [c for c in charts if c["slice_name"] == "纳入监控银行数"]
    [row] = client.call("GET", f"/api/v1/chart/{total['id']}/data/")["result"][0]["data"]
    assert row["banks"] >= len(names)
    # The province admin's connection is the ops schema's, read-only: no bank's data through it.
    database = [d for d in client.list_all("database")]
    assert [d["database_name"] for d in database] == [province.DATABASE_NAME]
    bank = next(iter(ops_ready.banks.values())).tenant
    other = _sql(client, database[0]["id"], f"select * from {bank.serving_schema}.ads_branch_daily", "ops")
    assert other.status_code != 200


def _sql(client: SupersetClient, database_id: int, sql: str, schema: str):
    payload = {"database_id": database_id, "sql": sql, "schema": schema, "runAsync": False}
    return client.request(
        "POST", "/api/v1/sqllab/execute/", json={**payload, "client_id": secrets.token_hex(5)}
    )


def test_bank_analysts_cannot_reach_the_province_assets(ops_ready) -> None:
    from granary.superset import credentials

    admin = provision.admin_client()
    dashboard, charts, datasets, database = _province_ids(admin)
    for facts in ops_ready.banks.values():
        client = SupersetClient(facts.tenant.analyst_user, credentials.analyst_password(facts.tenant))
        assert dashboard not in {d["id"] for d in client.list_all("dashboard")}
        assert client.request("GET", f"/api/v1/dashboard/{province.DASHBOARD_SLUG}").status_code in DENIED
        assert client.request("GET", f"/api/v1/dashboard/{dashboard}/charts").status_code in DENIED
        for chart in charts:
            assert client.request("GET", f"/api/v1/chart/{chart}/data/").status_code in DENIED
        for dataset in datasets:
            assert client.request("GET", f"/api/v1/dataset/{dataset}").status_code in DENIED
        assert not {d["id"] for d in client.list_all("dataset")} & set(datasets)
        assert client.request("GET", f"/api/v1/database/{database}").status_code in DENIED
        assert province.DATABASE_NAME not in {d["database_name"] for d in client.list_all("database")}
        refused = _sql(client, database, "select * from ops.mart_bank_day", "ops")
        assert refused.status_code != 200 and "data" not in refused.json()
    # The province role holds data access on the ops connection only.
    [role] = admin.find("security/roles", name=province.PROVINCE_ROLE)
    perms = admin.call("GET", f"/api/v1/security/roles/{role['id']}/permissions/")["result"]
    data = {
        p["view_menu_name"] for p in perms if p["permission_name"] in ("schema_access", "datasource_access")
    }
    assert data and all(v.startswith(f"[{province.DATABASE_NAME}]") for v in data)
    assert not {p["permission_name"] for p in perms} & provision.FORBIDDEN


def test_provisioning_twice_leaves_the_same_assets(ops_ready) -> None:
    admin = provision.admin_client()

    def counts() -> dict[str, int]:
        return {name: len(admin.list_all(name)) for name in ASSETS}

    before, ids = counts(), _province_ids(admin)
    tenants = [f.tenant for f in ops_ready.banks.values()]
    for _ in range(2):
        provision.provision(tenants)
        assert counts() == before
        assert _province_ids(admin) == ids
