"""Quality suites derived from the source contracts: what DWD must hold after cleaning.

Kept free of Great Expectations imports (8–19 s) so the suites can be listed cheaply;
validate.py turns these specs into GX expectations.
"""

from __future__ import annotations

import html as html_lib
import re
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
        ExpectationSpec("ExpectTableRowCountToBeBetween", {"min_value": 0 if contract.allow_empty else 1}),
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


# --- Data Docs that read offline -------------------------------------------------------------
# GX renders its pages against Bootstrap, jQuery, Font Awesome and Vega from CDNs. The banks'
# networks (and this platform's hosts) have no internet: every <link> and <script> is dropped,
# a small inline stylesheet takes their place, and icons become characters. The pages GX builds
# per suite and per validation are static HTML and stay fully readable; the GX index (a
# JavaScript table) is replaced by a static one.

OFFLINE_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;margin:0;
 color:#1f2933;background:#fff;line-height:1.45}
.container,.container-fluid,main{padding:12px 24px}
a{color:#0b5cad} h1,h2,h3{font-weight:600} .lead{font-size:1.1em;color:#52606d}
table{border-collapse:collapse;margin:8px 0;font-size:14px} th,td{border:1px solid #d9e2ec;padding:4px 8px;
 text-align:left;vertical-align:top} th{background:#f0f4f8} tr.failed td{background:#fff1f1}
.card{border:1px solid #d9e2ec;border-radius:4px;margin:12px 0}
.card-header{background:#f0f4f8;padding:6px 10px}
.card-body{padding:8px 12px} .alert{padding:8px 12px;background:#f0f4f8;border-radius:4px}
.text-danger,.failed{color:#b42318} .text-success,.passed{color:#067647} .text-warning{color:#b54708}
.badge{display:inline-block;padding:1px 6px;border-radius:8px;background:#e4e7eb;font-size:12px}
.d-none{display:none} .sticky{position:sticky;top:0} .row{display:flex;flex-wrap:wrap;gap:16px}
.navbar,.breadcrumb{display:flex;gap:12px;align-items:center;list-style:none;padding:6px 12px;
 background:#f0f4f8;margin:0} .nav{list-style:none;padding-left:0}
.fas::before,.fa::before{font-style:normal} .fa-times::before{content:"✗";color:#b42318}
.fa-check-circle::before{content:"✓";color:#067647}
.fa-exclamation-triangle::before{content:"⚠";color:#b54708}
.fa-question-circle::before{content:"?"} .fa-comment::before{content:"💬"}
button,.btn{display:none}
"""

_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_REMOTE_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
_NEWSLETTER = re.compile(r"<p>[^<]*newsletter.*?</p>", re.IGNORECASE | re.DOTALL)
REMOTE_ASSET = re.compile(
    r"<(?:link|script|img)\b[^>]*\b(?:href|src)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE
)


def offline_html(html: str) -> str:
    """A GX page without any stylesheet, script or font from the internet, with an inline stylesheet."""
    html = _SCRIPT.sub("", _LINK.sub("", html))
    html = _NEWSLETTER.sub("", _REMOTE_IMG.sub("", html))
    style = f"<style>{OFFLINE_CSS}</style>"
    if re.search(r"</head>", html, re.IGNORECASE):
        return re.sub(r"</head>", lambda _: style + "</head>", html, count=1, flags=re.IGNORECASE)
    return style + html


@dataclass(frozen=True)
class SuitePage:
    """One suite's line in the Data Docs index."""

    table: str
    title_zh: str
    suite: str
    expectations: int
    failed: int
    rows_checked: int
    validation_href: str | None
    suite_href: str | None
    rows_in: int | None = None
    rows_quarantined: int | None = None


def docs_index_html(bank_zh: str, bank: str, dt: str, pages: list[SuitePage]) -> str:
    """The bank's Data Docs index: every table's suite, its outcome, links to the GX pages."""
    esc = html_lib.escape
    failed_suites = sum(p.failed > 0 for p in pages)
    verdict = (
        '<span class="passed">✓ 全部通过 all passed</span>'
        if not failed_suites
        else f'<span class="failed">✗ {failed_suites} 个表未通过 suites failed</span>'
    )
    lines = []
    for p in pages:
        status = '<span class="failed">✗ 未通过</span>' if p.failed else '<span class="passed">✓ 通过</span>'
        recon = "—" if p.rows_in is None else f"{p.rows_in} / {p.rows_quarantined}"
        lines.append(
            f'<tr class="{"failed" if p.failed else "passed"}"><td>{esc(p.table)}</td>'
            f"<td>{esc(p.title_zh)}</td><td>{_link(p.suite_href, esc(p.suite))}</td><td>{status}</td>"
            f"<td>{p.expectations - p.failed} / {p.expectations}</td><td>{p.rows_checked}</td>"
            f"<td>{recon}</td><td>{_link(p.validation_href, '校验结果 result')}</td></tr>"
        )
    body = "\n".join(lines)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>数据质量 {esc(bank_zh)} {esc(dt)}</title>
<style>{OFFLINE_CSS}</style></head>
<body><main>
<h1>数据质量报告 Data quality — {esc(bank_zh)} ({esc(bank)}) {esc(dt)}</h1>
<p class="lead">明细层(DWD)各表按源表契约生成的 Great Expectations 校验套件。
Great Expectations suites over the bank's DWD tables, generated from the source contracts. {verdict}</p>
<table>
<thead><tr><th>表 table</th><th>名称</th><th>校验套件 suite</th><th>结果 status</th>
<th>通过/期望 passed/expectations</th><th>校验行数 rows checked</th>
<th>入库/隔离 rows in/quarantined</th><th>明细 details</th></tr></thead>
<tbody>
{body}
</tbody></table>
<p>离线可读:无外部样式或脚本。Readable offline: no external stylesheets or scripts.</p>
</main></body></html>
"""


def _link(href: str | None, text: str) -> str:
    return f'<a href="{html_lib.escape(href)}">{text}</a>' if href else "—"
