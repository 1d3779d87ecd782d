"""Source contracts: one YAML per source table drives ingest, cleaning and quality suites."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CATALOG_DIR = Path(__file__).parent
SOURCES_DIR = CATALOG_DIR / "sources"

PiiKind = Literal["resident_id", "phone", "name", "address"]
_TYPE = re.compile(r"^(string|int|bigint|date|timestamp|decimal\(\d+,\d+\))$")


class ContractError(ValueError):
    """A source contract that cannot be used; the message names the file and the field."""


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: str
    nullable: bool = True
    format: str | None = None  # source date format, Spark pattern (yyyyMMdd)
    pii: PiiKind | None = None
    sensitivity: Literal["C1", "C2", "C3"] | None = None
    codes: str | None = None  # name of a code table in codes.yaml
    pattern: str | None = None
    range: tuple[float, float] | None = None
    check: Literal["resident_id"] | None = None

    @model_validator(mode="after")
    def _known_type(self) -> Column:
        if not _TYPE.match(self.type):
            raise ValueError(f"unknown type '{self.type}'")
        return self


class RowRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    sql: str  # a boolean SQL expression over the typed columns; false -> quarantined
    description: str = ""


class SourceContract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title_zh: str
    title_en: str
    system: str
    description: str = ""
    # "bank": the bank's own extract; "external": routed from a province-level provider
    # file into the bank's landing (granary.external), after the bank's customers are cleaned.
    origin: Literal["bank", "external"] = "bank"
    # A day may hold no rows (e.g. no external records matched the bank's customers).
    allow_empty: bool = False
    keys: list[str]
    columns: list[Column]
    rules: list[RowRule] = []
    # A day with a larger share of its rows quarantined fails its clean step as bad data (not
    # retried; the bank stops before the quality gate): an extract that broken needs a person.
    max_quarantine_share: float = Field(0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _keys_are_columns(self) -> SourceContract:
        names = {c.name for c in self.columns}
        missing = [k for k in self.keys if k not in names]
        if missing:
            raise ValueError(f"keys {missing} are not columns")
        return self

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pii_columns(self) -> list[Column]:
        return [c for c in self.columns if c.pii]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


class CodeTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title_zh: str
    values: dict[str, str | bool]


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"field '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in exc.errors())


@cache
def code_tables() -> dict[str, CodeTable]:
    path = CATALOG_DIR / "codes.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return {name: CodeTable.model_validate(body) for name, body in raw.items()}
    except ValidationError as exc:
        raise ContractError(f"{path}: {_errors(exc)}") from exc


def load_contract(path: Path) -> SourceContract:
    try:
        contract = SourceContract.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise ContractError(f"{path}: {_errors(exc)}") from exc
    if contract.table != path.stem:
        raise ContractError(f"{path}: field 'table': must equal the file name '{path.stem}'")
    tables = code_tables()
    for col in contract.columns:
        if col.codes and col.codes not in tables:
            raise ContractError(
                f"{path}: field 'columns.{col.name}.codes': no code table '{col.codes}' "
                f"in {CATALOG_DIR / 'codes.yaml'}"
            )
    return contract


@cache
def contracts() -> dict[str, SourceContract]:
    """All source contracts by table name, in file-name order."""
    return {p.stem: load_contract(p) for p in sorted(SOURCES_DIR.glob("*.yaml"))}


def tables_of(origin: str) -> list[str]:
    """The tables whose contract says `origin: bank` (the bank's own extracts) or `origin: external`
    (routed from provider files), in file-name order."""
    return [table for table, c in contracts().items() if c.origin == origin]


def contract(table: str) -> SourceContract:
    known = contracts()
    if table not in known:
        raise ContractError(f"no source contract '{table}' (known: {', '.join(known)})")
    return known[table]
