"""A bounded HTTP load generator: a fixed number of requests over a few connections.

Plain asyncio streams speaking HTTP/1.1, so the client spends little CPU of the
two cores it shares with the server. One connection per request, as gunicorn's
sync workers close it after each response.
"""

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None
    token: str = ""
    expect: tuple[int, ...] = (200,)
    content_type: str = "application/json"

    @classmethod
    def json(cls, method: str, path: str, payload: object, *, token: str, expect=(201,)) -> "Call":
        return cls(method, path, json.dumps(payload).encode(), token, expect)


@dataclass
class Reply:
    status: int
    body: bytes
    started: float
    finished: float

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Measurement:
    requests: int = 0
    errors: int = 0
    wall_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""
    stopped_early: bool = False

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies, 50) * 1000 if self.latencies else None

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies, 95) * 1000 if self.latencies else None

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies, 99) * 1000 if self.latencies else None

    @property
    def rps(self) -> float | None:
        return self.requests / self.wall_seconds if self.wall_seconds else None

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "rps": self.rps,
            "wall_seconds": self.wall_seconds,
            "first_error": self.first_error,
            "stopped_early": self.stopped_early,
        }


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


async def send(host: str, port: int, call: Call, *, timeout: float = 120.0) -> Reply:
    """One request on a new connection; the whole reply is read."""
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        head = [f"{call.method} {call.path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        if call.token:
            head.append(f"Authorization: Bearer {call.token}")
        if call.body is not None:
            head += [f"Content-Type: {call.content_type}", f"Content-Length: {len(call.body)}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (call.body or b""))
        await writer.drain()
        status, body = await asyncio.wait_for(_read_response(reader), timeout)
    finally:
        writer.close()
    return Reply(status, body, started, time.perf_counter())


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection without answering")
    status = int(status_line.split()[1])
    length, chunked = None, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(parts)
    if length is not None:
        return status, await reader.readexactly(length)
    return status, await reader.read()


async def _drive(
    host: str,
    port: int,
    make_call: Callable[[int], Call],
    *,
    count: int,
    concurrency: int,
    max_seconds: float,
    rate: float | None,
    on_reply: Callable[[int, Reply], None] | None,
) -> Measurement:
    result = Measurement()
    next_index = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            if time.perf_counter() > deadline:
                result.stopped_early = True
                return
            index = next_index
            next_index += 1
            if rate:  # open loop: request i is due at started + i / rate
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            call = make_call(index)
            try:
                reply = await send(host, port, call)
            except (TimeoutError, OSError, ValueError, IndexError) as exc:
                result.errors += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                continue
            result.requests += 1
            result.latencies.append(reply.seconds)
            if reply.status not in call.expect:
                result.errors += 1
                result.first_error = result.first_error or f"HTTP {reply.status}: {reply.body[:300]!r}"
            if on_reply is not None:
                on_reply(index, reply)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_seconds = time.perf_counter() - started
    return result


def drive(
    base: tuple[str, int],
    make_call: Callable[[int], Call],
    *,
    count: int,
    concurrency: int = 2,
    max_seconds: float = 60.0,
    rate: float | None = None,
    on_reply: Callable[[int, Reply], None] | None = None,
) -> Measurement:
    """Send ``count`` requests (fewer if ``max_seconds`` runs out) over ``concurrency``
    connections; with ``rate``, start them at that many per second."""
    host, port = base
    return asyncio.run(
        _drive(
            host,
            port,
            make_call,
            count=count,
            concurrency=concurrency,
            max_seconds=max_seconds,
            rate=rate,
            on_reply=on_reply,
        )
    )


def send_one(base: tuple[str, int], call: Call) -> Reply:
    return asyncio.run(send(base[0], base[1], call))
