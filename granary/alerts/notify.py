"""What is said, to whom, and only once: a bank-day's failure, its deadline, the morning digest.

Every alert is claimed first in the province's `ops.alert` under (bank, day, cause): a cause already
there is not sent again, so a failing task seen by several callbacks, a watch every ten minutes or a
rerun that fails the same way make one message. A retry that succeeds sends nothing (Airflow calls
the failure callback only once a task has failed for good).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote

from rich.console import Console

from granary.alerts.channels import CHANNELS, Alert
from granary.alerts.settings import alert_settings, deadline
from granary.catalog.day import system_titles
from granary.core.config import settings
from granary.core.postgres import admin_connect, province_database
from granary.core.tenants import Contacts, Tenant

console = Console(stderr=True)
# Every alert sent: one per bank, business day and cause, never again. Part of the province's ops
# schema (granary.province.ops creates it with the others); created here too, for an installation
# upgraded since its last `granary serving init`.
ALERT_DDL = """
create schema if not exists ops;
create table if not exists ops.alert (
    tenant text not null,          -- a bank code, or _province (the digest)
    dt date not null,
    cause text not null,           -- failed:<task> | deadline_warning | deadline_missed | digest
    kind text not null,
    title text not null,
    body text not null,
    channels text[] not null,      -- the channels it went to
    errors text,                   -- what a channel answered when it refused
    sent_at timestamptz not null default now(),
    primary key (tenant, dt, cause)
);
"""
PROVINCE = "_province"  # the digest's "bank": never a bank code (codes start with a letter)

STEP_ZH = {
    "provision": "开户准备", "load": "数据接入与清洗", "ingest": "数据接入", "clean": "数据清洗",
    "route": "外部数据路由",
    "validate": "数据质量校验", "transform": "指标与标签加工", "publish": "发布到服务库",
    "refresh": "看板预热",
}  # fmt: skip
EXIT_ZH = {2: "配置错误，未重试", 3: "数据错误，未重试"}


def task_zh(task: str) -> str:
    """A task's name as the bank reads it: `load.core_banking` -> 数据接入与清洗 核心业务系统."""
    step, _, part = task.partition(".")
    part = system_titles().get(part, {}).get("zh", part) if step == "load" else part
    return f"{STEP_ZH.get(step, step)} {part}".strip()


def log_link(dag_id: str, run_id: str, task: str) -> str:
    """The task's page (its log) in the Airflow UI."""
    base = settings().airflow_url.rstrip("/")
    return f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task}"


def _targets(contacts: list[Contacts]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for channel in CHANNELS:
        found = [t for c in contacts for t in c.targets().get(channel, ())]
        if found:
            merged[channel] = tuple(dict.fromkeys(found))
    return merged


def send_once(alert: Alert, cause: str, contacts: list[Contacts]) -> bool:
    """Claim (bank, day, cause) and send to every channel; False when it was already sent."""
    targets = _targets(contacts)
    with admin_connect(province_database(), autocommit=True) as conn:
        conn.execute(ALERT_DDL)
        claimed = conn.execute(
            "insert into ops.alert (tenant, dt, cause, kind, title, body, channels)"
            " values (%s, %s, %s, %s, %s, %s, %s) on conflict (tenant, dt, cause) do nothing returning 1",
            (alert.tenant, alert.dt, cause, alert.kind, alert.title, alert.body, sorted(targets)),
        ).fetchone()
        if not claimed:
            return False
        errors = []
        for channel, addresses in targets.items():
            try:
                CHANNELS[channel].send(alert, addresses)
            except Exception as exc:  # noqa: BLE001 - one channel down must not silence the others
                errors.append(f"{channel}: {exc}")
        conn.execute(
            "update ops.alert set errors = %s where tenant = %s and dt = %s and cause = %s",
            ("\n".join(errors) or None, alert.tenant, alert.dt, cause),
        )
    shown = ", ".join(f"{c} ×{len(t)}" for c, t in targets.items()) or "no channel configured"
    console.print(
        f"alert sent: {alert.title} ({shown})" + (f"; failed: {'; '.join(errors)}" if errors else "")
    )
    return True


def notify_failure(
    tenant: Tenant, dt: date, dag_id: str, run_id: str, task: str, reason: str, exit_code: int | None = None
) -> bool:
    """A bank-day's task failed for good (the DAG's failure callback, through `granary ops record-run`)."""
    quality = task == "validate"
    what = "数据质量校验未通过" if quality else "日批失败"
    category = EXIT_ZH.get(exit_code or 0, "引擎故障，重试后仍失败" if exit_code else "")
    link = log_link(dag_id, run_id, task)
    lines = [
        f"银行：{tenant.name_zh}（{tenant.code}）",
        f"业务日期：{dt}",
        f"失败任务：{task_zh(task)}（{task}）",
        f"原因：{reason}" + (f"（{category}）" if category else ""),
        "处理：修正后在 Airflow 中清除该任务重跑，或运行 "
        f"granary airflow run-day --date {dt} --tenants {tenant.code}",
        f"日志：{link}",
    ]
    alert = Alert(
        "quality" if quality else "failure", tenant.code, tenant.name_zh, dt.isoformat(),
        f"【Granary 告警】{tenant.name_zh} {dt} {what}", "\n".join(lines),
        task=task, reason=reason, link=link,
    )  # fmt: skip
    return send_once(alert, f"failed:{task}", [tenant.contact, alert_settings().province])


@dataclass(frozen=True)
class DayStatus:
    tenant: Tenant
    dt: date
    due: datetime
    published_at: datetime | None
    failed_task: str | None  # the latest recorded run failed here (and nothing published since)

    @property
    def on_time(self) -> bool:
        return self.published_at is not None and self.published_at <= self.due

    @property
    def status_zh(self) -> str:
        if self.on_time:
            return "按时发布"
        if self.published_at is not None:
            return "迟发"
        return "失败" if self.failed_task else "未发布"


def day_status(tenants: list[Tenant], dt: date) -> list[DayStatus]:
    with admin_connect(province_database()) as conn:
        published = dict(
            conn.execute(
                "select tenant, min(finished_at) from ops.publish_log"
                " where dt = %s and status = 'ok' group by tenant",
                (dt,),
            ).fetchall()
        )
        failed = dict(
            conn.execute(
                "select distinct on (tenant) tenant, case when state = 'failed' then failed_task end"
                " from ops.dag_run where dt = %s order by tenant, recorded_at desc",
                (dt,),
            ).fetchall()
        )
    return [DayStatus(t, dt, deadline(t, dt), published.get(t.code), failed.get(t.code)) for t in tenants]


def _typical_publish(tenant: Tenant, dt: date) -> datetime | None:
    """When the bank's day is usually published: the median offset of its last 7 days' publishes."""
    zone = alert_settings().zone
    with admin_connect(province_database()) as conn:
        rows = conn.execute(
            "select dt, min(finished_at) from ops.publish_log where tenant = %s and dt < %s and status = 'ok'"
            " group by dt order by dt desc limit 7",
            (tenant.code, dt),
        ).fetchall()
    offsets = [(at - datetime.combine(d, time(), tzinfo=zone)).total_seconds() for d, at in rows]
    if not offsets:
        return None
    return datetime.combine(dt, time(), tzinfo=zone) + timedelta(seconds=statistics.median(offsets))


def watch_deadlines(tenants: list[Tenant], days: list[date], now: datetime | None = None) -> list[Alert]:
    """Warn of a bank-day projected to miss its deadline; alert once it has missed it."""
    now = now or datetime.now(UTC)
    sent = []
    for dt in days:
        for day in day_status(tenants, dt):
            if day.on_time:
                continue
            when = day.due.strftime("%Y-%m-%d %H:%M")
            if now >= day.due or day.published_at is not None:
                state = (
                    f"实际发布：{day.published_at.astimezone(day.due.tzinfo):%Y-%m-%d %H:%M}"
                    if day.published_at
                    else "至今尚未发布" + (f"（失败任务：{day.failed_task}）" if day.failed_task else "")
                )
                kind, cause, title = "deadline_missed", "deadline_missed", "已错过发布截止时间"
            else:
                if day.failed_task:
                    state = f"当日批处理已在 {task_zh(day.failed_task)}（{day.failed_task}）失败，尚未修复"
                elif (typical := _typical_publish(day.tenant, dt)) is not None and typical > day.due:
                    state = f"按近几日的发布时间推算，预计 {typical:%Y-%m-%d %H:%M} 才能发布"
                else:
                    continue
                kind, cause, title = "deadline_warning", "deadline_warning", "预计无法按时发布"
            lines = [
                f"银行：{day.tenant.name_zh}（{day.tenant.code}）",
                f"业务日期：{dt}",
                f"发布截止：{when}",
                state,
            ]
            label = "预警" if kind == "deadline_warning" else "告警"
            alert = Alert(
                kind, day.tenant.code, day.tenant.name_zh, dt.isoformat(),
                f"【Granary {label}】{day.tenant.name_zh} {dt} {title}", "\n".join(lines),
                task=day.failed_task,
            )  # fmt: skip
            if send_once(alert, cause, [day.tenant.contact, alert_settings().province]):
                sent.append(alert)
    return sent


def digest(tenants: list[Tenant], dt: date) -> Alert | None:
    """The province's morning digest of a business day: one message, to the province's channels."""
    days = day_status(tenants, dt)
    counts = {s: sum(d.status_zh == s for d in days) for s in ("按时发布", "迟发", "失败", "未发布")}
    with admin_connect(province_database()) as conn:
        (alerts,) = conn.execute(
            "select count(*) from ops.alert where dt = %s and tenant <> %s", (dt, PROVINCE)
        ).fetchone()
    late = [d for d in days if not d.on_time]
    lines = [f"{d.tenant.name_zh}（{d.tenant.code}）：{d.status_zh}" for d in late] or ["各行均已按时发布。"]
    lines.append(f"当日告警 {alerts} 条；详见全省运维看板。")
    summary = "，".join(f"{s} {n} 家" for s, n in counts.items())
    alert = Alert(
        "digest", PROVINCE, "全省", dt.isoformat(), f"【Granary 早报】{dt} 全省 {len(days)} 家行：{summary}",
        "\n".join(lines),
    )  # fmt: skip
    return alert if send_once(alert, "digest", [alert_settings().province]) else None
