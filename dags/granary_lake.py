"""The lake's housekeeping DAG: every night, each bank's lake tables expired, compacted, swept.

A thin loader like granary_banks.py: YAML and Airflow only; each task is the CLI a person runs,
`granary lake housekeep --tenants <code>`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from granary_shared import GRANARY_BIN, GranaryStep, load_banks

DAG_ID = "granary_lake_housekeeping"
# After the province's deadline (06:00 UTC): the night's writes are done, readers are few.
SCHEDULE = "0 7 * * *"

DOC_MD = f"""\
# 湖表维护 · Lake housekeeping (`{DAG_ID}`)

每天一次，逐行维护湖表：过期快照清理（保留天数按安装设置 `GRANARY_LAKE_SNAPSHOT_RETENTION_DAYS`）、
小文件与清单合并、孤儿文件清除. Once a day, bank by bank: snapshots older than the installation's
retention expired (time travel reaches back that far), a day's small files and the manifests
compacted, and orphan files (a write killed before its commit) removed after a day's grace.
One task per bank, so one bank's trouble never holds the others', and one for the province's own
tables (the external data ledger, a commit per bank and day). The ops dashboard shows each bank's
snapshots, files, bytes and last compaction.
"""

with DAG(
    dag_id=DAG_ID,
    description="湖表维护 · the lake's snapshots, small files and orphans, bank by bank",
    doc_md=DOC_MD,
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["granary", "lake"],
    default_args={"owner": "granary", "retries": 2, "retry_delay": timedelta(minutes=5)},
) as granary_lake_housekeeping:
    for bank in load_banks():
        GranaryStep(
            task_id=f"housekeep.{bank['code']}",
            bash_command=f"{GRANARY_BIN} lake housekeep --tenants {bank['code']}",
            pool=f"bank_{bank['code']}",
        )
    GranaryStep(task_id="housekeep.province", bash_command=f"{GRANARY_BIN} lake housekeep --province")
