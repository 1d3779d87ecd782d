"""Shared fixtures. Slow fixtures start real services once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from granary.core import config

ARTIFACTS = Path(__file__).parent / "artifacts"
# Session fixtures that run a real day (day_fixtures) and a real Superset (serving_fixture).
pytest_plugins = ["day_fixtures", "serving_fixture"]


@pytest.fixture(scope="session")
def granary_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An isolated data root and secrets dir for the test session (the repo's data is untouched)."""
    root = tmp_path_factory.mktemp("granary")
    saved = dict(os.environ)
    # The installation's admin login (`make setup` wrote it to the real secrets dir) stays the
    # one the tests connect with: carried in the environment, so subprocesses get it too.
    os.environ["GRANARY_PG_ADMIN_DSN"] = config.settings().pg_admin_dsn
    os.environ["GRANARY_DATA"] = str(root)
    os.environ["GRANARY_SECRETS_DIR"] = str(root / "secrets")
    os.environ["GRANARY_RUN_DIR"] = str(root / "run")
    # The lake catalog's database and role are cluster-wide: the session's own, dropped after.
    os.environ["GRANARY_LAKE_CATALOG"] = f"granary_lakehouse_test_{os.getpid()}"
    config.settings.cache_clear()
    from granary.lake import iceberg

    iceberg.ensure_catalog()
    yield root

    iceberg.drop_catalog()
    os.environ.clear()
    os.environ.update(saved)
    config.settings.cache_clear()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# --- Spark Connect (granary.pipeline.spark) -------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def spark_remote(granary_env: Path) -> Iterator[str]:
    """A real Spark Connect server for the session: GRANARY_SPARK_REMOTE if one answers there,
    else one started on a free port (and stopped at the end; only that one)."""
    from granary.pipeline import spark
    from granary.stack import spark_server

    if not (os.environ.get("GRANARY_SPARK_REMOTE") and spark.server_answers()):
        os.environ["GRANARY_SPARK_REMOTE"] = f"sc://127.0.0.1:{_free_port()}"
        config.settings.cache_clear()
    started_here = not spark.server_answers()
    spark_server.start_connect_server()
    yield config.settings().spark_remote
    # Close the client first: at exit it would otherwise retry RPCs to a stopped server for minutes.
    spark.close_client_session()
    if started_here:
        spark_server.stop_connect_server()


@pytest.fixture
def spark(spark_remote: str):
    """A Spark Connect client session on the session's server."""
    from granary.pipeline.spark import get_session

    return get_session()
