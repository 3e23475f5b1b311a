"""A RESO Web API server on loopback playing an MLS: bearer token, ``$filter`` on
ModificationTimestamp (gt / ge), ``$orderby``, ``$top``, ``$expand=Media`` and
``@odata.nextLink`` paging (by ``$skip``) over a list of records, plus faults a test
can put on a page (timeout, 500, HTML, no ``value``, a nextLink to another host,
holding a page until the test releases it)."""

import json
import re
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from integrations.feeds.tests.factories import TOKEN, TOKEN_ENV, ListingFeedFactory

_FILTER = re.compile(r"^ModificationTimestamp (gt|ge) (\S+)$")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class ResoServer:
    def __init__(self, records: list[dict] | None = None, *, token: str = TOKEN):
        self.records = list(records or [])
        self.token = token
        self.requests: list[dict[str, str]] = []  # the query of each request, plus "auth"
        self.faults: dict[int, str] = {}  # page number (1-based, by $skip) -> fault, used once
        self.fault_delay = 2.0
        self.release = threading.Event()  # a page with the "hold" fault waits for it
        self.holding = threading.Event()  # set while a page is held
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/reso/odata"

    def change(self, key: str, **fields) -> None:
        """Change a record as the MLS would (the test sets its new ModificationTimestamp)."""
        record = next(record for record in self.records if record["ListingKey"] == key)
        record.update(fields)

    def answer(self, path: str, query: dict[str, str], auth: str) -> tuple[int, str, str]:
        """(status, content type, body)."""
        with self._lock:
            self.requests.append({**query, "auth": auth})
        if auth != f"Bearer {self.token}":
            return 401, "application/json", json.dumps({"error": {"code": "401", "message": "Invalid token"}})
        if path != "/reso/odata/Property":
            return 404, "application/json", json.dumps({"error": {"message": f"No resource {path}"}})
        records = self.records
        if "$filter" in query:
            match = _FILTER.match(query["$filter"])
            if not match:
                return 400, "application/json", json.dumps({"error": {"message": "Unsupported $filter"}})
            operator, since = match[1], _moment(match[2])
            records = [
                record
                for record in records
                if (_moment(record["ModificationTimestamp"]) > since)
                or (operator == "ge" and _moment(record["ModificationTimestamp"]) == since)
            ]
        if query.get("$orderby", "").replace(" asc", "") == "ModificationTimestamp,ListingKey":
            records = sorted(records, key=lambda rec: (_moment(rec["ModificationTimestamp"]), rec["ListingKey"]))
        top, skip = int(query.get("$top", 100)), int(query.get("$skip", 0))
        page = skip // top + 1
        fault = self.faults.pop(page, None)
        if fault == "timeout":
            time.sleep(self.fault_delay)
        if fault == "hold":
            self.holding.set()
            self.release.wait(timeout=10)
        if fault == "500":
            return 500, "application/json", json.dumps({"error": {"message": "Internal error"}})
        if fault == "html":
            return 200, "text/html", "<html><body>Service temporarily unavailable</body></html>"
        chunk = [dict(record) for record in records[skip : skip + top]]
        if query.get("$expand") != "Media":
            for record in chunk:
                record.pop("Media", None)
        body: dict = {"@odata.context": "$metadata#Property", "value": chunk}
        if fault == "no_value":
            body = {"@odata.context": "$metadata#Property", "items": chunk}
        if skip + top < len(records):
            next_query = urlencode({**query, "$skip": str(skip + top)}, quote_via=quote, safe="$,:")
            host = "http://listings.elsewhere.example" if fault == "foreign_next" else self.root.rsplit("/reso", 1)[0]
            body["@odata.nextLink"] = f"{host}{path}?{next_query}"
        return 200, "application/json", json.dumps(body)

    def filters(self) -> list[str | None]:
        return [request.get("$filter") for request in self.requests]

    def start(self) -> "ResoServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
                status, content_type, body = server.answer(parts.path, query, self.headers.get("Authorization", ""))
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def reso_server():
    server = ResoServer().start()
    yield server
    server.stop()


@pytest.fixture
def feed_settings(settings, monkeypatch):
    """Short timeouts, and the token in the environment variable the feeds name."""
    settings.LISTING_FEED_CONNECT_TIMEOUT = 2
    settings.LISTING_FEED_READ_TIMEOUT = 0.5
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return settings


@pytest.fixture
def feed(db, reso_server, feed_settings):
    return ListingFeedFactory(name="main", base_url=reso_server.root)
