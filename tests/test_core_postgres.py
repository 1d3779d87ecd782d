"""core.postgres: the admin DSN parsed once, never shown with its password."""

from __future__ import annotations

import pytest

from granary.core import config, postgres


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(
        "GRANARY_PG_ADMIN_DSN", "postgresql://granary_admin:s3cr-et_x@db.example:6543/postgres"
    )
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def test_admin_dsn_points_at_a_database_and_a_driver(admin):
    assert postgres.admin_dsn() == "postgresql://granary_admin:s3cr-et_x@db.example:6543/postgres"
    assert (
        postgres.admin_dsn("granary_airflow")
        == "postgresql://granary_admin:s3cr-et_x@db.example:6543/granary_airflow"
    )
    assert postgres.admin_dsn("meta", driver="psycopg2").startswith(
        "postgresql+psycopg2://granary_admin:s3cr-et_x@"
    )


def test_shown_hides_the_password(admin):
    shown = postgres.shown(postgres.admin_dsn("x"))
    assert shown == "postgresql://granary_admin:***@db.example:6543/x"
    assert "s3cr" not in shown
    assert postgres.shown("postgresql://u@h:5432/d") == "postgresql://u@h:5432/d"


def test_an_unreachable_server_is_named_without_the_password(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRANARY_PG_ADMIN_DSN", "postgresql://granary_admin:s3cr-et_x@127.0.0.1:1/postgres")
    config.settings.cache_clear()
    try:
        with pytest.raises(postgres.EngineError) as caught:
            postgres.admin_connect(connect_timeout=2)
    finally:
        config.settings.cache_clear()
    assert "s3cr" not in str(caught.value) and "granary_admin:***@127.0.0.1:1" in str(caught.value)
