"""A throwaway PostgreSQL cluster for the tests, as a department server would run one.

``initdb`` makes a cluster in a temporary folder and ``pg_ctl`` runs it on 127.0.0.1 at an unused port
(its socket in the cluster's folder), with password-less local access for the user ``medrega``. Its time
zone is not UTC (Asia/Shanghai), so that a timestamp read back in the server's zone is checked too.
PostgreSQL refuses to run as root: under root the cluster belongs to Debian's ``postgres`` user (or
``nobody``) and its programs run as that user. Skips when PostgreSQL's programs or the psycopg driver are
absent, fails under ``CI=true`` (``.ci/run`` installs both).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from app_fixtures import free_port
from conftest import IN_CI

#: Debian's layout (package postgresql): /usr/lib/postgresql/<major>/bin; MEDREGA_PG_BIN overrides.
PG_BIN = Path(os.environ.get("MEDREGA_PG_BIN") or max(Path("/usr/lib/postgresql").glob("*/bin"),
                                                      key=lambda p: int(p.parent.name), default="/nonexistent"))
USER = "medrega"
SERVER_TIMEZONE = "Asia/Shanghai"


def require_postgres() -> None:
    missing = [str(PG_BIN / tool) for tool in ("initdb", "pg_ctl", "postgres", "createdb") if not (PG_BIN / tool).exists()]
    reason = None
    if missing:
        reason = f"PostgreSQL is not installed ({', '.join(missing)} missing; Debian: postgresql)"
    elif importlib.util.find_spec("psycopg") is None:
        reason = "the PostgreSQL driver psycopg is not installed (requirements-dev.txt has it)"
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def server_account() -> pwd.struct_passwd | None:
    """Whom the server runs as: this user, or under root an unprivileged one (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither the user postgres nor nobody exists to run PostgreSQL")


class PostgresCluster:
    """One cluster (``initdb``) in its own folder, started and stopped with ``pg_ctl``."""

    def __init__(self) -> None:
        self.account = server_account()
        self.folder = Path(tempfile.mkdtemp(prefix="medrega-pg-"))
        if self.account is not None:
            os.chown(self.folder, self.account.pw_uid, self.account.pw_gid)
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self._names = itertools.count(1)

    def _run(self, tool: str, *args: str) -> None:
        as_user = {} if self.account is None else {"user": self.account.pw_uid, "group": self.account.pw_gid,
                                                   "extra_groups": []}
        done = subprocess.run([str(PG_BIN / tool), *args], cwd=self.folder, capture_output=True, text=True,
                              timeout=120, **as_user)
        if done.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}")

    def create(self) -> "PostgresCluster":
        self._run("initdb", "--pgdata", str(self.data), "--username", USER, "--auth", "trust", "--encoding", "UTF8",
                  "--no-locale", "--no-instructions")
        return self

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder} "
                   f"-c timezone={SERVER_TIMEZONE}")
        self._run("pg_ctl", "start", "--wait", "--pgdata", str(self.data), "--log", str(self.log), "-o", options)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are closed, committed data stays)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "--wait", "--pgdata", str(self.data), "--mode", "fast")

    def new_database(self) -> str:
        """An empty database of its own; its SQLAlchemy URL."""
        name = f"teaching_{next(self._names)}"
        self._run("createdb", "--host", "127.0.0.1", "--port", str(self.port), "--username", USER, name)
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{name}"

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    """A running throwaway PostgreSQL cluster for the module (each test takes a new database)."""
    require_postgres()
    cluster = PostgresCluster()
    try:
        cluster.create().start()
        yield cluster
    finally:
        cluster.remove()
