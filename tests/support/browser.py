"""A bank analyst's Superset in headless Chromium (Debian's, never a downloaded one).

Shared by the browser tests and benchmarks/superset_render.py: log in, open a dashboard, wait
until every chart is drawn, and note which chart queries Superset answered from its cache.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from playwright.sync_api import Browser, Page, Playwright, Response

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Tall enough that every chart of a bank dashboard is in view (Superset draws charts as they scroll in).
VIEWPORT = {"width": 1400, "height": 4200}
SETTLE_SECONDS = 1.0
ERROR_TEXTS = ("Unexpected error", "意外错误", "Traceback", "Network error", "网络错误")

# Per chart holder: drawn (canvas / table / big number), still loading, empty, or showing an error.
CHART_STATES_JS = """() => Array.from(
  document.querySelectorAll('.dashboard-component-chart-holder')).map(h => ({
    drawn: !!h.querySelector(
      '.chart-container canvas, .chart-container table, .chart-container .header-line'),
    loading: !!h.querySelector('.loading, [data-test="loading-indicator"]'),
    empty: !!h.querySelector('.no-results, [data-test="no-results"], .ant-empty'),
    error: !!h.querySelector('.ant-alert-error, [data-test="error-tooltip"], .alert-danger'),
    title: ((h.querySelector('[data-test="editable-title"], .header-title') || {}).textContent || '').trim(),
}))"""


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def login(browser: Browser, base_url: str, username: str, password: str) -> Page:
    """A new browser context logged in as `username` (its own cookies and HTTP cache)."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click('[data-test="login-button"]')
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    return page


@dataclass
class Render:
    seconds: float  # navigation start to every chart drawn
    states: list[dict]
    cached: list[bool] = field(default_factory=list)  # per chart data query: served from cache
    # chart id -> the rows of the last data Superset sent it (a line chart's: one per point drawn)
    rows: dict[int, list[dict]] = field(default_factory=dict)


def open_dashboard(
    page: Page, url: str, charts: int, timeout_s: float = 90, require_drawn: bool = True
) -> Render:
    """Open the dashboard and wait until its `charts` charts are drawn (or one shows an error);
    with `require_drawn=False`, a chart that shows "no results" has settled too (the caller judges)."""
    cached: list[bool] = []
    rows: dict[int, list[dict]] = {}

    def on_response(response: Response) -> None:
        if "/api/v1/chart/data" in response.url and response.request.method == "POST":
            try:
                body = json.loads(response.body())
                form_data = json.loads(response.request.post_data or "{}").get("form_data") or {}
                chart_id = form_data.get("slice_id")
            except Exception:  # noqa: BLE001 - a failed query shows as a chart error instead
                return
            cached.extend(bool(q.get("is_cached")) for q in body.get("result", []))
            if chart_id and body.get("result"):
                rows[int(chart_id)] = body["result"][0].get("data") or []

    page.on("response", on_response)
    started = time.perf_counter()
    page.goto(url)
    deadline = time.monotonic() + timeout_s
    states: list[dict] = []
    drawn_at: float | None = None
    try:
        while time.monotonic() < deadline:
            states = page.evaluate(CHART_STATES_JS)
            if any(s["error"] for s in states):
                break
            settled = [
                (s["drawn"] or (s["empty"] and not require_drawn)) and not s["loading"] for s in states
            ]
            if len(states) == charts and all(settled):
                drawn_at = drawn_at or time.perf_counter()
                # Drawn must hold a moment: a dashboard may mount its grid again (and redraw every
                # chart) once its filter bar has loaded.
                if time.perf_counter() - drawn_at >= SETTLE_SECONDS:
                    break
            else:
                drawn_at = None
            time.sleep(0.05)
        else:
            raise AssertionError(f"{url}: charts not drawn (and staying drawn) within {timeout_s}s: {states}")
        return Render((drawn_at or time.perf_counter()) - started, states, cached, rows)
    finally:
        page.remove_listener("response", on_response)
