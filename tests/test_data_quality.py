"""Data-quality results the dashboards read (ads_data_quality) and Data Docs that read offline."""

from __future__ import annotations

import json
import re

import pytest

from granary.catalog.sources import contracts
from granary.core import paths
from granary.core.postgres import admin_connect, serving_database
from granary.pipeline.suites import REMOTE_ASSET, offline_html

GX_HEAD = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="shortcut icon" href="./static/images/favicon.ico" type="image/x-icon"/>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script>$(document).ready(function() {});</script>
</head><body><img
  class="NO-CACHE" src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png"
  alt="Great Expectations"><i class="fas fa-times text-danger"></i> failed
<p>Stay current on everything GX with our newsletter <a href="https://x.io">Subscribe</a></p></body></html>"""


def test_offline_html_drops_every_remote_asset() -> None:
    assert REMOTE_ASSET.search(GX_HEAD)
    page = offline_html(GX_HEAD)
    assert not REMOTE_ASSET.search(page)
    assert "<script" not in page and "<link" not in page and "newsletter" not in page
    assert "<style>" in page and page.index("<style>") < page.index("</head>")
    assert "fa-times" in page and "failed" in page  # content kept; the icon is drawn by the inline CSS


@pytest.mark.slow
def test_data_docs_per_bank_read_offline(published_day) -> None:
    for tenant in published_day.tenants:
        docs = paths.quality_dir(tenant.code, published_day.dt) / "docs"
        index = (docs / "index.html").read_text(encoding="utf-8")
        assert tenant.name_zh in index
        for table in contracts():
            suite = f"{tenant.code}.dwd.{table}"
            assert suite in index, suite
        links = re.findall(r'href="([^"]+)"', index)
        assert len(links) == 2 * len(contracts())  # each suite's expectations and its validation result
        assert all((docs / link).is_file() for link in links), links
        pages = list(docs.rglob("*.html"))
        assert len(pages) == 1 + 2 * len(contracts())
        remote = [p for p in pages if REMOTE_ASSET.search(p.read_text(encoding="utf-8"))]
        assert not remote, remote
        assert not (docs / "static").exists()


@pytest.mark.slow
def test_published_data_quality_matches_the_gate_and_reconciliation(published_day) -> None:
    for tenant in published_day.tenants:
        results = json.loads(
            (paths.quality_dir(tenant.code, published_day.dt) / "results.json").read_text(encoding="utf-8")
        )
        with admin_connect(serving_database(tenant)) as conn:
            rows = conn.execute(
                f"""
                select dt, table_name, sum(checks), sum(checks_failed), bool_and(passed),
                       min(rows_in), min(rows_clean), min(rows_quarantined), min(rows_checked)
                from {tenant.serving_schema}.ads_data_quality group by dt, table_name order by table_name
                """
            ).fetchall()
        assert [r[1] for r in rows] == sorted(contracts())
        for dt, table, checks, failed, passed, rows_in, rows_clean, quarantined, checked in rows:
            recon = json.loads(
                paths.reconciliation_file(tenant.code, table, published_day.dt).read_text(encoding="utf-8")
            )
            assert dt == published_day.dt
            assert checks == sum(r["table_name"] == table for r in results)
            assert (failed, passed) == (0, True)  # only a day that passed its gate is published
            assert (rows_in, rows_clean, quarantined) == (
                recon["rows_in"],
                recon["rows_clean"],
                recon["rows_quarantined"],
            )
            assert rows_in == rows_clean + quarantined
            assert checked == rows_clean
