"""The province's day under the real scheduler: two banks, one corrupted extract, contained; the
other onboarded by its YAML alone; alerts of the failure and of a missed deadline, once each.

The real Airflow stack (api-server, scheduler, dag-processor, LocalExecutor) on its own
Postgres metadata database runs the real DAGs, whose tasks run the real `granary` CLI on the
session's Spark Connect server, Great Expectations, dbt and Postgres. Two small banks at
SF0.01 (60-120 customers: every extract still has rows, every step does real work); one
bank's loan extract is cut off mid-record, as a broken transfer leaves it.

Isolation: own data root, secrets, tenants dir (manual schedules), serving prefix,
metadata database, AIRFLOW_HOME in tmp and a free port; the session's Spark server is shared.

Onboarding: NEW's YAML is added to the running installation (its serving database, role, secrets,
pool and Superset assets do not exist); its day through the scheduler, with no other command, must
succeed, and its analyst then logs in (Chromium) and sees all eight dashboards drawn from its data.
The installation has its own Superset (own metadata database and port) for that.
Alerts: a real SMTP server (aiosmtpd) and a local HTTP server receive what Granary sends (alerts.yaml
names them): the failed bank's contacts and the province hear of the failure and, its deadline
still ahead, of a day projected to miss it; LATE's deadline is already past when it publishes.

Cost: 10 tasks a bank (a load per source system, then route, gate, dbt, publish), ~35 task
processes in all, each a command handed to the resident worker; minutes on a quiet 2-core machine,
far more on a loaded one, hence the long timeouts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml
from playwright.sync_api import sync_playwright
from psycopg import sql
from support import browser as chromium
from support.sinks import http_sink, smtp_sink

from granary.catalog.sources import contracts
from granary.core import config
from granary.core.postgres import admin_connect, province_database, serving_database
from granary.core.tenants import Tenant, load_tenant_file, load_tenants
from granary.generate import generate
from granary.lake import iceberg, tables
from granary.serving.databases import drop_serving
from granary.serving.publish import init_serving
from granary.stack import airflow
from granary.superset import credentials as superset_credentials
from granary.superset import provision as superset_provision
from granary.superset import service as superset_service
from granary.superset.refresh import bank_dashboard_ids

pytestmark = [pytest.mark.slow, pytest.mark.timeout(9000)]

TEST_DB = f"granary_airflow_test_{os.getpid()}"
SERVING_PREFIX = f"granary_serving_sched_{os.getpid()}"
# Yesterday in Beijing: the business day a night loads, so its deadlines are real times around now.
DAY = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
RUN_ID = f"granary__{DAY.isoformat()}"
GOOD, BAD = ("hongyan",), "heqiao"
# NEW is onboarded by the run; LATE's deadline is past before its day runs: one bank is both
LATE = NEW = "hongyan"
BROKEN_TABLE = "loan"
REASON = "cut off mid-record"  # what ingest says of a truncated extract
GRANARY = Path(sys.executable).with_name("granary")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _drop_database(db: str) -> None:
    with psycopg.connect(config.settings().pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{db}" with (force)')


def _bank_yaml(tenants_dir: Path, code: str, **changes: object) -> None:
    """A bank's own YAML from tenants/, on a manual schedule (no automatic nightly runs here)."""
    bank = yaml.safe_load((config.REPO_ROOT / "tenants" / f"{code}.yaml").read_text(encoding="utf-8"))
    bank.setdefault("airflow", {})["schedule"] = "None"
    bank.update(changes)
    text = yaml.safe_dump(bank, allow_unicode=True, sort_keys=False)
    (tenants_dir / f"{code}.yaml").write_text(text, encoding="utf-8")


def _alert_settings(root: Path, mail_port: int, posts_url) -> Path:  # noqa: ANN001 - Posts.url
    """The installation's alerts.yaml: the test's SMTP server, the province's people, and a default
    deadline two days after the business date (ahead of any run of this test)."""
    path = root / "alerts.yaml"
    settings = {
        "smtp": {"host": "127.0.0.1", "port": mail_port, "sender": "granary@province.test"},
        "province": {"email": [PROVINCE_MAIL], "webhook": [posts_url("/province")]},
        "publish_deadline": "2d 07:00",
        "timezone": "Asia/Shanghai",
    }
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


PROVINCE_MAIL, BAD_MAIL = "ops@province.test", "heqiao-ops@bank.test"


@pytest.fixture(scope="module")
def stack(spark_remote: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("scheduler")
    tenants_dir = root / "tenants"
    tenants_dir.mkdir()
    # The installation shares the session's Spark server, whose lake catalog is the session's: it
    # logs in to it as the session does (its own password would not open it).
    (root / "secrets").mkdir(mode=0o700)
    shutil.copy2(iceberg.password_file(), root / "secrets" / iceberg.password_file().name)
    with smtp_sink() as mailbox, http_sink() as posts:
        _bank_yaml(
            tenants_dir, BAD, contact={"email": [BAD_MAIL], "dingtalk": [posts.url(f"/dingtalk/{BAD}")]}
        )
        saved = dict(os.environ)
        os.environ.update(
            {
                "GRANARY_DATA": str(root / "data"),
                "GRANARY_RUN_DIR": str(root / "run"),
                # Own secrets and own Superset: the session's Superset (other tests) is not touched.
                "GRANARY_SECRETS_DIR": str(root / "secrets"),
                "GRANARY_SUPERSET_URL": f"http://127.0.0.1:{_free_port()}",
                "GRANARY_TENANTS_DIR": str(tenants_dir),
                "GRANARY_SERVING_DB": SERVING_PREFIX,
                "GRANARY_AIRFLOW_URL": f"http://127.0.0.1:{_free_port()}",
                "GRANARY_ALERTS_FILE": str(_alert_settings(root, mailbox.port, posts.url)),
            }
        )
        os.environ.pop("GRANARY_BIN", None)  # the real CLI of this checkout
        config.settings.cache_clear()
        tenants = {t.code: t for t in load_tenants()}
        new = load_tenant_file(config.REPO_ROOT / "tenants" / f"{NEW}.yaml")
        superset_metadata = superset_service.metadata_db()
        _drop_database(TEST_DB)
        _drop_database(superset_metadata)
        drop_serving([*tenants.values(), new])
        try:
            init_serving(tenants.values())
            generate([*tenants.values(), new], [DAY], scale=0.01, seed=11)
            broken = config.settings().landing_root / BAD / DAY.isoformat() / f"{BROKEN_TABLE}.csv"
            original = broken.read_bytes()
            cut = len(original) * 2 // 3
            while original[cut - 1 : cut] == b"\n":
                cut += 1
            broken.write_bytes(original[:cut])  # a transfer cut mid-record
            superset_service.start()
            airflow.start(metadata_db=TEST_DB)
            # Onboarding: the new bank's file, added to the running installation, is all it gets.
            late = {"publish_deadline": "0d 00:00", "contact": {"wecom": [posts.url(f"/wecom/{LATE}")]}}
            _bank_yaml(tenants_dir, NEW, **late)
            tenants = {t.code: t for t in load_tenants()}
            yield {
                "tenants": tenants, "broken": broken, "original": original, "mail": mailbox, "posts": posts,
            }  # fmt: skip
        finally:
            airflow.stop()
            superset_service.stop()
            _drop_database(TEST_DB)
            _drop_database(superset_metadata)
            drop_serving([*tenants.values(), new])
            os.environ.clear()
            os.environ.update(saved)
            config.settings.cache_clear()


def _of_day(mail) -> list[EmailMessage]:  # noqa: ANN001 - support.sinks.Mailbox
    """The messages about DAY (the watch DAG also checks today's deadlines, with no run for today)."""
    return [m for m in mail.messages if str(DAY) in m["Subject"]]


def _posts_of_day(posts) -> list[dict]:  # noqa: ANN001 - support.sinks.Posts
    return [p for _, p in posts.received if str(DAY) in json.dumps(p, ensure_ascii=False)]


def _only(mail, title: str) -> EmailMessage:  # noqa: ANN001 - support.sinks.Mailbox
    found = [m for m in _of_day(mail) if title in m["Subject"]]
    assert len(found) == 1, [m["Subject"] for m in mail.messages]
    return found[0]


def _recipients(message: EmailMessage) -> list[str]:
    return [a.strip() for a in message["To"].split(",")]


def _body(message: EmailMessage) -> str:
    return message.get_content()


def _task_instances(api: airflow.Api, dag_id: str, run_id: str = RUN_ID) -> dict[str, dict]:
    tis = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 200}).json()
    return {ti["task_id"]: ti for ti in tis["task_instances"]}


def _fingerprint(tis: dict[str, dict]) -> dict[str, tuple]:
    """What a rerun would change: try number, start and end of every task instance."""
    return {tid: (ti["try_number"], ti["start_date"], ti["end_date"]) for tid, ti in tis.items()}


def _dag_runs_recorded() -> dict[str, tuple]:
    with admin_connect(province_database()) as conn:
        rows = conn.execute(
            "select tenant, state, failed_task, reason from ops.dag_run where dt = %s and run_id = %s",
            (DAY, RUN_ID),
        ).fetchall()
    return {tenant: (state, failed_task, reason) for tenant, state, failed_task, reason in rows}


def _province_runs(api: airflow.Api) -> list[dict]:
    return api.call("GET", f"/dags/{airflow.PROVINCE_DAG}/dagRuns").json()["dag_runs"]


def test_a_corrupted_extract_fails_one_bank_alone_and_reruns_after_the_fix(
    stack: dict, artifacts_dir: Path
) -> None:
    tenants: dict[str, Tenant] = stack["tenants"]
    api = airflow.Api()
    pools = {p["name"]: p["slots"] for p in api.call("GET", "/pools").json()["pools"]}
    assert all(pools[t.airflow_pool] == t.airflow.pool_slots for t in tenants.values() if t.code != NEW)
    assert tenants[NEW].airflow_pool not in pools  # added after Airflow started: nothing made for it yet

    # 1. The day for all three through the scheduler: the corrupted bank fails, alone.
    started = time.perf_counter()
    assert airflow.run_day(list(tenants.values()), DAY, timeout=5400) is False
    first_day_s = time.perf_counter() - started

    # provision, a load (ingest + clean) per source system, route, gate, dbt, publish, dashboards
    systems = {c.system for c in contracts().values()}
    per_bank = len(systems) + 6
    for code in GOOD:
        tis = _task_instances(api, tenants[code].dag_id)
        assert len(tis) == per_bank
        assert {ti["state"] for ti in tis.values()} == {"success"}, code
    bad = _task_instances(api, tenants[BAD].dag_id)
    broken_system = contracts()[BROKEN_TABLE].system
    failing = f"load.{broken_system}"
    assert bad[failing]["state"] == "failed"
    assert bad[failing]["try_number"] == 1  # bad data (exit 3) is not retried, although retries are 2
    external = {f"load.{c.system}" for c in contracts().values() if c.origin == "external"}
    downstream = ("route", *sorted(external), "validate", "transform", "publish", "refresh")
    assert {bad[t]["state"] for t in downstream} == {"upstream_failed"}
    others = [t for t in bad if t.startswith("load.") and t != failing and t not in downstream]
    assert others and {bad[t]["state"] for t in others} == {"success"}
    # The broken system's other tables were loaded all the same: their clean days are in the lake.
    loaded = {t for t, c in contracts().items() if c.system == broken_system and t != BROKEN_TABLE}
    assert all(tables.day_files(BAD, "dwd", t, [DAY]) for t in loaded)
    assert not tables.day_files(BAD, "dwd", BROKEN_TABLE, [DAY])

    # The reason is in the failed task's log (the CLI's error line, then the exception) ...
    log = airflow.task_log_file(tenants[BAD].dag_id, RUN_ID, failing, 1)
    text = log.read_text(encoding="utf-8")
    assert REASON in text and f"{BROKEN_TABLE}.csv" in text and "AirflowFailException" in text
    assert REASON in airflow.failure_reason(log)
    # ... and in the province's ops records, beside the two banks' successes.
    recorded = _dag_runs_recorded()
    assert recorded[BAD][:2] == ("failed", failing) and REASON in recorded[BAD][2]
    assert all(recorded[code] == ("success", None, None) for code in GOOD)
    # The province waits for all banks (or its deadline): nothing triggered it by assets yet.
    assert not [r for r in _province_runs(api) if r["run_type"] == "asset_triggered"]

    good_before = {code: _fingerprint(_task_instances(api, tenants[code].dag_id)) for code in GOOD}
    bad_before = _fingerprint(bad)

    # The new bank was onboarded by its first run: its provision task made its secrets, serving
    # database and role (the pool came with the run), then its day published.
    provision_log = airflow.task_log_file(tenants[NEW].dag_id, RUN_ID, "provision", 1).read_text(
        encoding="utf-8"
    )
    assert f"created serving database {serving_database(tenants[NEW])}" in provision_log
    assert "created PII key" in provision_log and f"bank {NEW} ready" in provision_log
    assert "created Superset role" in provision_log
    # A bank that was there already: its provision task left its database and role alone.
    bad_log = airflow.task_log_file(tenants[BAD].dag_id, RUN_ID, "provision", 1).read_text(encoding="utf-8")
    assert "already there" in bad_log and "created serving database" not in bad_log

    # Alerts: the failure, at once, to the failed bank's people and the province, in Chinese.
    mail, posts = stack["mail"], stack["posts"]
    failure = _only(mail, "日批失败")
    assert sorted(_recipients(failure)) == sorted([BAD_MAIL, PROVINCE_MAIL])
    bad_zh = tenants[BAD].name_zh
    link = f"{config.settings().airflow_url}/dags/{tenants[BAD].dag_id}/runs/"
    for text in (_body(failure), posts.to(f"/dingtalk/{BAD}")[0]["text"]["content"]):
        assert bad_zh in text and str(DAY) in text and failing in text and REASON in text
        assert "数据错误" in text and link in text and f"/tasks/{failing}" in text
    province = {p["kind"]: p for p in posts.to("/province") if p["dt"] == str(DAY)}
    assert province["failure"]["link"].startswith(link) and province["failure"]["task"] == failing
    # The deadline watch (the watch DAG's command; its own runs may have come first, each cause is
    # sent once): LATE's deadline passed before it published; BAD's deadline is ahead, but its day
    # failed and is not fixed yet: a warning.
    watch = ["alerts", "watch", "--date", DAY.isoformat()]
    done = subprocess.run([str(GRANARY), *watch], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    missed, warned = _only(mail, "已错过发布截止时间"), _only(mail, "预计无法按时发布")
    assert tenants[LATE].name_zh in _body(missed) and "发布截止" in _body(missed)
    assert _recipients(missed) == [PROVINCE_MAIL]  # LATE's own people are on WeCom
    [late] = [p["text"]["content"] for p in posts.to(f"/wecom/{LATE}") if str(DAY) in p["text"]["content"]]
    assert "已错过" in late
    assert bad_zh in _body(warned) and failing in _body(warned)
    assert sorted(_recipients(warned)) == sorted([BAD_MAIL, PROVINCE_MAIL])
    # Nothing else (but the digest, which the digest DAG may have sent already: checked below).
    assert len([m for m in _of_day(mail) if "早报" not in m["Subject"]]) == 3
    assert (
        len([p for p in _posts_of_day(posts) if p.get("kind") != "digest"]) == 3 + 2 + 1
    )  # province, BAD, LATE

    # 2. Fix the extract, rerun the failed bank as an operator would: only what failed runs again.
    stack["broken"].write_bytes(stack["original"])
    started = time.perf_counter()
    run_day = ["airflow", "run-day", "--date", DAY.isoformat(), "--tenants", BAD, "--timeout", "2400"]
    rerun = subprocess.run(
        [str(GRANARY), *run_day],
        capture_output=True,
        text=True,
        timeout=2700,
    )
    rerun_s = time.perf_counter() - started
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    bad = _task_instances(api, tenants[BAD].dag_id)
    assert {ti["state"] for ti in bad.values()} == {"success"}
    assert bad[failing]["try_number"] == 2
    rerun_tasks = {failing, *downstream}
    assert {t: f for t, f in _fingerprint(bad).items() if t not in rerun_tasks} == {
        t: f for t, f in bad_before.items() if t not in rerun_tasks
    }
    for code in GOOD:  # the other banks were not touched
        assert _fingerprint(_task_instances(api, tenants[code].dag_id)) == good_before[code]
    assert _dag_runs_recorded()[BAD] == ("success", None, None)
    # A rerun that succeeds sends nothing, nor does the watch again (each cause once); the morning
    # digest goes to the province alone.
    for command in (watch, watch, ["alerts", "digest", "--date", DAY.isoformat()]):
        done = subprocess.run([str(GRANARY), *command], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    # (the digest DAG, unpaused by the run, may have sent it first, at whatever point the night was)
    digest = _only(mail, "早报")
    assert _recipients(digest) == [PROVINCE_MAIL] and f"{DAY} 全省 2 家行" in digest["Subject"]
    assert len(_of_day(mail)) == 4
    assert sorted(p["kind"] for p in posts.to("/province") if p["dt"] == str(DAY)) == [
        "deadline_missed", "deadline_warning", "digest", "failure",
    ]  # fmt: skip

    # 3. Every bank has now published: the province DAG ran from their assets, for DAY.
    province = [r for r in _province_runs(api) if r["run_type"] == "asset_triggered"]
    assert len(province) == 1 and province[0]["state"] == "success"
    tis = _task_instances(api, airflow.PROVINCE_DAG, province[0]["dag_run_id"])
    assert {ti["state"] for ti in tis.values()} == {"success"}
    refresh_log = airflow.task_log_file(airflow.PROVINCE_DAG, province[0]["dag_run_id"], "ops_refresh", 1)
    assert f"for d in {DAY}; do {GRANARY} ops refresh --date $d" in refresh_log.read_text(encoding="utf-8")

    measured = {"first_day_three_banks_s": round(first_day_s, 1), "rerun_one_bank_s": round(rerun_s, 1)}
    (artifacts_dir / "airflow_scheduler.json").write_text(json.dumps(measured, indent=2) + "\n")
    print(f"\nscheduler day: {measured}")


def test_start_is_idempotent(stack: dict) -> None:
    pids = airflow.running_pids()
    started = time.perf_counter()
    airflow.start(metadata_db=TEST_DB)
    assert time.perf_counter() - started < 10
    assert airflow.running_pids() == pids


def test_the_onboarded_banks_analyst_sees_its_eight_dashboards_with_data(
    stack: dict, artifacts_dir: Path
) -> None:
    """After its first night (the test above), NEW's analyst logs in and opens every dashboard of
    the bank: all eight are listed for it, and every chart on each is drawn from its data. A chart
    may show "no results" only where its dataset has no row in the bank's serving database (tag
    movements need two days in the lake; this is the bank's first)."""
    new: Tenant = stack["tenants"][NEW]
    admin = superset_provision.admin_client()
    dashboards = bank_dashboard_ids(admin, new)
    assert len(dashboards) == 8
    url = config.settings().superset_url
    drawn = 0
    with sync_playwright() as p:
        browser = chromium.launch(p)
        try:
            page = chromium.login(browser, url, new.analyst_user, superset_credentials.analyst_password(new))
            listed = page.request.get(f"{url}/api/v1/dashboard/?q=(page_size:100)").json()["result"]
            assert sorted(d["id"] for d in listed) == sorted(dashboards.values())
            for title, dashboard_id in sorted(dashboards.items()):
                charts = admin.call("GET", f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
                render = chromium.open_dashboard(
                    page, f"{url}/superset/dashboard/{dashboard_id}/", len(charts), require_drawn=False
                )
                assert len(render.states) == len(charts) > 0, title
                assert not [s for s in render.states if s["error"]], f"{title}: {render.states}"
                assert new.name_zh in page.inner_text("body"), title
                for state in render.states:
                    if state["drawn"]:
                        drawn += 1
                        continue
                    [chart] = [c for c in charts if c["slice_name"] == state["title"]]
                    assert _dataset_rows(admin, new, chart) == 0, f"{title}: {state['title']} shows nothing"
            page.screenshot(path=str(artifacts_dir / f"superset_onboarded_{NEW}.png"))
        finally:
            browser.close()
    assert drawn >= 8


def _dataset_rows(admin, tenant: Tenant, chart: dict) -> int:  # noqa: ANN001 - SupersetClient
    """Rows of the chart's dataset (a table, or a virtual dataset's SQL) in the bank's serving
    database, counted as the admin."""
    dataset_id = int(str(chart["form_data"]["datasource"]).split("__")[0])
    dataset = admin.call("GET", f"/api/v1/dataset/{dataset_id}")["result"]
    source = (
        sql.SQL("({}\n) as dataset").format(sql.SQL(dataset["sql"]))
        if dataset.get("sql")
        else sql.Identifier(dataset["table_name"])
    )
    with admin_connect(serving_database(tenant)) as conn:
        conn.execute(sql.SQL("set search_path = {}").format(sql.Identifier(dataset["schema"])))
        return conn.execute(sql.SQL("select count(*) from {}").format(source)).fetchone()[0]
