"""A bank analyst in a real browser (Debian's Chromium, never a downloaded one): logs in, sees
the bank's Chinese dashboard with every chart drawn, and cannot open the other bank's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from granary.superset import bundle, credentials
from granary.tenants import Tenant

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHARTS = 6
ERROR_TEXTS = ("Unexpected error", "意外错误", "Traceback", "Network error")

# Per chart holder: drawn (canvas / table / big number), still loading, or showing an error.
CHART_STATES_JS = """() => Array.from(
  document.querySelectorAll('.dashboard-component-chart-holder')).map(h => ({
    drawn: !!h.querySelector(
      '.chart-container canvas, .chart-container table, .chart-container .header-line'),
    loading: !!h.querySelector('.loading, [data-test="loading-indicator"]'),
    error: !!h.querySelector('.ant-alert-error, [data-test="error-tooltip"], .alert-danger'),
    title: (h.querySelector('[data-test="editable-title"], .header-title') || {}).innerText || '',
}))"""


@pytest.fixture(scope="module")
def browser(superset_stack) -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def login(browser: Browser, base_url: str, tenant: Tenant) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="zh-CN")
    page.goto(f"{base_url}/login/")
    page.fill("#username", tenant.analyst_user)
    page.fill("#password", credentials.analyst_password(tenant))
    page.click('[data-test="login-button"]')
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    return page


def wait_for_charts(page: Page, timeout_s: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    states: list[dict] = []
    while time.monotonic() < deadline:
        states = page.evaluate(CHART_STATES_JS)
        if any(s["error"] for s in states):
            return states
        if len(states) == CHARTS and all(s["drawn"] and not s["loading"] for s in states):
            return states
        time.sleep(0.25)
    raise AssertionError(f"dashboard charts not drawn within {timeout_s}s: {states}")


def test_analyst_sees_own_dashboard_in_chinese(superset_stack, browser, artifacts_dir: Path):
    facts = superset_stack.banks["qingshan"]
    tenant = facts.tenant
    page = login(browser, superset_stack.url, tenant)
    started = time.perf_counter()
    page.goto(f"{superset_stack.url}/superset/dashboard/{bundle.dashboard_slug(tenant)}/")
    states = wait_for_charts(page)
    render_seconds = time.perf_counter() - started
    page.wait_for_timeout(1500)  # ECharts grows its bars for ~1 s after drawing: screenshot the end state
    page.screenshot(path=str(artifacts_dir / f"superset_dashboard_{tenant.code}.png"), full_page=True)

    assert not any(s["error"] for s in states), states
    body = page.inner_text("body")
    for text in ERROR_TEXTS:
        assert text not in body
    # The dashboard header shows the Chinese title (an editable input in Superset 6).
    title = page.locator('[data-test="editable-title-input"]')
    expect(title).to_be_visible()
    expect(title).to_have_value(f"{tenant.name_zh} · 经营概览")
    for chart in ("贷款余额", "不良贷款率", "网点贷款余额排名", "客户标签分布"):
        assert chart in body
    # Own rows are drawn: the tag table's Chinese labels, the big number's value.
    assert facts.top_tag_zh in body
    assert f"{facts.loan_balance_latest:,.2f}" in body
    assert render_seconds < 45, f"dashboard took {render_seconds:.1f}s to draw"
    page.close()


def test_analyst_cannot_open_other_banks_dashboard(superset_stack, browser, artifacts_dir: Path):
    me, them = superset_stack.banks["qingshan"], superset_stack.banks["hexi"]
    page = login(browser, superset_stack.url, me.tenant)
    page.goto(f"{superset_stack.url}/superset/dashboard/{bundle.dashboard_slug(them.tenant)}/")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts_dir / f"superset_denied_{them.tenant.code}.png"))
    body = page.inner_text("body")
    assert them.tenant.name_zh not in body
    assert not any(branch in body for branch in them.branch_ids)
    assert page.query_selector(".dashboard-component-chart-holder") is None
    assert any(
        marker in body for marker in ("Page not found", "找不到", "Access Denied", "拒绝", "not found")
    )
    page.close()
