"""The processes under test: gunicorn (the app or the floor) and Celery workers."""

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.databases import ROOT

LOG_DIR = ROOT / "artifacts" / "bench"
GUNICORN_WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_redis_url(database: int) -> str:
    """A Redis database of the bench's own on the configured (or local) server."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return urlunsplit(urlsplit(base)._replace(path=f"/{database}"))


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


def app_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """Production settings with DEBUG off, on loopback over plain HTTP."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadmgmt.settings_production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SITE_URL": "http://127.0.0.1:8000",  # production settings refuse to start without one
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        # The load generator drives one token far past a normal integration's budget;
        # the budget is still counted (its cost is part of every request).
        "API_RATE_LIMIT": "100000000/m",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


class Process:
    def __init__(self, name: str, command: list[str], env: dict[str, str]):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log_tail(self, chars: int = 3000) -> str:
        return Path(self.log_path).read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


class Gunicorn(Process):
    def __init__(self, name: str, wsgi_app: str, env: dict[str, str], *, workers: int = GUNICORN_WORKERS):
        self.port = free_port()
        super().__init__(
            name,
            [
                sys.executable,
                "-m",
                "gunicorn",
                wsgi_app,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
                "--backlog",
                "256",
            ],
            env,
        )
        self.address = ("127.0.0.1", self.port)
        self._wait_until_serving()

    def _wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                with socket.create_connection(self.address, timeout=1) as sock:
                    sock.sendall(b"GET /bench-ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if sock.recv(16).startswith(b"HTTP/"):
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start within {timeout} s:\n{self.log_tail()}")


class CeleryWorker(Process):
    """A Celery worker; ``queues`` (-Q) limits it to those, ``nice`` lowers its CPU priority
    (the after-save worker beside the urgent one, as deploy/systemd runs them)."""

    def __init__(self, name: str, env: dict[str, str], *, processes: int, queues: str = "", nice: int = 0):
        super().__init__(
            name,
            [
                *(["nice", "-n", str(nice)] if nice else []),
                sys.executable,
                "-m",
                "celery",
                "-A",
                "leadmgmt",
                "worker",
                "--pool=prefork",
                f"--concurrency={processes}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"bench-{uuid.uuid4().hex[:8]}@%h",
                *(["-Q", queues] if queues else []),
            ],
            env,
        )
        if nice:
            # Each bench process runs in a session of its own, and with the kernel's
            # autogroup scheduling a session's nice only orders its own processes: the
            # group shares the CPU equally with the others (the urgent worker's four
            # processes got as much as this one). The group's nice is what lowers it,
            # as CPUWeight= does for the systemd unit.
            with contextlib.suppress(OSError):  # no autogroup scheduling: the process nice is enough
                Path(f"/proc/{self.popen.pid}/autogroup").write_text(str(nice))


class RedisServer(Process):
    """A redis-server of the bench's own, without persistence, that can be killed like a
    crash without touching the Redis other runs share. None from ``start`` when
    redis-server is not installed."""

    @classmethod
    def start(cls, name: str) -> "RedisServer | None":
        binary = shutil.which("redis-server")
        return cls(name, binary) if binary else None

    def __init__(self, name: str, binary: str):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        super().__init__(name, command, dict(os.environ))
        deadline = time.monotonic() + 10
        while not redis_reachable(self.url):
            if time.monotonic() > deadline or self.popen.poll() is not None:
                raise RuntimeError(f"{name} did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
