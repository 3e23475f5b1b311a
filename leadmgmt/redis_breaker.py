"""Calls to Redis that fail fast and then stop trying for a while (a circuit breaker).

Redis is a helper here, never the record: the cache, the rate-limit counters and the
Celery broker can all be down without losing a write (the outbox rows in PostgreSQL
are the record, and the sweepers re-send). So a request must not wait on it. Short
socket timeouts bound a single call (settings: REDIS_SOCKET_TIMEOUT); after a call
fails the circuit *opens* and every call skips Redis for ``open_seconds``
(REDIS_CIRCUIT_OPEN_SECONDS); then one call is let through (*half-open*): if it
succeeds the circuit closes, if it fails it opens again.

``CircuitBreaker`` holds that state, one per Redis server and process, shared by the
process's threads. ``RedisCache`` is Django's Redis cache with the breaker in front:
while the circuit is open (or when a call fails) a read is a miss and a write does
nothing, the way a cache that lost its data would answer. The Celery publish has a
breaker of its own (``leadmgmt.broker``).
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# The errors that mean "Redis cannot be reached now". Others (a wrong command, a
# full memory) come from a server that answered, and are raised as they are.
UNREACHABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
DEFAULT_OPEN_SECONDS = 5.0


class CircuitBreaker:
    """Whether to call a server now, from how the last calls went.

    ``allows()`` says whether to call; the caller then reports ``succeeded()`` or
    ``failed(error)``. Thread-safe; ``clock`` is ``time.monotonic``.
    """

    def __init__(self, name: str, *, open_seconds: float = DEFAULT_OPEN_SECONDS, clock=time.monotonic):
        self.name = name
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed

    @property
    def is_open(self) -> bool:
        """True while calls are being skipped (half-open trials aside)."""
        with self._lock:
            return self._open_until is not None and self._clock() < self._open_until

    def allows(self) -> bool:
        """True when the circuit is closed, or when a trial call is due (half-open):
        that caller makes the trial, and the others keep skipping until it reports."""
        with self._lock:
            if self._open_until is None:
                return True
            now = self._clock()
            if now < self._open_until:
                return False
            self._open_until = now + self.open_seconds
            return True

    def succeeded(self) -> None:
        with self._lock:
            was_open, self._open_until = self._open_until is not None, None
        if was_open:
            logger.info("%s reachable again: calls resume", self.name)

    def failed(self, error: BaseException) -> None:
        with self._lock:
            was_closed = self._open_until is None
            self._open_until = self._clock() + self.open_seconds
        if was_closed:
            logger.warning("%s unreachable (%s): skipping it for %g s", self.name, error, self.open_seconds)

    def call(self, function: Callable[..., Any], *args, fallback: Callable[[], Any]) -> Any:
        """``function(*args)``, or ``fallback()`` when the circuit is open or Redis
        cannot be reached (the failure opens it). Returns what either one returns."""
        if not self.allows():
            return fallback()
        try:
            result = function(*args)
        except UNREACHABLE_ERRORS as error:
            self.failed(error)
            return fallback()
        except Exception:
            self.succeeded()  # the server answered, with an error of another kind
            raise
        self.succeeded()
        return result


_breakers: dict[str, CircuitBreaker] = {}
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*):[^@\s]*@")
_breakers_lock = threading.Lock()


def breaker_for(name: str, *, open_seconds: float = DEFAULT_OPEN_SECONDS) -> CircuitBreaker:
    """The process's breaker called ``name`` (one per server: the name holds its URL,
    which is logged without its password), made on first use."""
    name = _PASSWORD_IN_URL.sub(r"\1:**@", name)
    with _breakers_lock:
        breaker = _breakers.get(name)
        if breaker is None:
            breaker = _breakers[name] = CircuitBreaker(name, open_seconds=open_seconds)
        return breaker


def _key_missing(key):
    def fallback():
        raise ValueError(f"Key '{key}' not found.")  # what Django's caches say for incr of a missing key

    return fallback


class BreakerRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client; every call goes through the server's breaker and
    answers as a miss (reads) or does nothing (writes) when Redis is down."""

    def __init__(self, servers, *, circuit_open_seconds: float = DEFAULT_OPEN_SECONDS, **options):
        super().__init__(servers, **options)
        self._breaker = breaker_for(f"Redis cache {servers[0]}", open_seconds=circuit_open_seconds)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write=False):
        """One ``redis.Redis`` per connection pool, made on first use: Django makes one per
        call, and building its table of reply parsers was ~5% of an API read's CPU (three
        cache calls a request). A client is thread-safe over its pool."""
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def _call(self, method: Callable[..., Any], *args, fallback: Callable[[], Any]) -> Any:
        return self._breaker.call(method, *args, fallback=fallback)

    def add(self, key, value, timeout):
        return self._call(super().add, key, value, timeout, fallback=lambda: False)

    def get(self, key, default):
        return self._call(super().get, key, default, fallback=lambda: default)

    def set(self, key, value, timeout):
        return self._call(super().set, key, value, timeout, fallback=lambda: None)

    def touch(self, key, timeout):
        return self._call(super().touch, key, timeout, fallback=lambda: False)

    def delete(self, key):
        return self._call(super().delete, key, fallback=lambda: False)

    def get_many(self, keys):
        return self._call(super().get_many, keys, fallback=dict)

    def has_key(self, key):
        return self._call(super().has_key, key, fallback=lambda: False)

    def incr(self, key, delta):
        return self._call(super().incr, key, delta, fallback=_key_missing(key))

    def set_many(self, data, timeout):
        return self._call(super().set_many, data, timeout, fallback=lambda: None)

    def delete_many(self, keys):
        return self._call(super().delete_many, keys, fallback=lambda: None)

    def clear(self):
        return self._call(super().clear, fallback=lambda: False)


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` behind a circuit breaker.

    OPTIONS take ``circuit_open_seconds`` besides redis-py's connection options
    (``socket_connect_timeout``, ``socket_timeout``, ...).
    """

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = BreakerRedisCacheClient
