"""The Redis cache behind a circuit breaker (leadmgmt.redis_breaker), against a
redis-server of the test's own that is killed and started again, and a port that
never answers."""

import time

import pytest
from django.core.cache import cache

from leadmgmt.redis_breaker import CircuitBreaker
from leadmgmt.tests.processes import RedisServer, SilentServer
from leads.tests.api_assertions import LEADS_URL, lead_url
from leads.tests.factories import LeadFactory

OPEN_SECONDS = 3.0


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    yield server
    server.kill()


def use_redis_cache(settings, url: str, *, socket_timeout: float = 0.5) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "leadmgmt.redis_breaker.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "socket_connect_timeout": socket_timeout,
                "socket_timeout": socket_timeout,
                "circuit_open_seconds": OPEN_SECONDS,
            },
        }
    }


@pytest.mark.redis
def test_the_cache_skips_redis_after_a_failure_then_tries_again_and_recovers(settings, redis_server):
    # given the cache on a live Redis
    use_redis_cache(settings, redis_server.url)
    cache.set("before", 1)
    assert cache.get("before") == 1
    assert redis_server.client().dbsize() == 1

    # when Redis dies, reads are misses and writes do nothing, without an error
    redis_server.kill()
    failed_at = time.monotonic()
    assert cache.get("before") is None
    cache.set("while-down", 2)
    assert cache.add("added-while-down", 3) is False
    with pytest.raises(ValueError):
        cache.incr("before")

    # and once Redis is back, the circuit is still open: the cache does not call it yet
    redis_server.start()
    cache.set("circuit-open", 4)
    assert cache.get_or_set("circuit-open-too", 5) == 5
    assert time.monotonic() - failed_at < OPEN_SECONDS, "the restart took longer than the circuit stays open"
    assert redis_server.client().dbsize() == 0

    # then after OPEN_SECONDS one call goes through, and the cache works again
    time.sleep(OPEN_SECONDS - (time.monotonic() - failed_at) + 0.1)
    cache.set("after", 6)
    assert cache.get("after") == 6
    assert cache.incr("after") == 7
    assert redis_server.client().dbsize() == 1


@pytest.mark.redis
def test_a_redis_that_never_answers_costs_one_timeout_then_nothing(settings):
    # given a cache whose Redis accepts connections and never answers
    silent = SilentServer()
    use_redis_cache(settings, silent.url, socket_timeout=0.2)
    try:
        # when the cache is read, the first read waits for the socket timeout and misses
        started = time.monotonic()
        assert cache.get("key") is None
        first = time.monotonic() - started
        # then the next ones skip Redis while the circuit is open
        started = time.monotonic()
        for _ in range(20):
            assert cache.get("key", "default") == "default"
            cache.set("key", "value")
        others = time.monotonic() - started
    finally:
        silent.close()

    assert 0.2 <= first < 1.5
    assert others < 0.1


@pytest.mark.redis
@pytest.mark.django_db
def test_with_the_cache_down_the_api_writes_and_reads_without_rate_limit_headers(
    settings, redis_server, api_client, agent
):
    # given the production cache on a Redis that has died
    use_redis_cache(settings, redis_server.url)
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    assert "X-RateLimit-Limit" in client.get(lead_url(lead.public_id))
    redis_server.kill()

    # when an agent updates the lead, logs a call and sends a batch
    patched = client.patch(lead_url(lead.public_id), {"status": "contacted"}, format="json")
    called = client.post(lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "Hi"}, format="json")
    batch = client.post(
        f"{LEADS_URL}/batch",
        {"leads": [{"contact": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}}]},
        format="json",
    )
    read = client.get(lead_url(lead.public_id))

    # then every write answers as usual (the rate limit lets it through: no budget headers)
    assert [patched.status_code, called.status_code, batch.status_code] == [200, 201, 200]
    assert all("X-RateLimit-Limit" not in response for response in (patched, called, batch))
    # and the read is the lead as now stored, from the database
    assert read.status_code == 200
    assert read.json()["lead"]["status"] == "contacted"
    assert len(read.json()["lead"]["interactions"]) == 1


def test_half_open_lets_one_trial_call_through_and_its_outcome_decides():
    now = [100.0]
    breaker = CircuitBreaker("test", open_seconds=5, clock=lambda: now[0])
    assert breaker.allows()

    breaker.failed(ConnectionError("down"))
    assert not breaker.allows()
    now[0] += 4.9
    assert not breaker.allows()

    now[0] += 0.2  # half-open: one caller makes the trial, the others keep skipping
    assert breaker.allows()
    assert not breaker.allows()
    breaker.failed(ConnectionError("still down"))
    assert breaker.is_open
    now[0] += 5.1
    assert breaker.allows()
    breaker.succeeded()
    assert not breaker.is_open
    assert breaker.allows() and breaker.allows()
