"""The Celery broker going away (leadmgmt.broker): the transport a worker survives it
with, and a publish that fails fast and skips the broker for a while."""

import time
from queue import Empty

import pytest
from kombu import Connection
from kombu.common import ignore_errors
from kombu.exceptions import OperationalError

from integrations.tasks import process_lead_jobs
from leadmgmt.celery import app
from leadmgmt.tests.processes import RedisServer, SilentServer

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    yield server
    server.kill()


def lose_redis_with_a_message_unacknowledged(server: RedisServer, transport: str | None):
    """What a worker goes through when Redis dies while a task with acks_late runs:
    a message taken and not yet acknowledged on the default channel, a BRPOP waiting
    on another channel, then Celery's cleanup: ``collect()`` and ``close()`` under
    ``ignore_errors``. Returns what the close raised (None: nothing)."""
    connection = Connection(server.url, transport=transport)
    queue = connection.SimpleQueue("running")
    queue.put({"task": 1})
    queue.get(timeout=2)  # taken, not acknowledged
    other = connection.SimpleQueue("waiting", channel=connection.channel())
    with pytest.raises(Empty):
        other.get(timeout=0.05)
    server.kill()
    connection.collect(socket_timeout=1)
    try:
        ignore_errors(connection, connection.close)
    except Exception as error:
        return error
    return None


def test_a_worker_losing_redis_with_a_task_running_closes_its_connection_cleanly(redis_server):
    assert lose_redis_with_a_message_unacknowledged(redis_server, "leadmgmt.broker:Transport") is None


def test_kombus_own_redis_transport_still_has_the_defect_worked_around(redis_server):
    # If this fails, kombu fixed it: leadmgmt.broker.Transport (and this test) can go.
    error = lose_redis_with_a_message_unacknowledged(redis_server, None)

    assert isinstance(error, AttributeError) and "hostname" in str(error)


@pytest.fixture
def publish_to():
    """Publish for real (not in-process) to the broker URL given; restores the app after."""
    conf = app.conf
    saved = {"task_always_eager": conf.task_always_eager, "broker_url": conf.broker_url}

    def point_at(url: str) -> None:
        conf.update(task_always_eager=False, broker_url=url)
        _forget_broker_connections()

    yield point_at
    conf.update(**saved)
    _forget_broker_connections()


def _forget_broker_connections() -> None:
    app._pool = None
    app.amqp._producer_pool = None


def queued(server: RedisServer) -> int:
    """Messages waiting in the default queue, at every priority step (one Redis list each)."""
    client = server.client()
    return sum(client.llen(key) for key in client.keys(f"{app.conf.task_default_queue}*"))


def publish() -> float:
    """Send a (harmless) pipeline task; returns the seconds the publish took, raising what it raised."""
    started = time.monotonic()
    process_lead_jobs.apply_async(args=[[]], retry=False)
    return time.monotonic() - started


def test_a_publish_to_a_broker_that_never_answers_fails_within_the_timeout_then_at_once(publish_to):
    # given a broker that accepts connections and never answers
    silent = SilentServer()
    publish_to(silent.url)
    try:
        # when a save publishes its job, it fails after the socket timeout (not kombu's retries)
        started = time.monotonic()
        with pytest.raises(OperationalError):
            publish()
        first = time.monotonic() - started
        # then the next publishes fail at once: the circuit is open
        started = time.monotonic()
        for _ in range(10):
            with pytest.raises(OperationalError):
                publish()
        others = time.monotonic() - started
    finally:
        silent.close()

    assert first < 2
    assert others < 0.1


def test_a_publish_skips_a_broker_that_just_failed_then_sends_again_once_the_circuit_half_opens(
    settings, publish_to, redis_server
):
    settings.REDIS_CIRCUIT_OPEN_SECONDS = 2
    publish_to(redis_server.url)
    publish()
    assert queued(redis_server) == 1

    # when Redis dies, a publish fails fast
    redis_server.kill()
    failed_at = time.monotonic()
    with pytest.raises(OperationalError):
        publish()
    assert time.monotonic() - failed_at < 1

    # and while the circuit is open, it is not sent even though Redis is back
    redis_server.start()
    with pytest.raises(OperationalError, match="unreachable less than"):
        publish()
    assert queued(redis_server) == 0

    # then once the circuit half-opens, publishes reach Redis again
    time.sleep(max(0, 2.1 - (time.monotonic() - failed_at)))
    publish()
    publish()
    assert queued(redis_server) == 2


def test_the_relay_routing_and_alerts_jump_the_queue_of_after_save_work(publish_to, redis_server):
    from integrations.alerts.tasks import deliver_alert
    from integrations.routing.tasks import route_leads
    from leads.events.tasks import relay_lead_events

    # given a backlog of after-save work, then a new lead's relay, route and push
    publish_to(redis_server.url)
    for _ in range(3):
        publish()
    relay_lead_events.apply_async(args=[[1]], retry=False)
    route_leads.apply_async(args=[[1]], retry=False)
    deliver_alert.apply_async(args=[1], retry=False)

    # then a worker takes those three first, in the order they were sent, and the backlog after
    with Connection(redis_server.url, transport="leadmgmt.broker:Transport") as connection:
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        taken = []
        for _ in range(6):
            message = queue.get(timeout=2)
            taken.append(message.headers["task"])
            message.ack()
    assert taken == [
        "leads.relay_lead_events",
        route_leads.name,
        deliver_alert.name,
        *[process_lead_jobs.name] * 3,
    ]
