"""The province admin in a real browser (Debian's Chromium): opens 全省运营监控, every chart is drawn
without error, and every bank the session published is on it. A bank analyst opening the same URL
sees none of it. Screenshot: tests/artifacts/province_ops_dashboard.png.

Costs: one ops refresh and one dashboard render on the shared `superset_stack` (~30 s here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from test_browser import CHART_STATES_JS, CHROMIUM, CHROMIUM_ARGS, ERROR_TEXTS

from granary.ops_marts import refresh
from granary.publish import serving_day
from granary.superset import credentials, province

pytestmark = pytest.mark.slow

CHARTS = len(list((province.TEMPLATES / "charts").glob("*.yaml")))


@pytest.fixture(scope="module")
def ops_browser(superset_stack) -> Iterator[Browser]:
    banks = [f.tenant for f in superset_stack.banks.values()]
    refresh(banks, max(serving_day(t) for t in banks))
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _login(browser: Browser, base_url: str, user: str, password: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1800}, locale="zh-CN")
    page.goto(f"{base_url}/login/")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click('[data-test="login-button"]')
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    return page


def _drawn(page: Page, timeout_s: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    states: list[dict] = []
    while time.monotonic() < deadline:
        states = page.evaluate(CHART_STATES_JS)
        if any(s["error"] for s in states):
            return states
        if len(states) == CHARTS and all(s["drawn"] and not s["loading"] for s in states):
            return states
        time.sleep(0.25)
    raise AssertionError(f"ops dashboard charts not drawn within {timeout_s}s: {states}")


def test_province_admin_sees_every_bank_on_the_ops_dashboard(
    superset_stack, ops_browser: Browser, artifacts_dir: Path
) -> None:
    page = _login(ops_browser, superset_stack.url, province.PROVINCE_USER, province.password())
    page.goto(f"{superset_stack.url}/superset/dashboard/{province.DASHBOARD_SLUG}/")
    states = _drawn(page)
    page.wait_for_timeout(1500)  # ECharts animates its bars for ~1 s: screenshot the end state
    page.screenshot(path=str(artifacts_dir / "province_ops_dashboard.png"), full_page=True)
    assert not [s for s in states if s["error"]], states
    assert len(states) == CHARTS == 9
    text = page.inner_text("body")
    assert "全省运营监控" in text
    for err in ERROR_TEXTS:
        assert err not in text
    for facts in superset_stack.banks.values():
        assert facts.tenant.name_zh in text, f"{facts.tenant.code} is not on the ops dashboard"
    for title in ("各行每日调度运行结果", "数据新鲜度（滞后天数）", "质量校验结果", "隔离行数（按表、规则）"):
        assert title in text
    assert "外部数据使用（按数据商、产品）" in text and "本月外部数据账单（元）" in text
    page.close()


def test_bank_analyst_sees_nothing_of_it(superset_stack, ops_browser: Browser, artifacts_dir: Path) -> None:
    me, other = (f.tenant for f in superset_stack.banks.values())
    page = _login(ops_browser, superset_stack.url, me.analyst_user, credentials.analyst_password(me))
    page.goto(f"{superset_stack.url}/superset/dashboard/{province.DASHBOARD_SLUG}/")
    page.wait_for_timeout(4000)
    page.screenshot(path=str(artifacts_dir / "province_ops_as_analyst.png"))
    assert page.evaluate(CHART_STATES_JS) == []
    text = page.inner_text("body")
    assert "各行每日调度运行结果" not in text and other.name_zh not in text
    page.close()
