"""What both DAG files share: the banks (`tenants/*.yaml`), the day's tasks, the step operator.

No DAG here (listed in .airflowignore); the bank and province DAG files import it. It imports
only pyyaml and Airflow's SDK, never the `granary` package (that lives in the core virtualenv);
the day's tasks come from granary/catalog/day.py, loaded by its path (standard library and yaml).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowException, AirflowFailException

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
TENANTS_DIR = Path(os.environ.get("GRANARY_TENANTS_DIR", str(REPO / "tenants")))
DAY_MODULE = REPO / "granary" / "catalog" / "day.py"
GRANARY_BIN = os.environ.get("GRANARY_BIN", str(REPO / ".venv" / "bin" / "granary"))

# libyaml's parser when pyyaml has it (its wheels do): every task's process parses its DAG file again.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Exit codes of the granary CLI that retrying cannot fix: 2 = bad usage or tenant
# configuration, 3 = bad data (DataError). 1 (engine down, or any other failure) is retried.
NO_RETRY_EXIT_CODES = {2: "配置或用法错误 (bad configuration or usage)", 3: "数据错误 (bad data)"}


class GranaryStep(BashOperator):
    """Runs one `granary` CLI step. The CLI's last line (its `error: …` on failure) becomes the
    task's exception, so the reason is the log's last word and the alert's text; bad data or
    configuration fails at once instead of retrying. A step with outlets (publish) stamps the
    business date on its asset event for the province DAG."""

    def execute(self, context):  # noqa: ANN001, ANN201 - Airflow's signature
        result = self.subprocess_hook.run_command(
            command=[shutil.which("bash") or "bash", "-c", self.bash_command],
            env=self.get_env(context),
            output_encoding=self.output_encoding,
            cwd=self.cwd,
        )
        if result.exit_code == 0:
            for asset in self.outlets:
                context["outlet_events"][asset].extra = {"dt": context["ds"]}
            return result.output
        reason = result.output.strip().removeprefix("error:").strip() or "(the command printed nothing)"
        code = result.exit_code
        if code in NO_RETRY_EXIT_CODES:
            raise AirflowFailException(
                f"{reason}\ngranary exited {code}: {NO_RETRY_EXIT_CODES[code]}; not retried. "
                "Fix the data or configuration named above, then clear this task. "
                "修正上面指出的数据或配置后，清除 (clear) 此任务重跑。"
            )
        raise AirflowException(f"{reason}\ngranary exited {code}: engine failure, retried with backoff")


def _load(path: Path) -> object:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader


def load_banks(only: str | None = None) -> list[dict]:
    """Every bank's YAML (or the one bank `only`). A broken file drops that bank only, never the
    other banks' DAGs; `granary tenants` names the broken field."""
    banks = []
    for path in sorted(TENANTS_DIR.glob(f"{only}.yaml" if only else "*.yaml")):
        try:
            bank = _load(path)
        except (OSError, yaml.YAMLError) as exc:
            log.error("%s: not readable YAML, no DAG for this bank: %s", path, exc)
            continue
        if not isinstance(bank, dict) or bank.get("code") != path.stem:
            log.error("%s: field 'code' must equal the file name '%s'; no DAG for this bank", path, path.stem)
            continue
        banks.append(bank)
    return banks


def day_tasks() -> list:
    """The bank's day as tasks (granary.catalog.day.DayTask: task_id, step, tables, upstream), from
    granary/catalog/day.yaml by the code `granary run` uses."""
    name = "granary_catalog_day"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DAY_MODULE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules[name].day_tasks()


def published(code: str) -> Asset:
    """The asset a bank's publish task updates: its serving database, with the new day in it."""
    return Asset(name=f"published_{code}", uri=f"granary://serving/{code}", group="granary_serving")


def granary(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run the `granary` CLI from a callback (tasks use BashOperator; callbacks have no operator)."""
    return subprocess.run([GRANARY_BIN, *args], capture_output=True, text=True, timeout=timeout)
