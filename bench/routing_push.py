"""Save -> routed -> push delivered (issue 11): leads created through the API (gunicorn,
production settings) at a steady rate by a manager, unassigned, on PostgreSQL + Redis
with a real Celery worker: the lead events' relay, the routing task, the assignment's
alert and its web push, to a push service on loopback that checks each push's VAPID
signature and decrypts it (RFC 8291) with the agent's browser key, as in the alerts'
tests. Latency: the create's answer -> the push for that lead received, p50 / p95."""

import threading
import time

from bench import loadgen, servers
from bench.loadgen import Call, percentile

# As deploy/systemd/leadmgmt-worker-urgent.service runs it (--concurrency=4).
URGENT_PROCESSES = 4


def _push_service_class():
    from integrations.alerts.tests.conftest import PushService

    class TimedPushService(PushService):
        """Records when the first push about each lead arrived."""

        def __init__(self, vapid_public_key: str):
            super().__init__(vapid_public_key)
            self.first_push_at: dict[str, float] = {}
            self._seen = threading.Lock()

        def handle(self, handler, body: bytes):
            answer = super().handle(handler, body)
            if self.pushes:
                with self._seen:
                    for push in self.pushes[-5:]:
                        lead_id = push.payload.get("lead_id")
                        if lead_id and lead_id not in self.first_push_at:
                            self.first_push_at[lead_id] = time.perf_counter()
            return answer

    return TimedPushService


def subscribe_agents(agents, push_service) -> None:
    """One browser per agent, subscribed on the loopback push service."""
    from integrations.alerts.models import PushSubscription

    PushSubscription.objects.bulk_create(
        PushSubscription(
            user=agent,
            endpoint=(browser := push_service.browser()).endpoint,
            p256dh=browser.subscription_json()["keys"]["p256dh"],
            auth=browser.subscription_json()["keys"]["auth"],
            user_agent="bench browser",
        )
        for agent in agents
    )


def push_environment(keys) -> dict[str, str]:
    """The app's web-push settings for the loopback push service (VAPID ``keys``)."""
    return {
        "WEBPUSH_VAPID_PRIVATE_KEY": keys.private_key,
        "WEBPUSH_VAPID_PUBLIC_KEY": keys.public_key,
        "WEBPUSH_VAPID_SUBJECT": "mailto:bench@leads.example.com",
        "WEBPUSH_ALLOW_PRIVATE_ENDPOINTS": "true",
    }


def lead_payload(index: int, tag: str) -> dict:
    sources = ["zillow", "realtor_com", "referral", "website", "open_house", "social_media"]
    return {
        "contact": {"first_name": "Push", "last_name": str(index), "email": f"push.{tag}.{index}@bench.example"},
        "lead_type": "buyer",
        "source": sources[index % len(sources)],
        "preferences": {"min_price": 200000, "max_price": 450000, "preferred_locations": ["Austin"]},
        "timeline": {"urgency_level": "high"},
    }


def stages(lead_ids: list[str]) -> dict:
    """Where the time went, from the rows' own timestamps (p50 / p95 seconds): the save to
    the routing decision (the events' relay and the routing task waiting in the queue),
    the decision to the alert (the assignment's relay), the alert to its push delivered
    (the delivery task's wait and the push itself)."""
    from integrations.alerts.models import AlertDelivery
    from integrations.routing.models import RoutingDecision, RoutingTrigger
    from leads.models import Lead

    created = dict(Lead.objects.filter(public_id__in=lead_ids).values_list("pk", "created_at"))
    decided = dict(
        RoutingDecision.objects.filter(lead_id__in=created, trigger=RoutingTrigger.ARRIVAL).values_list(
            "lead_id", "created_at"
        )
    )
    alerted, delivered = {}, {}
    for lead_pk, alert_at, delivered_at in AlertDelivery.objects.filter(
        alert__lead_id__in=created, channel="push", delivered_at__isnull=False
    ).values_list("alert__lead_id", "alert__created_at", "delivered_at"):
        alerted.setdefault(lead_pk, alert_at)
        delivered.setdefault(lead_pk, delivered_at)

    def spread(pairs) -> dict:
        seconds = [(end - start).total_seconds() for start, end in pairs]
        return {"p50": percentile(seconds, 50), "p95": percentile(seconds, 95)} if seconds else {}

    return {
        "save_to_routed": spread((created[pk], decided[pk]) for pk in decided),
        "routed_to_alert": spread((decided[pk], alerted[pk]) for pk in alerted if pk in decided),
        "alert_to_push": spread((alerted[pk], delivered[pk]) for pk in delivered),
    }


def set_aside_backlog(database_url: str) -> None:
    """The earlier steps saved and routed thousands of leads with Celery off: their lead
    events were never relayed nor their pipeline jobs run. A worker would take those
    first, and the figure is for the saves made while it is measured."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE leads_leadevent SET relayed_at = now() WHERE relayed_at IS NULL")
        conn.execute("UPDATE integrations_pipelinejob SET status = 'superseded' WHERE status = 'pending'")
        conn.execute("DELETE FROM routing_pendingroute")
        # This machine's PostgreSQL runs without autovacuum (conf.d/90-ci.conf): clear the dead
        # rows of the set-aside (and of the folded lead counters) as it would have by now.
        conn.execute("VACUUM ANALYZE")


def measure(
    database_url: str, redis_url: str, *, agents, manager, rate: float, seconds: float, log, split_workers: bool = True
) -> dict:
    from rest_framework.authtoken.models import Token

    from integrations.alerts.vapid import generate_keys

    set_aside_backlog(database_url)
    keys = generate_keys()
    push_service = _push_service_class()(keys.public_key)
    subscribe_agents(agents, push_service)
    token = Token.objects.get_or_create(user=manager)[0].key
    servers.flush_redis(redis_url)
    env = {**servers.app_environment(database_url, redis_url), **push_environment(keys)}
    if split_workers:  # as deploy/systemd runs them: speed to lead on its own queue and worker
        env["CELERY_URGENT_QUEUE"] = f"{env.get('CELERY_QUEUE', 'leadmgmt')}.urgent"
    app = servers.Gunicorn("routing-push-app", "leadmgmt.wsgi", env)
    if split_workers:
        workers = [
            servers.CeleryWorker(
                "routing-push-urgent", env, processes=URGENT_PROCESSES, queues=env["CELERY_URGENT_QUEUE"]
            ),
            servers.CeleryWorker(
                "routing-push-worker", env, processes=1, queues=env.get("CELERY_QUEUE", "leadmgmt"), nice=10
            ),
        ]
    else:
        workers = [servers.CeleryWorker("routing-push-worker", env, processes=2)]
    saved: dict[str, float] = {}
    failed = []

    def on_reply(_index: int, reply: loadgen.Reply) -> None:
        if reply.status == 201:
            saved[reply.json()["lead"]["id"]] = reply.finished
        else:
            failed.append(f"{reply.status} {reply.body[:200]!r}")

    try:
        time.sleep(3)  # the worker connects to the broker
        tag = str(time.monotonic_ns())
        warm = loadgen.drive(
            app.address,
            lambda index: Call.json("POST", "/api/v2/leads", lead_payload(index, f"w{tag}"), token=token),
            count=5,
            concurrency=1,
        )
        time.sleep(5)
        log(f"  warm-up: {warm.requests} creates; now {rate:.0f} leads/s for {seconds:.0f} s ...")
        count = int(rate * seconds)
        sent = loadgen.drive(
            app.address,
            lambda index: Call.json("POST", "/api/v2/leads", lead_payload(index, tag), token=token),
            count=count,
            concurrency=8,
            rate=rate,
            max_seconds=seconds * 3,
            on_reply=on_reply,
        )
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and any(lead not in push_service.first_push_at for lead in saved):
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop()
        app.stop()
        push_service.stop()
    latencies = [
        push_service.first_push_at[lead] - at for lead, at in saved.items() if lead in push_service.first_push_at
    ]
    return {
        "stages": stages(list(saved)),
        "target_rate": rate,
        "split_workers": split_workers,
        "urgent_processes": URGENT_PROCESSES if split_workers else 0,
        "achieved_rate": sent.requests / sent.wall_seconds if sent.wall_seconds else None,
        "saved": len(saved),
        "failed_saves": len(failed),
        "first_failures": failed[:3],
        "pushed": len(latencies),
        "refused_pushes": len(push_service.refused),
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p95_ms": percentile(latencies, 95) * 1000 if latencies else None,
        "max_ms": max(latencies) * 1000 if latencies else None,
    }
