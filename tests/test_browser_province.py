"""The province admin in a real browser (Debian's Chromium): opens 全省运营监控, every chart is drawn
without error, and every bank the session published is on it. A bank analyst opening the same URL
sees none of it. Screenshot: tests/artifacts/province_ops_dashboard.png.

Costs: one ops refresh and one dashboard render on the shared `superset_stack` (~30 s here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from support import browser as chromium

from granary.province.marts import refresh
from granary.serving.publish import serving_day
from granary.superset import credentials, province

pytestmark = pytest.mark.slow

CHARTS = len(list((province.TEMPLATES / "charts").glob("*.yaml")))


@pytest.fixture(scope="module")
def ops_browser(superset_stack) -> Iterator[Browser]:
    banks = [f.tenant for f in superset_stack.banks.values()]
    refresh(banks, max(serving_day(t) for t in banks))
    with sync_playwright() as p:
        launched = chromium.launch(p)
        yield launched
        launched.close()


def test_province_admin_sees_every_bank_on_the_ops_dashboard(
    superset_stack, ops_browser: Browser, artifacts_dir: Path
) -> None:
    page = chromium.login(ops_browser, superset_stack.url, province.PROVINCE_USER, province.password())
    url = f"{superset_stack.url}/superset/dashboard/{province.DASHBOARD_SLUG}/"
    states = chromium.open_dashboard(page, url, CHARTS).states
    page.wait_for_timeout(1500)  # ECharts animates its bars for ~1 s: screenshot the end state
    page.screenshot(path=str(artifacts_dir / "province_ops_dashboard.png"), full_page=True)
    assert not [s for s in states if s["error"]], states
    assert len(states) == CHARTS == 11
    text = page.inner_text("body")
    assert "全省运营监控" in text
    for err in chromium.ERROR_TEXTS:
        assert err not in text
    for facts in superset_stack.banks.values():
        assert facts.tenant.name_zh in text, f"{facts.tenant.code} is not on the ops dashboard"
    for title in (
        "各行每日调度运行结果",
        "数据新鲜度（滞后天数）",
        "质量校验结果",
        "隔离行数（按表、规则）",
        "各行存储：湖大小与当日增长",
    ):
        assert title in text
    assert "外部数据使用（按数据商、产品）" in text and "本月外部数据账单（元）" in text
    page.close()


def test_bank_analyst_sees_nothing_of_it(superset_stack, ops_browser: Browser, artifacts_dir: Path) -> None:
    me, other = (f.tenant for f in superset_stack.banks.values())
    page = chromium.login(ops_browser, superset_stack.url, me.analyst_user, credentials.analyst_password(me))
    page.goto(f"{superset_stack.url}/superset/dashboard/{province.DASHBOARD_SLUG}/")
    page.wait_for_timeout(4000)
    page.screenshot(path=str(artifacts_dir / "province_ops_as_analyst.png"))
    assert page.evaluate(chromium.CHART_STATES_JS) == []
    text = page.inner_text("body")
    assert "各行每日调度运行结果" not in text and other.name_zh not in text
    page.close()
