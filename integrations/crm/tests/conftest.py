"""Real HTTP servers on loopback playing the CRM targets, and the settings that
point the sync at them. Nothing here talks to anything off the machine."""

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from leadmgmt.celery import app as celery_app

WEBHOOK_SECRET = "test-webhook-secret"
HUBSPOT_TOKEN = "pat-test-token"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: dict | str = field(default_factory=lambda: {"ok": True})
    delay: float = 0.0
    headers: dict = field(default_factory=dict)
    before: Callable[[], None] | None = None  # runs in the server thread before it answers


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self):
        return json.loads(self.body)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port) that records each request and
    answers from a script of replies (200 once the script is used up)."""

    def __init__(self):
        self.received: list[Received] = []
        self.replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def answer(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next_reply(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            return self.replies.popleft() if self.replies else Reply()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                reply = server._next_reply(request)
                if reply.before is not None:
                    reply.before()
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body.encode())))
                    self.end_headers()
                    self.wfile.write(body.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            do_POST = do_PATCH = do_PUT = do_GET = _serve

            def log_message(self, *args):
                pass

        return Handler


def signature_problems(request: Received, *, secret: str = WEBHOOK_SECRET, max_age: int = 300) -> list[str]:
    """What a careful webhook receiver would object to; [] when the request is genuine."""
    problems = []
    timestamp = request.headers.get("x-leads-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > max_age:
        problems.append(f"stale or missing timestamp {timestamp!r}")
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    expected = f"sha256={digest}"
    if not hmac.compare_digest(request.headers.get("x-leads-signature", ""), expected):
        problems.append("signature does not match")
    return problems


@pytest.fixture
def webhook_server():
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def webhook_target(webhook_server):
    """The webhook is the only CRM target, pointed at the loopback server, with short timeouts."""
    with override_settings(
        CRM_TARGETS=["webhook"],
        CRM_WEBHOOK_URL=f"{webhook_server.base_url}/hooks/leads",
        CRM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        CRM_WEBHOOK_CONNECT_TIMEOUT=1.0,
        CRM_WEBHOOK_READ_TIMEOUT=0.5,
        CRM_SYNC_MAX_ATTEMPTS=4,
        CRM_SYNC_BACKOFF_SECONDS=30,
        CRM_SYNC_BACKOFF_MAX_SECONDS=3600,
    ):
        yield webhook_server


@pytest.fixture
def hubspot_server():
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def hubspot_target(hubspot_server):
    """HubSpot is the only CRM target, its API played by the loopback server."""
    with override_settings(
        CRM_TARGETS=["hubspot"],
        HUBSPOT_BASE_URL=hubspot_server.base_url,
        HUBSPOT_ACCESS_TOKEN=HUBSPOT_TOKEN,
        HUBSPOT_CONNECT_TIMEOUT=1.0,
        HUBSPOT_READ_TIMEOUT=0.5,
    ):
        yield hubspot_server


@pytest.fixture
def no_crm_configured():
    with override_settings(CRM_WEBHOOK_URL="", CRM_WEBHOOK_SECRET="", HUBSPOT_ACCESS_TOKEN=""):
        yield


@pytest.fixture
def celery_eager():
    """Tasks run in-process when queued, whatever broker this test run has."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
