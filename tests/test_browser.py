"""A bank analyst in a real browser (Debian's Chromium, never a downloaded one): logs in, sees
every one of the bank's Chinese dashboards with every chart drawn from its data, and cannot
open the other bank's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from day_fixtures import DAY, DAYS
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support import browser as chromium

from granary.core.tenants import Tenant
from granary.superset import bundle, credentials, provision, refresh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser(superset_stack) -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = chromium.launch(p)
        yield launched
        launched.close()


def login(browser: Browser, base_url: str, tenant: Tenant) -> Page:
    return chromium.login(browser, base_url, tenant.analyst_user, credentials.analyst_password(tenant))


def _day(value: str | int) -> date:
    """A date as Superset's chart data carries it: epoch milliseconds or an ISO string."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).date()
    return date.fromisoformat(str(value)[:10])


def _chart_ids(dashboard_id: int) -> dict[str, int]:
    """Chart title -> id on one dashboard, as admin sees them."""
    admin = provision.admin_client()
    charts = admin.call("GET", f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
    return {c["slice_name"]: c["id"] for c in charts}


def _dashboards(tenant: Tenant) -> dict[str, tuple[int, int]]:
    """Title -> (dashboard id, number of charts) of each of the bank's dashboards, as admin sees them."""
    admin = provision.admin_client()
    return {
        title: (i, len(admin.call("GET", f"/api/v1/dashboard/{i}/charts")["result"]))
        for title, i in refresh.bank_dashboard_ids(admin, tenant).items()
    }


def test_analyst_opens_every_own_dashboard_in_chinese(superset_stack, browser, artifacts_dir: Path):
    facts = superset_stack.banks["qingshan"]
    tenant = facts.tenant
    dashboards = _dashboards(tenant)
    assert len(dashboards) == len(bundle.dashboard_uuids(tenant))
    page = login(browser, superset_stack.url, tenant)
    # The interface itself is Chinese by default (no language was picked): Superset's zh menu.
    for label in ("看板", "图表", "数据集"):
        expect(page.get_by_role("menuitem", name=label).first).to_be_visible()
    bodies: dict[str, str] = {}
    renders: dict[str, chromium.Render] = {}
    for title, (dashboard_id, charts) in sorted(dashboards.items()):
        render = chromium.open_dashboard(
            page, f"{superset_stack.url}/superset/dashboard/{dashboard_id}/", charts
        )
        renders[title] = render
        page.wait_for_timeout(1200)  # ECharts grows its bars for ~1 s after drawing: screenshot the end state
        shot = artifacts_dir / f"superset_{tenant.code}_dashboard_{dashboard_id}.png"
        page.screenshot(path=str(shot), full_page=True)
        problems = [s for s in render.states if s["error"] or s["empty"] or not s["drawn"]]
        assert not problems, f"{title}: {problems}"
        assert len(render.states) == charts > 0
        body = page.inner_text("body")
        for text in chromium.ERROR_TEXTS:
            assert text not in body, f"{title}: {text}"
        expect(page.locator('[data-test="editable-title-input"]')).to_have_value(title)
        bodies[title] = body

    overview = bodies[f"{tenant.name_zh} · 经营概览"]
    for chart in ("贷款余额", "不良贷款率", "网点贷款余额排名", "客户标签分布"):
        assert chart in overview
    assert facts.top_tag_zh in overview
    assert f"{facts.loan_balance_latest:,.2f}" in overview
    # The bank's own branches are drawn on the credit theme's branch ranking and table labels.
    credit = bodies[f"{tenant.name_zh} · 信贷主题"]
    assert "各网点贷款余额" in credit and "贷款余额：各统计周期对比" in credit
    risk = bodies[f"{tenant.name_zh} · 风险主题"]
    assert "贷款五级分类结构" in risk and "逾期贷款账龄分布" in risk
    tags = bodies[f"{tenant.name_zh} · 客户标签"]
    assert facts.top_tag_zh in tags
    # The customer list shows masked names (a surname and stars), never a full name or ID number.
    assert re.search(r"[\u4e00-\u9fff]\*+", tags)
    assert not re.search(r"\b\d{17}[\dX]\b", tags)
    quality = bodies[f"{tenant.name_zh} · 数据质量"]
    assert "校验通过率" in quality and "隔离行数" in quality

    # Trends from the served history: a point per served day of the last 90, and per month-end of
    # the last 13 months (the fixture served 2025-01-01, 2025-12-31 and 2026-01-01).
    daily = sorted(d for d in DAYS if (DAY - d).days < 90)
    month_ends = sorted({max(d for d in DAYS if d.replace(day=1) == day.replace(day=1)) for day in DAYS})
    for title, trends in (
        (f"{tenant.name_zh} · 信贷主题", ("全行贷款余额：近90日", "全行贷款余额：近13个月月末")),
        (f"{tenant.name_zh} · 经营概览", ("贷款与存款余额：近90日", "贷款与存款余额：近13个月月末")),
    ):
        ids = _chart_ids(dashboards[title][0])
        for name, days in zip(trends, (daily, month_ends), strict=True):
            assert name in bodies[title]
            points = renders[title].rows[ids[name]]
            assert sorted(_day(p["point_dt"]) for p in points) == days, f"{title} {name}: {points}"
    page.close()


def test_analyst_cannot_open_other_banks_dashboards(superset_stack, browser, artifacts_dir: Path):
    me, them = superset_stack.banks["qingshan"], superset_stack.banks["hexi"]
    page = login(browser, superset_stack.url, me.tenant)
    theirs = _dashboards(them.tenant)
    urls = [f"/superset/dashboard/{bundle.dashboard_slug(them.tenant)}/"]
    urls += [f"/superset/dashboard/{dashboard_id}/" for dashboard_id, _ in theirs.values()]
    for n, url in enumerate(urls):
        page.goto(f"{superset_stack.url}{url}")
        page.wait_for_load_state("networkidle")
        if n == 0:
            page.screenshot(path=str(artifacts_dir / f"superset_denied_{them.tenant.code}.png"))
        body = page.inner_text("body")
        assert them.tenant.name_zh not in body, url
        assert not any(branch in body for branch in them.branch_ids), url
        assert page.query_selector(".dashboard-component-chart-holder") is None, url
        assert any(
            marker in body for marker in ("Page not found", "找不到", "Access Denied", "拒绝", "not found")
        ), url
    page.close()


def test_sql_lab_opens_on_the_banks_own_database(superset_stack, browser, artifacts_dir: Path):
    """SQL Lab opens on a tab on the bank's own connection (the only one it may use) and schema
    (granary.superset.provision.open_sql_lab_on_own_database)."""
    me, them = superset_stack.banks["qingshan"], superset_stack.banks["hexi"]
    page = login(browser, superset_stack.url, me.tenant)
    page.goto(f"{superset_stack.url}/sqllab/")
    expect(page.get_by_text(bundle.database_name(me.tenant)).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text(me.tenant.serving_schema).first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / f"superset_sqllab_{me.tenant.code}.png"))
    body = page.inner_text("body")
    assert bundle.database_name(them.tenant) not in body and them.tenant.name_zh not in body
    # What the page asked Superset for: its SQL Lab bootstrap lists the bank's one database.
    bootstrap = page.request.get(f"{superset_stack.url}/api/v1/sqllab/").json()["result"]
    assert [d["database_name"] for d in bootstrap["databases"].values()] == [bundle.database_name(me.tenant)]
    page.close()
