"""One DAG per bank, built from `tenants/*.yaml`: the bank's day as the CLI a person runs.

A thin loader (it runs at every parse): it reads YAML and nothing else, imports only
Airflow and pyyaml, and never imports `granary` (the core venv's Spark, dbt and Great
Expectations live in another virtualenv; tasks reach them through the `granary` CLI).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, TaskGroup
from airflow.sdk.exceptions import AirflowException, AirflowFailException

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
TENANTS_DIR = Path(os.environ.get("GRANARY_TENANTS_DIR", str(REPO / "tenants")))
SOURCES_DIR = REPO / "granary" / "catalog" / "sources"
GRANARY_BIN = os.environ.get("GRANARY_BIN", str(REPO / ".venv" / "bin" / "granary"))

# Exit codes of the granary CLI that retrying cannot fix: 2 = bad usage or tenant
# configuration, 3 = bad data (DataError). 1 (engine down, or any other failure) is retried.
NO_RETRY_EXIT_CODES = {2: "配置或用法错误 (bad configuration or usage)", 3: "数据错误 (bad data)"}

# Business dates are calendar days; logical dates are kept in UTC so `{{ ds }}` is the
# business date a person would type (a Beijing-time midnight would render as the day before).
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
RETRY_DELAY = timedelta(minutes=2)
MAX_RETRY_DELAY = timedelta(minutes=30)


class GranaryStep(BashOperator):
    """Runs one `granary` CLI step; bad data or configuration fails at once instead of retrying."""

    def execute(self, context):  # noqa: ANN001, ANN201 - Airflow's signature
        try:
            return super().execute(context)
        except AirflowFailException:
            raise
        except AirflowException:
            process = getattr(self.subprocess_hook, "sub_process", None)
            code = process.returncode if process is not None else None
            if code in NO_RETRY_EXIT_CODES:
                raise AirflowFailException(
                    f"granary exited {code}: {NO_RETRY_EXIT_CODES[code]}; not retried. "
                    "Fix the data or configuration named above, then clear this task. "
                    f"修正上面指出的数据或配置后，清除 (clear) 此任务重跑。"
                ) from None
            raise


def source_tables() -> list[str]:
    """The source tables, from the contract file names (granary/catalog/sources/<table>.yaml)."""
    return sorted(p.stem for p in SOURCES_DIR.glob("*.yaml"))


def external_tables(tables: list[str]) -> set[str]:
    """The tables routed from external providers: contracts with top-level `origin: external`."""
    routed = set()
    for table in tables:
        contract = yaml.safe_load((SOURCES_DIR / f"{table}.yaml").read_text(encoding="utf-8")) or {}
        if contract.get("origin") == "external":
            routed.add(table)
    return routed


def _command(verb: str, code: str, *extra: str) -> str:
    return " ".join([GRANARY_BIN, verb, "--tenant", code, "--date", "{{ ds }}", *extra])


def _schedule(text: str | None) -> CronDataIntervalTimetable | None:
    # A data-interval timetable: the nightly run at the end of day D has logical date D,
    # so `{{ ds }}` is the business day whose extracts are being loaded.
    if text is None or str(text).lower() == "none":
        return None
    return CronDataIntervalTimetable(str(text), timezone="UTC")


def _doc_md(bank: dict, tables: list[str], routed: set[str] = frozenset()) -> str:
    code = bank["code"]
    retries = (bank.get("airflow") or {}).get("retries", 2)
    ingest = ", ".join(f"`ingest.{t}`" for t in tables)
    clean = ", ".join(f"`clean.{t}`" for t in tables)
    ext = ", ".join(f"`ingest.{t}`" for t in tables if t in routed) or "(none)"
    return f"""\
# {bank["name_zh"]} · {bank["name_en"]} (`{code}`)

{bank.get("county_zh", "")} · 每日批处理 / nightly batch. Logical date = business date (UTC).

- {ingest}: Spark，落地区 CSV → ODS Parquet（类型化，带血缘列）.
  Landing CSV → typed ODS Parquet with lineage columns.
- {clean}: Spark，ODS → DWD（代码标准化、去重、PII 令牌化），坏行进入隔离区.
  Standardise codes, dedupe, tokenise PII; bad rows go to quarantine.
- `route_external`: 外部数据一点接入：按本行客户令牌从全省数据商文件中路由本行客户的记录并计量
  （`clean.customer` 之后，{ext} 之前）. Routes the province's provider files to this bank's
  customers (by PII token) and writes the usage ledger; `granary external bill` bills it.
- `quality_gate`: Great Expectations 校验本行 DWD，不通过则本行当日停止.
  Validates this bank's DWD; a failure stops this bank only.
- `dbt_build`: 一次 dbt build 生成 DWS/ADS：指标、标签、客户画像.
  One `dbt build`: indicators, tags, customer profiles.
- `publish`: 发布到服务库 schema `t_{code}`，原子切换.
  Copies ADS to the serving schema, swapped in atomically.

Each task runs the command a person would, e.g.
`granary ingest --tenant {code} --date 2024-06-30 --source {tables[0] if tables else "customer"}`.

**重跑 / rerun.** 修正数据后，在 Grid 视图清除 (clear) 失败任务及其下游; or
`airflow tasks clear granary_bank_{code} -t '^quality_gate$' -s <date> -e <date> --downstream -y`,
or `granary airflow run-day --date <date> --tenants {code}` (reruns only what failed).
Bad data (exit 3) and bad configuration (exit 2) fail at once; engine failures are
retried {retries} times with backoff from {RETRY_DELAY}. Pool `bank_{code}` caps this
bank's concurrent tasks, so one bank cannot starve the others.
"""


def build_dag(bank: dict, tables: list[str], routed: set[str] = frozenset()) -> DAG:
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
    }
    with DAG(
        dag_id=f"granary_bank_{code}",
        description=(
            f"{bank['name_zh']} · {bank['name_en']}: "
            "ingest → clean → route external → quality → dbt → publish"
        ),
        doc_md=_doc_md(bank, tables, routed),
        schedule=_schedule(policy.get("schedule", "@daily")),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=[code, "granary", "bank"],
        default_args=default_args,
    ) as dag:
        with TaskGroup("ingest"):
            ingests = {
                t: GranaryStep(task_id=t, bash_command=_command("ingest", code, "--source", t))
                for t in tables
            }
        with TaskGroup("clean"):
            cleans = {
                t: GranaryStep(task_id=t, bash_command=_command("clean", code, "--source", t)) for t in tables
            }
        route = GranaryStep(task_id="route_external", bash_command=_command("external route", code))
        quality_gate = GranaryStep(task_id="quality_gate", bash_command=_command("validate", code))
        dbt_build = GranaryStep(task_id="dbt_build", bash_command=_command("transform", code))
        publish = GranaryStep(task_id="publish", bash_command=_command("publish", code))
        for t in tables:
            ingests[t] >> cleans[t] >> quality_gate
            if t in routed:
                route >> ingests[t]
        # Routing matches provider records against the bank's clean customer tokens.
        if "customer" in cleans:
            cleans["customer"] >> route
        if not routed:
            route >> quality_gate
        quality_gate >> dbt_build >> publish
    return dag


def _load_banks() -> list[dict]:
    """Every bank's YAML. A broken file drops that bank only, never the other banks' DAGs;
    `granary tenants` names the broken field."""
    banks = []
    for path in sorted(TENANTS_DIR.glob("*.yaml")):
        try:
            bank = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            log.error("%s: not readable YAML, no DAG for this bank: %s", path, exc)
            continue
        if not isinstance(bank, dict) or bank.get("code") != path.stem:
            log.error("%s: field 'code' must equal the file name '%s'; no DAG for this bank", path, path.stem)
            continue
        banks.append(bank)
    return banks


_TABLES = source_tables()
_ROUTED = external_tables(_TABLES)
for _bank in _load_banks():
    globals()[f"granary_bank_{_bank['code']}"] = build_dag(_bank, _TABLES, _ROUTED)
