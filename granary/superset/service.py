"""Superset's web server for this installation: initialise once, start, stop.

Superset lives in its own virtualenv (it pins SQLAlchemy 1.4); this module only runs its
executables, never imports it. Metadata lives in PostgreSQL; initialisation (migrations,
`superset init`, the admin user) runs only on a fresh metadata database or a new Superset
version, so a warm restart is just the web server boot.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests
from rich.console import Console

from granary.core.config import REPO_ROOT, settings
from granary.core.errors import EngineError
from granary.core.postgres import admin_connect, admin_dsn, ensure_database
from granary.core.processes import running_pid, stop_processes
from granary.superset import credentials

console = Console(stderr=True)

CONFIG_FILE = REPO_ROOT / "envs" / "superset" / "superset_config.py"  # runs inside Superset's venv
# A loaded 2-core machine has taken 3.5 min to boot the workers (importing Superset twice).
START_TIMEOUT_S = 600
STOP_TIMEOUT_S = 30


def venv_bin(name: str) -> Path:
    return settings().home / ".venv-superset" / "bin" / name


def run_dir() -> Path:
    return settings().run_dir / "superset"


def metadata_db() -> str:
    """Superset's metadata database, named beside the serving database it serves.

    granary_serving -> granary_superset; a test session's granary_serving_test_<pid> gets
    its own granary_superset_test_<pid>, so tests never touch an installation's Superset.
    """
    serving = settings().serving_db
    if "serving" in serving:
        return serving.replace("serving", "superset", 1)
    return f"{serving}_superset"


def metadata_uri() -> str:
    return admin_dsn(metadata_db(), driver="psycopg2")


def _port() -> int:
    return urlsplit(settings().superset_url).port or 80


def _superset_version() -> str:
    site = settings().home / ".venv-superset" / "lib"
    found = sorted(site.glob("python*/site-packages/apache_superset-*.dist-info"))
    if not found:
        raise EngineError(f"{site}: no apache-superset installed; build the superset venv (envs/superset)")
    return found[0].name.removeprefix("apache_superset-").removesuffix(".dist-info")


def cache_dir() -> Path:
    """Superset's caches on disk (superset_config.py): metadata in meta/, chart data in data/."""
    return run_dir() / f"cache.{metadata_db()}"


def clear_data_cache() -> int:
    """Drop every cached chart result (they hold bank data): each is computed again when next
    asked for (`granary superset refresh` warms them). Returns the files removed."""
    removed = 0
    for path in (cache_dir() / "data").glob("*"):
        if path.is_file():
            path.unlink()
            removed += 1
    return removed


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SUPERSET_CONFIG_PATH=str(CONFIG_FILE),
        GRANARY_SUPERSET_SECRET_KEY=credentials.secret_key(),
        GRANARY_SUPERSET_METADATA_URI=metadata_uri(),
        GRANARY_SUPERSET_CACHE_DIR=str(cache_dir()),
        FLASK_APP="superset.app:create_app()",
        PATH=f"{venv_bin('python').parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def healthy(timeout: float = 2.0) -> bool:
    try:
        return requests.get(f"{settings().superset_url}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


# --- initialisation -------------------------------------------------------------------


def _ensure_metadata_db() -> None:
    # Superset connects as the admin; a bank role has no business here (connection settings, every
    # analyst's SQL history), nor in its copy of pg_database: ensure_database leaves PUBLIC nothing.
    with admin_connect(autocommit=True) as conn:
        ensure_database(conn, metadata_db())


def _initialised_marker() -> Path:
    return run_dir() / f"initialised.{metadata_db()}"


def _is_initialised() -> bool:
    """Marker says which Superset version migrated this DB; the DB must still hold the admin."""
    marker = _initialised_marker()
    if not marker.exists() or marker.read_text().strip() != _superset_version():
        return False
    return _admin_exists()


def _admin_exists() -> bool:
    try:
        with admin_connect(metadata_db()) as conn:
            row = conn.execute(
                "select 1 from ab_user where username = %s", (credentials.ADMIN_USER,)
            ).fetchone()
    except psycopg.Error:
        return False
    return row is not None


def _superset(*args: str, log: Path) -> subprocess.CompletedProcess[str]:
    with log.open("a", encoding="utf-8") as fh:
        shown = ["***" if prev == "--password" else a for prev, a in zip(("", *args), args, strict=False)]
        fh.write(f"\n$ superset {' '.join(shown)}\n")
        fh.flush()
        done = subprocess.run(
            [str(venv_bin("superset")), *args],
            env=_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    return done


def _check(done: subprocess.CompletedProcess[str], what: str, log: Path) -> None:
    if done.returncode != 0:
        raise EngineError(f"superset {what} failed (exit {done.returncode}); see {log}:\n{_tail(log)}")


def _tail(log: Path, lines: int = 25) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def initialise() -> None:
    """Migrate the metadata DB, create default roles/permissions and the admin (idempotent)."""
    run_dir().mkdir(parents=True, exist_ok=True)
    log = run_dir() / "init.log"
    _ensure_metadata_db()
    with console.status(f"Superset: migrating metadata database {metadata_db()} (first start, ~1 min)"):
        _check(_superset("db", "upgrade", log=log), "db upgrade", log)
    with console.status("Superset: default roles and permissions"):
        _check(_superset("init", log=log), "init", log)
    password = credentials.admin_password()
    if _admin_exists():
        # An admin left from an earlier secrets dir keeps its old password: set ours.
        done = _superset(
            "fab", "reset-password", "--username", credentials.ADMIN_USER, "--password", password, log=log
        )
        _check(done, "fab reset-password", log)
    else:
        done = _superset(
            "fab",
            "create-admin",
            "--username",
            credentials.ADMIN_USER,
            "--firstname",
            "Granary",
            "--lastname",
            "Admin",
            "--email",
            "admin@granary.local",
            "--password",
            password,
            log=log,
        )
        _check(done, "fab create-admin", log)
    _initialised_marker().write_text(_superset_version() + "\n")


# --- web server -----------------------------------------------------------------------


def _pid_file() -> Path:
    return run_dir() / "gunicorn.pid"


def _running_pid() -> int | None:
    return running_pid(_pid_file())


def start() -> float:
    """Start Superset on settings().superset_url (no-op if it answers); returns seconds taken."""
    started = time.perf_counter()
    if healthy():
        console.print(f"Superset already answers at {settings().superset_url}")
        return 0.0
    if not _is_initialised():
        initialise()
    stale = _running_pid()
    if stale is not None:
        stop()
    log = run_dir() / "superset.log"
    with log.open("a", encoding="utf-8") as fh:
        proc = subprocess.Popen(
            [
                str(venv_bin("gunicorn")),
                "--bind",
                f"127.0.0.1:{_port()}",
                # 2 cores: 2 processes x 4 threads serves a dashboard's parallel chart queries.
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--limit-request-line",
                "0",
                "--limit-request-field_size",
                "0",
                "superset.app:create_app()",
            ],
            env=_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _pid_file().write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    with console.status(f"Superset: starting web server on {settings().superset_url}"):
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EngineError(
                    f"Superset exited at start (code {proc.returncode}); see {log}:\n{_tail(log)}"
                )
            if healthy():
                seconds = time.perf_counter() - started
                console.print(f"[green]✓[/] Superset ready at {settings().superset_url} in {seconds:.0f}s")
                return seconds
            time.sleep(0.5)
    stop()
    raise EngineError(
        f"Superset did not answer {settings().superset_url}/health in {START_TIMEOUT_S}s; see {log}"
    )


def stop() -> None:
    """Stop the web server started by start() (no-op if none runs)."""
    pid = _running_pid()
    if pid is None:
        _pid_file().unlink(missing_ok=True)
        return
    # gunicorn runs in its own session: signal the whole group (master and workers).
    stop_processes([pid], STOP_TIMEOUT_S, group=True)
    _pid_file().unlink(missing_ok=True)
