"""The province's DAG: after the banks publish, meter and bill external data and refresh the ops marts.

A thin loader like granary_banks.py: YAML and Airflow only; tasks are `granary` CLI calls.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, AssetAll, AssetOrTimeSchedule, CronTriggerTimetable
from granary_shared import GRANARY_BIN, GranaryStep, load_banks, published

DAG_ID = "granary_province"
# Six hours after the banks' nightly start (00:00 UTC): by then a healthy day is long done.
DEADLINE_CRON = "0 6 * * *"

DOC_MD = f"""\
# 全省 · Province (`{DAG_ID}`)

全省日终：外部数据计量计费、运维集市刷新. After the banks' day: external data metering and the
bill (`granary external bill --month M`), and the province ops marts (`granary ops refresh --date D`)
that the ops dashboard reads (with `ops.dag_run`, written by every bank DAG's alerts).

**何时运行 / when it runs.** `AssetOrTimeSchedule`: when *every* bank's asset `published_<bank>`
has a new event (all banks published), **or** at the daily deadline `{DEADLINE_CRON}` (UTC),
whichever comes first.

- Not "all banks" alone (`AssetAll`): one bank with bad data would hold the province's ops view
  of the other 50 back until someone fixes it — forever, if nobody does.
- Not "any bank" (`AssetAny`): a province run per bank publish is ~51 runs a night on a
  machine whose bottleneck is already the per-task process cost, and bills refreshed 51 times.
- All-or-deadline: a healthy night runs once, as soon as the last bank publishes; a night with a
  failed bank runs at the deadline with the banks that did publish (the failure itself is already
  in `ops.dag_run`). The deadline run does not consume the queued events, so when the failed bank
  is fixed and publishes, the condition completes and the province reruns with it.

业务日期：资产事件里的 `dt`（银行发布时写入）；截止时间触发时为前一天.
The business date(s) come from the triggering events' `dt` (the publish task stamps it), so a
bank's week-long backfill refreshes every day it published; a deadline run takes the day before;
a manual run may pass `{{"dates": ["2026-11-20"]}}` as its conf.
"""


def business_dates(events, dag_run) -> str:  # noqa: ANN001 - Airflow's template context
    """The business days this run covers, space-separated for the shell."""
    days = {e.extra["dt"] for evs in events.values() for e in evs if (e.extra or {}).get("dt")}
    days |= set((dag_run.conf or {}).get("dates") or [])
    if not days:
        when = dag_run.logical_date or dag_run.run_after
        days = {(when - timedelta(days=1)).date().isoformat()}
    return " ".join(sorted(days))


DATES = "{{ business_dates(triggering_asset_events, dag_run) }}"

with DAG(
    dag_id=DAG_ID,
    description="全省 · province: external data billing and ops marts after the banks publish",
    doc_md=DOC_MD,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(DEADLINE_CRON, timezone="UTC"),
        assets=AssetAll(*(published(b["code"]) for b in load_banks())),
    ),
    # No start_date: unpausing then waits for the next deadline instead of running the last one.
    catchup=False,
    max_active_runs=1,
    tags=["granary", "province"],
    user_defined_macros={"business_dates": business_dates},
    default_args={"owner": "granary", "retries": 2, "retry_delay": timedelta(minutes=2)},
) as granary_province:
    ops_refresh = GranaryStep(
        task_id="ops_refresh",
        bash_command=f"set -e; for d in {DATES}; do {GRANARY_BIN} ops refresh --date $d; done",
    )
    external_bill = GranaryStep(
        task_id="external_bill",
        bash_command=(
            f"set -e; for m in $(for d in {DATES}; do echo ${{d:0:7}}; done | sort -u); "
            f"do {GRANARY_BIN} external bill --month $m; done"
        ),
    )
    external_bill >> ops_refresh
