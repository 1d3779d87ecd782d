"""Superset against real Postgres: one bank's analyst reaches only that bank, through every API door.

One Superset runs for the session (serving_fixture.superset_stack), both banks provisioned.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from day_fixtures import DAY

from granary.core.tenants import Tenant
from granary.superset import bundle, credentials, provision, service
from granary.superset.client import SupersetClient

DENIED = (403, 404)
PAIRS = [("qingshan", "hexi"), ("hexi", "qingshan")]


@dataclass(frozen=True)
class BankIds:
    database: int
    dashboards: dict[str, int]  # title -> id, every template dashboard of the bank
    charts: dict[str, int]  # slice name -> id, every chart on those dashboards
    datasets: dict[str, int]  # table name -> id

    @property
    def overview(self) -> int:
        return next(i for title, i in self.dashboards.items() if title.endswith("经营概览"))


@pytest.fixture(scope="module")
def admin(superset_stack) -> SupersetClient:
    return provision.admin_client()


def bank_ids(admin: SupersetClient, tenant: Tenant) -> BankIds:
    from granary.superset import refresh

    database = admin.find("database", uuid=bundle.asset_uuid(tenant, "database"))[0]["id"]
    dashboards = refresh.bank_dashboard_ids(admin, tenant)
    datasets = admin.list_all("dataset", filters=[{"col": "database", "opr": "rel_o_m", "value": database}])
    charts = {
        c["slice_name"]: c["id"]
        for dashboard in dashboards.values()
        for c in admin.call("GET", f"/api/v1/dashboard/{dashboard}/charts")["result"]
    }
    return BankIds(
        database=database,
        dashboards=dashboards,
        charts=charts,
        datasets={d["table_name"]: d["id"] for d in datasets},
    )


def analyst(tenant: Tenant) -> SupersetClient:
    return SupersetClient(tenant.analyst_user, credentials.analyst_password(tenant))


def chart_rows(client: SupersetClient, chart_id: int) -> list[dict]:
    resp = client.request("GET", f"/api/v1/chart/{chart_id}/data/")
    assert resp.status_code == 200, resp.text[:300]
    return resp.json()["result"][0]["data"]


@pytest.mark.slow
@pytest.mark.parametrize(("own", "other"), PAIRS)
def test_analyst_cannot_reach_other_bank(superset_stack, admin, own, other):
    me, them = superset_stack.banks[own].tenant, superset_stack.banks[other].tenant
    theirs = bank_ids(admin, them)
    client = analyst(me)

    listed = {d["id"] for d in client.list_all("dashboard")}
    assert len(theirs.dashboards) == len(bundle.dashboard_uuids(them)) == 8
    assert not listed & set(theirs.dashboards.values())
    for dashboard in theirs.dashboards.values():
        assert client.request("GET", f"/api/v1/dashboard/{dashboard}").status_code in DENIED
        assert client.request("GET", f"/api/v1/dashboard/{dashboard}/charts").status_code in DENIED
    assert client.request("GET", f"/api/v1/dashboard/{bundle.dashboard_slug(them)}").status_code in DENIED

    assert len(theirs.charts) > 50
    for chart_id in theirs.charts.values():
        assert client.request("GET", f"/api/v1/chart/{chart_id}").status_code in DENIED
        assert client.request("GET", f"/api/v1/chart/{chart_id}/data/").status_code in DENIED
    assert not {c["id"] for c in client.list_all("chart")} & set(theirs.charts.values())

    # An ad-hoc query naming the other bank's dataset directly.
    query = {
        "datasource": {"id": theirs.datasets["ads_branch_daily"], "type": "table"},
        "queries": [{"columns": ["branch_id"], "metrics": ["loan_balance_latest"], "row_limit": 10}],
        "result_format": "json",
        "result_type": "full",
    }
    resp = client.request("POST", "/api/v1/chart/data", json=query)
    assert resp.status_code in DENIED, resp.text[:300]

    assert set(theirs.datasets) == set(bundle_tables())
    for dataset_id in theirs.datasets.values():
        assert client.request("GET", f"/api/v1/dataset/{dataset_id}").status_code in DENIED
    assert not {d["id"] for d in client.list_all("dataset")} & set(theirs.datasets.values())
    assert client.request("GET", f"/api/v1/database/{theirs.database}").status_code in DENIED
    assert [d["database_name"] for d in client.list_all("database")] == [bundle.database_name(me)]


def bundle_tables() -> list[str]:
    return sorted(p.stem for p in (bundle.TEMPLATES / "datasets").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize(("own", "other"), PAIRS)
def test_analyst_reads_own_dashboard_rows(superset_stack, admin, own, other):
    facts, others = superset_stack.banks[own], superset_stack.banks[other]
    mine = bank_ids(admin, facts.tenant)
    client = analyst(facts.tenant)

    listed = {d["id"]: d["dashboard_title"] for d in client.list_all("dashboard")}
    assert listed == {i: title for title, i in mine.dashboards.items()}
    name = facts.tenant.name_zh
    assert set(mine.dashboards) == {
        f"{name} · {title}"
        for title in (
            "经营概览",
            "客户标签",
            "数据质量",
            "公共主题",
            "风险主题",
            "营销主题",
            "运营主题",
            "信贷主题",
        )
    }
    assert {"贷款余额", "不良贷款率", "存款余额", "网点贷款余额排名", "客户标签分布", "全行指标一览"} <= set(
        mine.charts
    )
    # Every chart of every dashboard answers with rows from the bank's own data.
    empty = [title for title, chart_id in mine.charts.items() if not chart_rows(client, chart_id)]
    assert not empty, f"charts with no rows: {empty}"

    [loan] = chart_rows(client, mine.charts["贷款余额"])
    assert loan["loan_balance_latest"] == pytest.approx(facts.loan_balance_latest)
    [npl] = chart_rows(client, mine.charts["不良贷款率"])
    assert npl["npl_ratio_latest"] == pytest.approx(facts.npl_balance_latest / facts.loan_balance_latest)

    ranking = chart_rows(client, mine.charts["网点贷款余额排名"])
    # each branch by name and code: "<name> <branch id>"
    labels = [r["branch_label"].rsplit(" ", 1) for r in ranking]
    assert all(len(label) == 2 and label[0] for label in labels), ranking
    branches = [code for _, code in labels]
    assert set(branches) == set(facts.branch_ids)
    assert not set(branches) & set(others.branch_ids)
    balances = [r["loan_balance_latest"] for r in ranking]
    assert balances == sorted(balances, reverse=True)


@pytest.mark.slow
def test_analyst_saves_own_chart_and_dashboard_unseen_by_other_bank(superset_stack, admin):
    """Self-service: an analyst saves a chart on the bank's dataset and a dashboard holding it;
    the other bank's analyst neither lists nor opens either, and cannot chart the dataset."""
    me, them = superset_stack.banks["qingshan"].tenant, superset_stack.banks["hexi"].tenant
    mine = bank_ids(admin, me)
    client, other = analyst(me), analyst(them)
    dataset = mine.datasets["ads_branch_daily"]
    params = {"viz_type": "table", "groupby": ["branch_id"], "metrics": ["loan_balance_latest"]}
    chart = client.call(
        "POST",
        "/api/v1/chart/",
        json={
            "slice_name": "我的网点贷款",
            "viz_type": "table",
            "datasource_id": dataset,
            "datasource_type": "table",
            "params": json.dumps(params),
        },
    )["id"]
    dashboard = client.call(
        "POST", "/api/v1/dashboard/", json={"dashboard_title": "我的看板", "published": True}
    )["id"]
    try:
        client.call("PUT", f"/api/v1/chart/{chart}", json={"dashboards": [dashboard]})
        assert chart in {c["id"] for c in client.list_all("chart")}
        assert dashboard in {d["id"] for d in client.list_all("dashboard")}
        query = {
            "datasource": {"id": dataset, "type": "table"},
            "queries": [{"columns": ["branch_id"], "metrics": ["loan_balance_latest"], "row_limit": 100}],
            "result_format": "json",
            "result_type": "full",
        }
        rows = client.call("POST", "/api/v1/chart/data", json=query)["result"][0]["data"]
        assert {r["branch_id"] for r in rows} == set(superset_stack.banks["qingshan"].branch_ids)

        assert chart not in {c["id"] for c in other.list_all("chart")}
        assert dashboard not in {d["id"] for d in other.list_all("dashboard")}
        assert other.request("GET", f"/api/v1/chart/{chart}").status_code in DENIED
        assert other.request("GET", f"/api/v1/dashboard/{dashboard}").status_code in DENIED
        assert other.request("GET", f"/api/v1/dashboard/{dashboard}/charts").status_code in DENIED
        assert other.request("PUT", f"/api/v1/chart/{chart}", json={"slice_name": "x"}).status_code in DENIED
        assert other.request("DELETE", f"/api/v1/dashboard/{dashboard}").status_code in DENIED
        # Nor can the other analyst save a chart of their own on this bank's dataset.
        stolen = other.request(
            "POST",
            "/api/v1/chart/",
            json={
                "slice_name": "x",
                "viz_type": "table",
                "datasource_id": dataset,
                "datasource_type": "table",
            },
        )
        assert stolen.status_code in (*DENIED, 422), stolen.text[:300]
    finally:
        client.call("DELETE", f"/api/v1/chart/{chart}")
        client.call("DELETE", f"/api/v1/dashboard/{dashboard}")


def _sql(client: SupersetClient, database_id: int, sql: str, schema: str):
    payload = {
        "database_id": database_id,
        "sql": sql,
        "schema": schema,
        "runAsync": False,
        "client_id": secrets.token_hex(5),
    }
    return client.request("POST", "/api/v1/sqllab/execute/", json=payload)


@pytest.mark.slow
def test_sql_lab_is_confined_to_own_schema(superset_stack, admin):
    me, them = superset_stack.banks["qingshan"].tenant, superset_stack.banks["hexi"].tenant
    mine, theirs = bank_ids(admin, me), bank_ids(admin, them)
    client = analyst(me)

    ok = _sql(
        client,
        mine.database,
        "select count(distinct branch_id) as n from ads_branch_daily",
        me.serving_schema,
    )
    assert ok.status_code == 200, ok.text[:300]
    assert ok.json()["data"] == [{"n": len(superset_stack.banks["qingshan"].branch_ids)}]

    # The other bank's schema through my own connection: Superset refuses before Postgres would.
    other_schema = _sql(
        client, mine.database, f"select * from {them.serving_schema}.ads_branch_daily", me.serving_schema
    )
    assert other_schema.status_code != 200
    assert them.serving_schema in other_schema.text
    # The other bank's connection itself.
    other_db = _sql(client, theirs.database, "select 1 as one", them.serving_schema)
    assert other_db.status_code in DENIED + (400, 500)
    assert "data" not in other_db.json()


@pytest.mark.slow
def test_bank_role_holds_no_global_data_access(superset_stack, admin):
    for facts in superset_stack.banks.values():
        role = admin.find("security/roles", name=facts.tenant.superset_role)[0]
        perms = admin.call("GET", f"/api/v1/security/roles/{role['id']}/permissions/")["result"]
        names = {p["permission_name"] for p in perms}
        assert not names & provision.FORBIDDEN
        data = {
            p["view_menu_name"]
            for p in perms
            if p["permission_name"] in ("schema_access", "datasource_access", "database_access")
        }
        assert data and all(v.startswith(f"[{bundle.database_name(facts.tenant)}]") for v in data)
        [user] = admin.find("security/users", username=facts.tenant.analyst_user)
        assert [r["name"] for r in user["roles"]] == [facts.tenant.superset_role]


def _counts(admin: SupersetClient) -> dict[str, int]:
    return {
        name: len(admin.list_all(name))
        for name in ("dashboard", "chart", "dataset", "database", "security/roles", "security/users")
    }


@pytest.mark.slow
def test_reprovisioning_updates_in_place(superset_stack, admin, artifacts_dir: Path):
    tenants = [f.tenant for f in superset_stack.banks.values()]
    before, ids_before = _counts(admin), {t.code: bank_ids(admin, t) for t in tenants}
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        provision.provision(tenants)
        timings.append(time.perf_counter() - started)
    assert _counts(admin) == before
    # Each bank has its eight dashboards, its one connection and a dataset per bundled table (the
    # province's ops dashboard, if another test provisioned it, is not a bank's).
    datasets = len(bundle_tables())
    for t in tenants:
        assert (len(ids_before[t.code].dashboards), len(ids_before[t.code].datasets)) == (8, datasets)
    assert {t.code: bank_ids(admin, t) for t in tenants} == ids_before
    for t in tenants:
        for dashboard_id in ids_before[t.code].dashboards.values():
            dashboard = admin.call("GET", f"/api/v1/dashboard/{dashboard_id}")["result"]
            assert [r["name"] for r in dashboard["roles"]] == [t.superset_role]
            assert dashboard["published"] is True
    (artifacts_dir / "superset_timings.json").write_text(
        json.dumps(
            {
                "start_seconds": round(superset_stack.start_seconds, 1),
                "first_provision_seconds": round(superset_stack.provision_seconds, 2),
                "reprovision_seconds": [round(s, 2) for s in timings],
                "banks": len(tenants),
            },
            indent=2,
        )
    )


@pytest.mark.slow
def test_restart_is_warm_and_idempotent(superset_stack):
    assert service.start() == 0.0  # already running: no-op
    service.stop()
    service.stop()
    assert not service.healthy()
    seconds = service.start()
    assert service.healthy()
    assert seconds < 60, f"warm restart took {seconds:.0f}s; initialisation should be skipped"
    assert analyst(superset_stack.banks["qingshan"].tenant).list_all("dashboard")


def test_bundle_is_deterministic_per_bank():
    """Same bank, same UUIDs and YAML (bar the export timestamp); two banks share no UUID."""
    from granary.catalog.indicators import load_catalog
    from granary.core.tenants import get_tenant

    qingshan, hexi = get_tenant("qingshan"), get_tenant("hexi")
    first, again = bundle.render(qingshan), bundle.render(qingshan)
    assert {k: v for k, v in first.items() if k != "metadata.yaml"} == {
        k: v for k, v in again.items() if k != "metadata.yaml"
    }
    assert set(first) >= {"metadata.yaml", bundle.DATABASE_FILE, "dashboards/overview.yaml"}
    assert len([f for f in first if f.startswith("datasets/")]) == len(bundle_tables())
    # One dashboard per theme of the indicator catalog, plus overview, tags and quality.
    themes = load_catalog().themes
    assert len(bundle.dashboard_uuids(qingshan)) == len(themes) + 3
    assert {f"dashboards/theme_{code}.yaml" for code in themes} <= set(first)
    names = [yaml.safe_load(text)["slice_name"] for name, text in first.items() if name.startswith("charts/")]
    assert len(names) == len(set(names)), "chart names must tell charts apart"

    def uuids(files: dict[str, str]) -> set[str]:
        return {yaml.safe_load(text).get("uuid") for text in files.values()} - {None}

    assert len(uuids(first)) == len(first) - 1  # every asset but metadata.yaml has its own
    assert not uuids(first) & uuids(bundle.render(hexi))
    dashboard = yaml.safe_load(first["dashboards/overview.yaml"])
    assert dashboard["dashboard_title"] == "青山农村商业银行 · 经营概览"
    database = yaml.safe_load(first[bundle.DATABASE_FILE])
    assert bundle.PASSWORD_MASK in database["sqlalchemy_uri"]  # the password travels beside the bundle
    assert f"//{qingshan.reader_role}:" in database["sqlalchemy_uri"] and database["allow_dml"] is False
    for name, text in first.items():
        if name.startswith("datasets/"):
            assert yaml.safe_load(text)["schema"] == "t_qingshan", name


def test_trend_charts_are_labelled_by_day():
    """A trend's points are business days: its axis ticks are at least a day apart (the chart's time
    grain) and its labels are dates (month-ends by month), never hours."""
    from granary.core.tenants import get_tenant

    files = bundle.render(get_tenant("qingshan"))
    charts = [yaml.safe_load(text) for name, text in files.items() if name.startswith("charts/")]
    trends = [chart for chart in charts if chart["params"].get("x_axis") == "point_dt"]
    assert len(trends) >= 4
    for chart in trends:
        params = chart["params"]
        monthly = "月末" in chart["slice_name"]
        assert params["time_grain_sqla"] == "P1D", chart["slice_name"]
        assert params["x_axis_time_format"] == ("%Y-%m" if monthly else "%Y-%m-%d"), chart["slice_name"]


@pytest.mark.slow
def test_superset_secrets_are_owner_only(superset_stack):
    tenant = superset_stack.banks["qingshan"].tenant
    credentials.analyst_password(tenant)
    for path in credentials.secret_files(tenant):
        assert path.stat().st_mode & 0o777 == 0o600, path


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh secrets dir and an address where no Superset answers."""
    from granary.core import config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GRANARY_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("GRANARY_SUPERSET_URL", f"http://127.0.0.1:{port}")
    config.settings.cache_clear()
    yield tmp_path
    config.settings.cache_clear()


def test_refresh_without_superset_is_a_no_op(isolated_settings):
    from typer.testing import CliRunner

    from granary.cli.app import app

    done = CliRunner().invoke(app, ["superset", "refresh", "--tenant", "qingshan", "--date", "2026-01-01"])
    assert done.exit_code == 0, done.output
    assert "nothing to refresh" in done.output
    assert not credentials.admin_secret_file().exists()  # refresh never sets Superset up


def test_refresh_of_unreachable_superset_is_retryable(isolated_settings):
    from typer.testing import CliRunner

    from granary.cli.app import app

    credentials.admin_password()  # set up once, but nothing runs at the URL
    done = CliRunner().invoke(app, ["superset", "refresh", "--tenant", "qingshan", "--date", "2026-01-01"])
    assert done.exit_code == 1, done.output
    assert "unreachable" in done.output and "granary superset start" in done.output


@pytest.mark.slow
def test_refresh_warms_every_chart_of_the_bank(superset_stack, admin):
    from granary.superset import refresh

    tenant = superset_stack.banks["qingshan"].tenant
    dashboards = refresh.bank_dashboard_ids(admin, tenant)
    charts = {
        c["id"]
        for dash_id in dashboards.values()
        for c in admin.call("GET", f"/api/v1/dashboard/{dash_id}/charts")["result"]
    }
    assert len(dashboards) == len(bundle.dashboard_uuids(tenant))
    assert refresh.refresh(tenant, DAY) == len(charts) > 0
    # Warmed: the stored query of each chart now comes from the shared cache.
    client = analyst(tenant)
    for chart_id in charts:
        body = client.call("GET", f"/api/v1/chart/{chart_id}/data/")
        assert all(q["is_cached"] for q in body["result"]), chart_id
