"""The bank's day, written once (granary/catalog/day.yaml): its expansion, its errors, `granary load`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from granary.catalog import day
from granary.catalog.sources import contracts

GRANARY = str(Path(sys.executable).with_name("granary"))


def test_one_load_task_per_source_system_each_after_what_it_needs() -> None:
    tasks = {t.task_id: t for t in day.day_tasks()}
    systems: dict[str, list[str]] = {}
    for table, contract in contracts().items():
        systems.setdefault(contract.system, []).append(table)
    assert {t.system: sorted(t.tables) for t in tasks.values() if t.step == day.LOAD} == {
        s: sorted(names) for s, names in systems.items()
    }
    customers = f"load.{contracts()['customer'].system}"
    assert tasks["route"].upstream == (customers,)
    external = [t for t in tasks.values() if t.step == day.LOAD and "route" in t.upstream]
    assert external and all(contracts()[n].origin == "external" for t in external for n in t.tables)
    # validate waits for every load that nothing else waits for (not the customers' system: route does)
    assert set(tasks["validate"].upstream) == {t for t in tasks if t.startswith("load.")} - {customers}
    order = list(tasks)
    assert all(order.index(u) < order.index(t.task_id) for t in tasks.values() for u in t.upstream)
    assert order[-3:] == ["validate", "transform", "publish"]
    assert all(day.system_titles()[s]["zh"] for s in systems)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("- {step: ingest}", "step 'ingest' is not one of load, route"),
        ("- {step: load, origin: bank}\n- {step: route, after: [load.nope]}", "after ['load.nope'] names no"),
        ("- {step: route, after_tables: [customer]}", "no earlier load task loads 'customer'"),
    ],
)
def test_a_broken_day_file_names_the_step_and_the_field(tmp_path: Path, entry: str, says: str) -> None:
    broken = tmp_path / "day.yaml"
    broken.write_text("steps:\n" + entry + "\n", encoding="utf-8")
    with pytest.raises(day.DayError, match=r"day\.yaml step \d") as raised:
        day.day_tasks(broken)
    assert says in str(raised.value)


def test_a_new_source_system_is_a_new_load_task(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(day.SOURCES_DIR, sources)
    text = (sources / "staff.yaml").read_text(encoding="utf-8").replace("system: core_banking", "system: hr")
    (sources / "staff.yaml").write_text(text, encoding="utf-8")
    tasks = {t.task_id: t for t in day.day_tasks(sources_dir=sources)}
    assert tasks["load.hr"].tables == ("staff",) and "staff" not in tasks["load.core_banking"].tables
    assert "load.hr" in tasks["validate"].upstream


def test_load_of_an_unknown_system_says_which_systems_there_are() -> None:
    done = subprocess.run(
        [GRANARY, "load", "--tenant", "qingshan", "--date", "2026-11-20", "--system", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "unknown source system 'nope'" in done.stderr and "core_banking" in done.stderr
