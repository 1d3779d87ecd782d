"""Quality suites derived from the source contracts: what DWD must hold after cleaning.

Kept free of Great Expectations imports (8–19 s) so the suites can be listed cheaply;
validate.py turns these specs into GX expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from granary.catalog.sources import SourceContract, code_tables

# A clear value must never reach DWD; tokens (64 hex) and masks do not match these.
CLEAR_RESIDENT_ID = r"^\d{17}[\dXx]$"
CLEAR_PHONE = r"^1\d{10}$"
MASK_PATTERNS = {
    "resident_id": r"^\d{3}\*{11}[\dX]{4}$",
    "phone": r"^\d{3}\*{4}\d{4}$",
}


@dataclass(frozen=True)
class ExpectationSpec:
    type: str  # GX class name, e.g. ExpectColumnValuesToNotBeNull
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items() if k != "value_set")
        return f"{self.type}({args})"


def dwd_columns(contract: SourceContract) -> list[str]:
    """DWD columns: clear PII replaced by <col>_token and <col>_masked."""
    out: list[str] = []
    for col in contract.columns:
        out.extend([f"{col.name}_token", f"{col.name}_masked"] if col.pii else [col.name])
    return out


def suite_for(contract: SourceContract) -> list[ExpectationSpec]:
    specs = [
        ExpectationSpec("ExpectTableRowCountToBeBetween", {"min_value": 1}),
        ExpectationSpec(
            "ExpectTableColumnsToMatchSet", {"column_set": [*dwd_columns(contract), "_source_row"]}
        ),
    ]
    keys = contract.keys
    if len(keys) == 1:
        specs.append(ExpectationSpec("ExpectColumnValuesToBeUnique", {"column": keys[0]}))
    else:
        specs.append(ExpectationSpec("ExpectCompoundColumnsToBeUnique", {"column_list": keys}))
    tables = code_tables()
    for col in contract.columns:
        name = f"{col.name}_token" if col.pii else col.name
        if not col.nullable:
            specs.append(ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": name}))
        if col.codes:
            values = sorted(set(tables[col.codes].values.values()), key=str)
            specs.append(
                ExpectationSpec("ExpectColumnValuesToBeInSet", {"column": name, "value_set": values})
            )
        if col.range:
            low, high = col.range
            specs.append(
                ExpectationSpec(
                    "ExpectColumnValuesToBeBetween", {"column": name, "min_value": low, "max_value": high}
                )
            )
        if col.pattern and not col.pii:
            specs.append(
                ExpectationSpec("ExpectColumnValuesToMatchRegex", {"column": name, "regex": col.pattern})
            )
        if col.pii:
            masked = f"{col.name}_masked"
            if col.pii in MASK_PATTERNS:
                specs.append(
                    ExpectationSpec(
                        "ExpectColumnValuesToMatchRegex", {"column": masked, "regex": MASK_PATTERNS[col.pii]}
                    )
                )
            for column in (masked, f"{col.name}_token"):
                for regex in (CLEAR_RESIDENT_ID, CLEAR_PHONE):
                    specs.append(
                        ExpectationSpec(
                            "ExpectColumnValuesToNotMatchRegex", {"column": column, "regex": regex}
                        )
                    )
    return specs
