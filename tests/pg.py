"""A throwaway PostgreSQL cluster for tests: initdb into a temporary directory, a server on
127.0.0.1 and a free port (unix sockets in that directory), stopped and removed at the end.

Use it from a session-scoped fixture:

    @pytest.fixture(scope="session")
    def postgres() -> Iterator[PostgresCluster]:
        with throwaway_postgres() as cluster:
            yield cluster

and `cluster.create_database()` per test for a clean database.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVER_USER = "postgres"  # the system user Debian's postgresql-common creates
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
USER = "doorbell"
MISSING = (
    "the PostgreSQL server (initdb, postgres, and the `postgres` user to run them as root) "
    "is not installed: run scripts/bootstrap.sh --dev"
)


def find_bindir() -> Path | None:
    """The directory of initdb/postgres/pg_isready/psql: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/*/bin (Debian installs them off PATH)."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            candidates.append(Path(out))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "postgres", "pg_isready", "psql")):
            return bindir
    return None


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())


def require_bindir() -> Path:
    """The binaries' directory. Missing: a failure under CI=true (CI must not skip), a skip
    elsewhere."""
    bindir = find_bindir()
    if bindir is None or (os.geteuid() == 0 and not _has_user(SERVER_USER)):
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return bindir


@dataclass
class PostgresCluster:
    """A running throwaway cluster. `url` is the `postgres` database over TCP with a password."""

    bindir: Path
    root: Path
    port: int
    password: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    databases: int = 0

    @property
    def socket_dir(self) -> Path:
        return self.root / "sockets"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        self.databases += 1
        name = f"test_{self.databases}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` through the unix socket (trusted, no password); its output."""
        result = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", str(self.socket_dir), "-p", str(self.port), "-U", USER, "-d", database,
             "-c", sql],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"psql {sql!r} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


def _as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: drop to the `postgres` user (setpriv execs,
    so the Popen handle is the server itself)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups", "--"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(cluster: PostgresCluster) -> None:
    assert cluster.process is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if cluster.process.poll() is not None:
            pytest.fail(f"postgres exited with {cluster.process.returncode}:\n{cluster.log_tail()}")
        ready = subprocess.run(
            [str(cluster.bindir / "pg_isready"), "-q", "-h", "127.0.0.1",
             "-p", str(cluster.port), "-t", "1"],
            check=False,
            timeout=10,
        )  # fmt: skip
        if ready.returncode == 0:
            return
        time.sleep(0.1)  # polling interval of a bounded wait
    pytest.fail(f"postgres not ready after {START_TIMEOUT_S:g}s:\n{cluster.log_tail()}")


def _stop(cluster: PostgresCluster) -> None:
    process = cluster.process
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # "fast" shutdown: disconnect clients, checkpoint, exit
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PostgresCluster]:
    """Start a cluster (skip or fail as `require_bindir` says when PostgreSQL is missing);
    stop it and delete its files on exit."""
    bindir = require_bindir()
    # Our own directory under /tmp, not pytest's tmp_path: the server user must be able to
    # reach it, and pytest's base directory is private to root.
    root = Path(tempfile.mkdtemp(prefix="doorbell-pg-"))
    cluster = PostgresCluster(bindir, root, _free_port(), secrets.token_urlsafe(16))
    try:
        cluster.socket_dir.mkdir()
        password_file = root / "password"
        password_file.write_text(cluster.password + "\n")
        if os.geteuid() == 0:
            for path in (root, cluster.socket_dir, password_file):
                shutil.chown(path, SERVER_USER, SERVER_USER)
        as_server = _as_server_user()
        initdb = subprocess.run(
            [*as_server, str(bindir / "initdb"), "-D", str(root / "data"), "-U", USER,
             f"--pwfile={password_file}", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-locale", "--no-sync"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=root,
        )  # fmt: skip
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed ({initdb.returncode}): {initdb.stderr.strip()}")
        with cluster.log.open("wb") as log:
            # Durability is pointless for a cluster deleted after the tests: skip the fsyncs.
            cluster.process = subprocess.Popen(
                [*as_server, str(bindir / "postgres"), "-D", str(root / "data"),
                 "-h", "127.0.0.1", "-p", str(cluster.port), "-k", str(cluster.socket_dir),
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=50"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
            )  # fmt: skip
        _wait_ready(cluster)
        yield cluster
    finally:
        _stop(cluster)
        shutil.rmtree(root, ignore_errors=True)
