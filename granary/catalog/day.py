"""A bank's day as tasks: granary/catalog/day.yaml expanded with the source contracts' systems.

One reader for both sides of the house: `granary run` (granary.pipeline.run) runs the tasks in
order, and the DAG files load this file by its path (they never import the granary package, whose
dependencies live in another virtualenv), so it imports nothing but the standard library and yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

CATALOG_DIR = Path(__file__).parent
DAY_FILE = CATALOG_DIR / "day.yaml"
SOURCES_DIR = CATALOG_DIR / "sources"
LOAD = "load"  # ingest, then clean, of a source system's tables
STEPS = ("load", "route", "validate", "transform", "publish")


class DayError(ValueError):
    """day.yaml cannot be expanded; the message names the entry and the field."""


@dataclass(frozen=True)
class DayTask:
    """One task of the day: the step, the tables it loads (load only) and the tasks it waits for."""

    task_id: str
    step: str
    tables: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()

    @property
    def system(self) -> str | None:
        return self.task_id.removeprefix(f"{LOAD}.") if self.step == LOAD else None


def systems(origin: str, sources_dir: Path = SOURCES_DIR) -> dict[str, tuple[str, ...]]:
    """{system: its tables} of the contracts whose `origin` is `origin` (bank when unsaid), in
    contract-file order."""
    found: dict[str, list[str]] = {}
    for path in sorted(sources_dir.glob("*.yaml")):
        contract = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if contract.get("origin", "bank") == origin:
            found.setdefault(str(contract["system"]), []).append(path.stem)
    return {system: tuple(names) for system, names in found.items()}


def day_tasks(day_file: Path = DAY_FILE, sources_dir: Path = SOURCES_DIR) -> list[DayTask]:
    """The day's tasks in an order that runs each after what it waits for."""
    entries = (yaml.safe_load(day_file.read_text(encoding="utf-8")) or {}).get("steps") or []
    tasks: list[DayTask] = []
    waited_for: set[str] = set()
    for number, entry in enumerate(entries, 1):
        where = f"{day_file} step {number}"
        step = entry.get("step")
        if step not in STEPS:
            raise DayError(f"{where}: step {step!r} is not one of {', '.join(STEPS)}")
        upstream = list(entry.get("after") or [])
        known = {t.task_id: t for t in tasks}
        if unknown := [name for name in upstream if name not in known]:
            raise DayError(f"{where}: after {unknown} names no earlier task (earlier: {', '.join(known)})")
        for table in entry.get("after_tables") or []:
            loads = [t.task_id for t in tasks if table in t.tables]
            if not loads:
                raise DayError(f"{where}: after_tables: no earlier load task loads '{table}'")
            upstream += loads
        if not (entry.get("after") or entry.get("after_tables")):
            upstream = [t.task_id for t in tasks if t.task_id not in waited_for]
        if step == LOAD:
            origin = entry.get("origin", "bank")
            made = [
                DayTask(f"{LOAD}.{system}", LOAD, names, tuple(upstream))
                for system, names in systems(origin, sources_dir).items()
            ]
        else:
            made = [DayTask(step, step, (), tuple(upstream))]
        if clash := [t.task_id for t in made if t.task_id in known]:
            raise DayError(f"{where}: task {clash} is made twice (one source system in two origins?)")
        tasks += made
        waited_for.update(upstream)
    return tasks


def system_titles(day_file: Path = DAY_FILE) -> dict[str, dict[str, str]]:
    """{system: {"zh": …, "en": …}}: how a bank's people read a source system's name."""
    return (yaml.safe_load(day_file.read_text(encoding="utf-8")) or {}).get("systems") or {}
