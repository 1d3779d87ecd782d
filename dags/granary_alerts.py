"""The province's alert DAGs: deadlines watched every ten minutes, the morning digest.

A thin loader like the others: Airflow only; the tasks are `granary alerts` calls, and who hears
what is in alerts.yaml and each bank's `contact:` (granary.alerts).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, CronTriggerTimetable
from granary_shared import GRANARY_BIN, GranaryStep

# Both DAGs: never catch up, one run at a time. run_immediately=False on their clocks: unpausing
# runs nothing for a time already past (a digest of a night still running would go out, and be the
# only one, since each is sent once).
PROVINCE_CLOCK = {
    "start_date": datetime(2024, 1, 1),
    "catchup": False,
    "max_active_runs": 1,
    "tags": ["granary", "province", "alerts"],
    "default_args": {"owner": "granary", "retries": 1},
}

with DAG(
    dag_id="granary_deadline_watch",
    description="全省 · 发布截止时间监控: warn of bank-days projected to miss their deadline, alert missed",
    doc_md="""\
# 发布截止时间监控 · Deadline watch

每十分钟：按各行 `publish_deadline`（默认见 alerts.yaml）检查昨日与今日的业务日期：预计无法按时发布
（当日已失败未修复，或按近几日的发布时间推算会迟）发预警，已过截止仍未发布或迟发发告警；每行每日
每原因只发一次。Every ten minutes, `granary alerts watch`: a warning when a bank-day is projected
to miss its publish deadline, an alert once it has; once per bank, day and cause.
""",
    schedule=CronTriggerTimetable("*/10 * * * *", timezone="UTC", run_immediately=False),
    **PROVINCE_CLOCK,
):
    GranaryStep(task_id="watch", bash_command=f"{GRANARY_BIN} alerts watch")

with DAG(
    dag_id="granary_morning_digest",
    description="全省 · 早报: the province's morning digest of the night's business day",
    doc_md="""\
# 全省早报 · Morning digest

北京时间每天 08:30：前一业务日各行按时、迟发、失败、未发布的家数与名单，以及当日告警条数，发往
alerts.yaml 的全省渠道。At 08:30 Beijing time, `granary alerts digest` for the day before.
""",
    schedule=CronTriggerTimetable("30 8 * * *", timezone="Asia/Shanghai", run_immediately=False),
    **PROVINCE_CLOCK,
):
    GranaryStep(
        task_id="digest", bash_command=f"{GRANARY_BIN} alerts digest --date {{{{ macros.ds_add(ds, -1) }}}}"
    )
