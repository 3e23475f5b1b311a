"""Real processes for end-to-end tests: a redis-server of the test's own, and gunicorn
plus a Celery worker running against a database and a queue of their own.

Used by ``integrations/tests/test_worker_e2e.py`` (the shared Redis) and by the
Redis outage tests (a redis-server they kill and restart).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
import requests

from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
ARTIFACTS = ROOT / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared_redis_url(database: int) -> str:
    """Database ``database`` of the configured (or local) Redis; skips (fails under CI)
    when that Redis does not answer."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    url = urlunsplit(urlsplit(base)._replace(path=f"/{database}", query="", fragment=""))
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    return url


class RedisServer:
    """A redis-server of the test's own on a spare loopback port, without persistence:
    ``kill()`` is a crash that loses every key, and ``start()`` brings it back empty on
    the same port."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            skip_or_fail("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)


class SilentServer:
    """A port that accepts TCP connections and never answers: a hung Redis, or one
    behind a network that drops the traffic."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)  # the kernel completes the handshakes; nothing reads
        self.url = f"redis://127.0.0.1:{self._socket.getsockname()[1]}/0"

    def close(self) -> None:
        self._socket.close()


@contextmanager
def own_database(directory: Path) -> Iterator[str]:
    """A fresh database for a stack: a new PostgreSQL database in the PostgreSQL pass
    (dropped afterwards), a SQLite file in ``directory`` otherwise. Yields its URL."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgres"):
        yield f"sqlite:///{directory / 'stack.sqlite3'}"
        return
    import psycopg

    name = f"leadmgmt_e2e_{uuid.uuid4().hex[:8]}"
    admin_url = urlunsplit(urlsplit(configured)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(configured)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Stack:
    """The app's processes on one database and Redis: ``manage()`` runs a command,
    ``serve()`` starts gunicorn, ``start_worker()`` a Celery worker. Logs go to
    artifacts/<name>-<n>.log."""

    def __init__(self, name: str, database_url: str, redis_url: str, **env: str):
        self.name = name
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "leadmgmt.settings",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "PYTHONUNBUFFERED": "1",
            # A queue of our own: other test runs sharing this Redis never take our tasks.
            "CELERY_QUEUE": f"{name}-{uuid.uuid4().hex[:10]}",
            **env,
        }
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        ARTIFACTS.mkdir(exist_ok=True)

    def manage(self, *args: str, **env: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}"
        return result.stdout

    def set_up_agent(self, username: str = "e2e_agent") -> str:
        """Migrate, seed the market demo, create an agent; returns the agent's API token."""
        self.manage("migrate", "--noinput")
        self.manage("seed_market_demo")
        self.manage("create_agent", username, "--password", f"{username}-pass")
        return self.manage("api_token", username).strip().splitlines()[-1]

    def serve(self, *, workers: int = 1, **env: str) -> str:
        """Start gunicorn; returns its base URL once it answers."""
        port = free_port()
        command = [PYTHON, "-m", "gunicorn", "leadmgmt.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
        self._spawn([*command, "--timeout", "60"], env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/api/v2/leads", timeout=10)
                return base
            except requests.RequestException:  # not listening yet, or still booting
                time.sleep(0.2)
        raise AssertionError("gunicorn did not start")

    def start_worker(self, *options: str, **env: str) -> subprocess.Popen:
        default = ("--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat")
        command = [PYTHON, "-m", "celery", "-A", "leadmgmt", "worker", "--loglevel=INFO"]
        return self._spawn([*command, *(options or default), "-n", f"{self.name}-{uuid.uuid4().hex[:6]}@%h"], env)

    def log_text(self, process: subprocess.Popen) -> str:
        return self.logs[self.processes.index(process)].read_text(errors="replace")

    def _spawn(self, command: list[str], env: dict) -> subprocess.Popen:
        path = ARTIFACTS / f"{self.name}-{len(self.processes)}.log"
        with open(path, "w") as log:
            process = subprocess.Popen(command, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self.logs.append(path)
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def postgres_connections(pid: int) -> set[int]:
    """The local ports of the TCP connections to PostgreSQL (port 5432) that process
    ``pid`` holds open (Linux: its socket descriptors matched in /proc/<pid>/net/tcp)."""
    sockets = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            sockets.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in sockets and remote.endswith(":1538") and state == "01":  # 5432, ESTABLISHED
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def wait_for_processing(base: str, token: str, lead_id: str, timeout: float = 30) -> dict:
    """The lead as the API shows it once its processing is no longer pending (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        lead = requests.get(
            f"{base}/api/v2/leads/{lead_id}", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).json()["lead"]
        if lead["processing"]["status"] != "pending" or time.monotonic() > deadline:
            return lead
        time.sleep(0.25)
