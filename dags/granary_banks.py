"""One DAG per bank, built from `tenants/*.yaml`: the bank's day as the CLI a person runs.

A thin loader (it runs at every parse): it reads YAML and nothing else, imports only
Airflow, pyyaml and `granary_shared` beside it, and never imports `granary` (the core venv's
Spark, dbt and Great Expectations live in another virtualenv; tasks reach them through the
`granary` CLI).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from functools import partial

from airflow.sdk import DAG, CronDataIntervalTimetable, TaskGroup, get_parsing_context
from granary_shared import GRANARY_BIN, GranaryStep, day_tasks, granary, load_banks, published

log = logging.getLogger(__name__)

# Business dates are calendar days; logical dates are kept in UTC so `{{ ds }}` is the
# business date a person would type (a Beijing-time midnight would render as the day before).
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
RETRY_DELAY = timedelta(minutes=2)
MAX_RETRY_DELAY = timedelta(minutes=30)


def record_run(context, code: str, state: str) -> None:  # noqa: ANN001 - Airflow's context
    """Task callback: how the bank's run ended, into the province's ops.dag_run.

    Task callbacks, not DAG callbacks: in Airflow 3 a task's callbacks run in the task's own
    process, while DAG-level on_failure_callback (run by the dag-processor) is known not to
    fire (apache/airflow#63374, open for 3.1-3.2). The first task to fail for good records the
    failure (retries do not call it); the last task's success records the run's success.
    """
    ti = context["ti"]
    args = ["ops", "record-run", "--tenant", code, "--date", context["ds"]]
    args += ["--dag-id", ti.dag_id, "--run-id", ti.run_id, "--state", state]
    if state == "failed":
        text = str(context.get("exception") or "")
        reason = text.splitlines() or ["(no exception)"]
        args += ["--failed-task", ti.task_id, "--reason", reason[0][:1000]]
        if exited := re.search(r"granary exited (\d+)", text):  # GranaryStep's words
            args += ["--exit-code", exited.group(1)]
    done = granary(*args)
    if done.returncode != 0:
        log.warning("could not record the run in ops.dag_run: %s", (done.stderr or done.stdout)[-1000:])
    else:
        log.info("recorded in ops.dag_run: %s %s %s", code, context["ds"], state)


def _command(verb: str, code: str, *extra: str) -> str:
    return " ".join([GRANARY_BIN, verb, "--tenant", code, "--date", "{{ ds }}", *extra])


def _schedule(text: str | None) -> CronDataIntervalTimetable | None:
    # A data-interval timetable: the nightly run at the end of day D has logical date D,
    # so `{{ ds }}` is the business day whose extracts are being loaded.
    if text is None or str(text).lower() == "none":
        return None
    return CronDataIntervalTimetable(str(text), timezone="UTC")


def _doc_md(bank: dict, tasks: list) -> str:
    code = bank["code"]
    retries = (bank.get("airflow") or {}).get("retries", 2)
    after = {t.task_id: f" (after `{'`, `'.join(t.upstream)}`)" if t.upstream else "" for t in tasks}
    loads = "\n".join(
        f"  - `{t.task_id}`: {', '.join(t.tables)}{after[t.task_id]}" for t in tasks if t.tables
    )
    return f"""\
# {bank["name_zh"]} · {bank["name_en"]} (`{code}`)

{bank.get("county_zh", "")} · 每日批处理 / nightly batch. Logical date = business date (UTC).
The day's tasks and their order: `granary/catalog/day.yaml` (the same steps `granary run` runs).

- `provision`: 开户准备：本行服务库与登录角色、密钥、Airflow 资源池、Superset 看板，缺什么建什么
  (`granary tenant add {code}`). Creates what the bank needs and is missing, so adding
  `tenants/{code}.yaml` is the whole onboarding.
- `load.<系统>`: 按源系统接入并清洗 / one task per source system, Spark: landing CSV → ODS (Iceberg,
  typed, lineage columns) → DWD (codes standardised, deduped, PII tokenised); bad rows go to
  quarantine with the rule they broke. Each table's outcome (rows in, clean, quarantined, rules) is
  in the task's log and in the ops view (运营总览). A bad file fails its table; the system's other
  tables are still loaded. 单表重跑 / one table by hand:
  `granary load --tenant {code} --date D --source loan`.
{loads}
- `route`: 外部数据一点接入：按本行客户令牌从全省数据商文件中路由本行客户的记录并计量
  （本行客户表清洗之后，`load.external_data` 之前）. Routes the province's provider files to this
  bank's customers (by PII token) and writes the usage ledger; `granary external bill` bills it.
- `validate`: Great Expectations 校验本行 DWD，不通过则本行当日停止.
  Validates this bank's DWD; a failure stops this bank only.
- `transform`: 一次 dbt build 生成 DWS/ADS：指标、标签、客户画像.
  One `dbt build`: indicators, tags, customer profiles.
- `publish`: 发布到服务库 schema `t_{code}`，原子切换；更新资产 `published_{code}`，触发全省 DAG.
  Copies ADS to the serving schema, swapped in atomically; updates the asset
  `published_{code}` that the province DAG (`granary_province`) is scheduled on.
- `refresh`: 预热本行 Superset 看板 (`granary superset refresh`；未部署 Superset 时跳过).
  Warms the bank's dashboards (a no-op where Superset was never set up).

**告警 / alerts.** 任务最终失败时记录 (行, 日期, 失败任务, 原因) 到全省 `ops.dag_run`，
并按本行 `contact` 与全省渠道发出告警（每行每日每原因一条）；`refresh` 成功即记录本次运行成功.
The first task to fail for good records (bank, day, task, reason) in the province's `ops.dag_run`
with `granary ops record-run`, which alerts the bank's contacts and the province (email, DingTalk,
WeCom, webhooks; once per bank, day and cause; a retry that succeeds sends nothing). The last
task's success records the run's success. The reason is also the last line of the failed task's log.

Each task runs the command a person would, e.g.
`granary load --tenant {code} --date 2024-06-30 --system core_banking`.

**重跑 / rerun.** 修正数据后，在 Grid 视图清除 (clear) 失败任务及其下游; or
`airflow tasks clear granary_bank_{code} -t '^validate$' -s <date> -e <date> --downstream -y`,
or `granary airflow run-day --date <date> --tenants {code}` (reruns only what failed).
Bad data (exit 3) and bad configuration (exit 2) fail at once; engine failures are
retried {retries} times with backoff from {RETRY_DELAY}. Pool `bank_{code}` caps this
bank's concurrent tasks, so one bank cannot starve the others.
"""


def _step(code: str, task) -> GranaryStep:  # noqa: ANN001 - granary.catalog.day.DayTask
    if task.step == "load":
        return GranaryStep(task_id=task.system, bash_command=_command("load", code, "--system", task.system))
    outlets = [published(code)] if task.step == "publish" else []
    return GranaryStep(task_id=task.task_id, bash_command=_command(task.step, code), outlets=outlets)


def build_dag(bank: dict, tasks: list) -> DAG:
    code = bank["code"]
    policy = bank.get("airflow") or {}
    default_args = {
        "owner": "granary",
        "retries": int(policy.get("retries", 2)),
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
        "max_retry_delay": MAX_RETRY_DELAY,
        "pool": f"bank_{code}",
        "priority_weight": int(policy.get("priority_weight", 1)),
        # The bank's weight, as written: not summed over downstream tasks.
        "weight_rule": "absolute",
        "on_failure_callback": partial(record_run, code=code, state="failed"),
    }
    with DAG(
        dag_id=f"granary_bank_{code}",
        description=(
            f"{bank['name_zh']} · {bank['name_en']}: "
            "load (ingest + clean) per source system → route external → quality → dbt → publish → dashboards"
        ),
        doc_md=_doc_md(bank, tasks),
        schedule=_schedule(policy.get("schedule", "@daily")),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=[code, "granary", "bank"],
        default_args=default_args,
    ) as dag:
        # In the shared pool: the bank's own pool may not exist yet (this task makes it).
        provision = GranaryStep(
            task_id="provision", bash_command=f"{GRANARY_BIN} tenant add {code}", pool="default_pool"
        )
        with TaskGroup("load"):
            steps = {t.task_id: _step(code, t) for t in tasks if t.step == "load"}
        steps |= {t.task_id: _step(code, t) for t in tasks if t.step != "load"}
        refresh = GranaryStep(
            task_id="refresh",
            bash_command=_command("superset refresh", code),
            on_success_callback=partial(record_run, code=code, state="success"),
        )
        for task in tasks:
            for upstream in task.upstream:
                steps[upstream] >> steps[task.task_id]
            if not task.upstream:
                provision >> steps[task.task_id]
        steps[tasks[-1].task_id] >> refresh
    return dag


_TASKS = day_tasks()
# A task's own process parses this file again to find its task: then read and build that bank's
# DAG only, not all 51 (the dag-processor, which sets no dag_id, still builds every bank's).
_RUNNING = get_parsing_context().dag_id
_ONLY = _RUNNING.removeprefix("granary_bank_") if _RUNNING else None
for _bank in load_banks(only=_ONLY):
    globals()[f"granary_bank_{_bank['code']}"] = build_dag(_bank, _TASKS)
