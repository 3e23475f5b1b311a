"""A Twilio-compatible SMS provider on loopback, and the settings that point the SMS
client at it. Nothing here talks to anything off the machine."""

import base64
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from twilio.request_validator import RequestValidator

from integrations.crm.tests.conftest import Reply

SMS_SID, SMS_TOKEN, SMS_FROM = "ACtest0000000000000000000000000000", "sms-auth-token-for-tests", "+15005550006"


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # senders that send a few requests at once (the plans' bulk texts)


class LoopbackJsonServer:
    """A threaded HTTP server on 127.0.0.1 whose requests go to ``handle(handler, body)``."""

    def __init__(self):
        self._lock = threading.Lock()
        self.replies: deque[Reply] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, headers = server.handle(self, body)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            def log_message(self, *args):
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def answer(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def next_reply(self, default: Reply) -> Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else default

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Text:
    path: str
    authorization: str
    form: dict[str, str]
    sid: str = ""


class SmsProvider(LoopbackJsonServer):
    """A Twilio-compatible Messages API on loopback: it takes a text only with the right
    basic auth and form fields, answering 201 with a new sid (or from a script)."""

    def __init__(self):
        super().__init__()
        self.texts: list[Text] = []

    def handle(self, handler, body: bytes):
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        text = Text(handler.path, handler.headers.get("Authorization", ""), form)
        self.texts.append(text)
        expected_auth = "Basic " + base64.b64encode(f"{SMS_SID}:{SMS_TOKEN}".encode()).decode()
        if handler.path != f"/2010-04-01/Accounts/{SMS_SID}/Messages.json":
            return 404, {"code": 20404, "message": "not found"}, {}
        if text.authorization != expected_auth:
            return 401, {"code": 20003, "message": "Authenticate"}, {}
        missing = [name for name in ("To", "From", "Body") if not form.get(name)]
        if missing or form["From"] != SMS_FROM:
            return 400, {"code": 21604, "message": f"missing or wrong {missing or 'From'}"}, {}
        reply = self.next_reply(Reply(201, {}))
        if reply.status != 201:
            return reply.status, reply.body, reply.headers
        text.sid = f"SM{len(self.texts):032x}"
        return 201, {"sid": text.sid, "status": "queued", "to": form["To"]}, {}


def signed_callback(client, url: str, params: dict, *, token: str = SMS_TOKEN):
    """POST a status callback to ``url`` (absolute, on SITE_URL) signed as the provider signs it."""
    signature = RequestValidator(token).compute_signature(url, params)
    path = url.split("://", 1)[1].split("/", 1)[1]
    return client.post(f"/{path}", params, HTTP_X_TWILIO_SIGNATURE=signature)


def point_sms_at(settings, server: SmsProvider) -> None:
    settings.SMS_BASE_URL = server.base_url
    settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN, settings.SMS_FROM_NUMBER = SMS_SID, SMS_TOKEN, SMS_FROM
    settings.SMS_CONNECT_TIMEOUT = settings.SMS_READ_TIMEOUT = 1.0
    settings.SITE_URL = "https://leads.example.com"


@pytest.fixture
def provider(settings):
    server = SmsProvider()
    point_sms_at(settings, server)
    yield server
    server.stop()
