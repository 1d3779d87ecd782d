"""The resident worker (granary/stack/worker.py) behind the `granary` command (granary/cli/launch.py): a
command handed to it gives what the CLI gives in its own process (output, exit code), in the
caller's environment, and a change to the package makes it hand over to a successor."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from granary.catalog.sources import SOURCES_DIR
from granary.core import config
from granary.stack import worker

GRANARY = Path(sys.executable).with_name("granary")


@pytest.fixture(scope="module")
def own_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A worker on a run dir of its own (the session's published day has another)."""
    run_dir = tmp_path_factory.mktemp("worker-run")
    saved = os.environ.get("GRANARY_RUN_DIR")
    os.environ["GRANARY_RUN_DIR"] = str(run_dir)
    config.settings.cache_clear()
    worker.start()
    yield worker.socket_path()
    worker.stop()
    assert not worker.running() and not worker.socket_path().exists()
    if saved is None:
        os.environ.pop("GRANARY_RUN_DIR")
    else:
        os.environ["GRANARY_RUN_DIR"] = saved
    config.settings.cache_clear()


def granary(*args: str, sock: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "GRANARY_WORKER"}
    full.update(env)
    if sock:
        full["GRANARY_WORKER"] = str(sock)
    return subprocess.run([str(GRANARY), *args], env=full, capture_output=True, text=True, timeout=120)


def _log_lines(sock: Path) -> list[str]:
    return (sock.parent / "worker.log").read_text(encoding="utf-8").splitlines()


def test_a_command_gives_the_same_output_and_exit_code_through_the_worker(own_worker: Path) -> None:
    for args in (["catalog", "tags", "--json"], ["ingest", "--tenant", "nope", "--date", "2026-11-20"]):
        here, there = granary(*args), granary(*args, sock=own_worker)
        assert (there.returncode, there.stdout, there.stderr) == (here.returncode, here.stdout, here.stderr)
        assert "no worker took the command" not in there.stderr
        assert any(line.endswith(f"granary {' '.join(args)}") for line in _log_lines(own_worker)), args
    assert here.returncode == 2 and "no such bank 'nope'" in here.stderr


def test_the_command_runs_in_the_callers_environment(own_worker: Path, tmp_path: Path) -> None:
    (tmp_path / "onlybank.yaml").write_text(
        (config.REPO_ROOT / "tenants" / "hexi.yaml")
        .read_text(encoding="utf-8")
        .replace("code: hexi", "code: onlybank"),
        encoding="utf-8",
    )
    done = granary("tenants", "--json", sock=own_worker, GRANARY_TENANTS_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert '"code": "onlybank"' in done.stdout and '"code": "qingshan"' not in done.stdout


def test_no_worker_means_the_command_runs_here(tmp_path: Path) -> None:
    done = granary("catalog", "tags", "--json", sock=tmp_path / "nothing.sock")
    assert done.returncode == 0 and "no worker took the command" in done.stderr


def test_a_changed_package_is_served_by_a_successor(own_worker: Path) -> None:
    first = worker.running()
    contract = SOURCES_DIR / "branch.yaml"
    os.utime(contract)  # the package changed (a contract is part of it)
    during = granary("catalog", "tags", "--json", sock=own_worker)
    assert during.returncode == 0 and "no worker took the command" in during.stderr  # never stale
    deadline = time.monotonic() + worker.START_TIMEOUT_S
    while not (worker.running() not in (None, first) and worker.answers()):
        assert time.monotonic() < deadline, _log_lines(own_worker)[-5:]
        time.sleep(0.5)
    after = granary("catalog", "tags", "--json", sock=own_worker)
    assert after.returncode == 0 and "no worker took the command" not in after.stderr
    assert [p for p in worker._processes(own_worker) if p == first] == []  # the old one is gone
