"""GET /api/v2/leads/{id} from the cache: fewer queries, and never stale after a
write, whether the write went through the service or was a task's result."""

import os
import uuid
from datetime import timedelta

import pytest
import redis
from django.core.cache import cache
from django.utils import timezone

from conftest import skip_or_fail
from integrations import pipeline
from integrations.models import PipelineJob
from integrations.scoring.calculator import Factor, ScoreResult
from integrations.scoring.services import lead_score_save
from integrations.workflows.services import mark_sla_breaches
from leads.api.lead_cache import cache_key
from leads.core.selectors import lead_cache_stamp
from leads.core.services import LeadManagementService
from leads.models import Lead, ProcessingStatus, SlaStatus
from leads.tests.api_assertions import assert_error, lead_url
from leads.tests.factories import InteractionFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(agent) -> Lead:
    lead = LeadFactory(assigned_to=agent)
    InteractionFactory.create_batch(3, lead=lead)
    return lead


def read(client, lead: Lead) -> dict:
    response = client.get(lead_url(lead.public_id))
    assert response.status_code == 200, response.content[:300]
    assert response["ETag"] == f'"{response.json()["lead"]["version"]}"'
    return response.json()["lead"]


def test_a_second_read_comes_from_the_cache_with_fewer_queries(
    api_client, agent, lead, django_assert_num_queries, django_assert_max_num_queries
):
    client = api_client(agent)
    with django_assert_max_num_queries(4):  # token, stamp, lead with its parts, interactions
        first = client.get(lead_url(lead.public_id))

    # token and the lead's stamp, nothing else
    with django_assert_num_queries(2):
        second = client.get(lead_url(lead.public_id))

    assert second.json()["lead"] == first.json()["lead"]
    assert second["ETag"] == first["ETag"]
    pk, stamp = lead_cache_stamp(user=agent, lead_id=lead.public_id)
    assert cache.get(cache_key(pk, stamp)) == first.json()["lead"]


def test_an_update_is_never_followed_by_a_stale_read(api_client, agent, lead):
    client = api_client(agent)
    read(client, lead)

    client.patch(lead_url(lead.public_id), {"contact": {"first_name": "Renamed"}, "tags": ["vip"]}, format="json")
    after = read(client, lead)

    assert after["contact"]["first_name"] == "Renamed"
    assert after["tags"] == ["vip"]
    assert after["version"] == lead.version + 1


def test_a_new_interaction_shows_up_at_once(api_client, agent, lead):
    client = api_client(agent)
    read(client, lead)

    client.post(lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "Called back"}, format="json")

    assert read(client, lead)["interactions"][0]["summary"] == "Called back"


def test_a_write_through_another_channel_shows_up(api_client, agent, manager, lead):
    client = api_client(agent)
    read(client, lead)

    LeadManagementService(manager).change_status(lead.public_id, "qualified")

    assert read(client, lead)["status"] == "qualified"


def test_the_pipelines_results_show_up_though_they_do_not_bump_the_version(api_client, agent, lead):
    client = api_client(agent)
    job = PipelineJob.objects.create(lead=lead, version=lead.version, reason="created")
    before = read(client, lead)
    assert before["processing"]["status"] == ProcessingStatus.PENDING

    # when the pipeline's task analyses and scores the lead (no version bump)
    assert pipeline.process_jobs([job.pk]).outcomes == {job.pk: "done"}
    after = read(client, lead)

    assert after["version"] == before["version"]
    assert after["processing"] == {"status": "done", "processed_version": lead.version, "error": None}
    assert after["score"] is not None
    assert after["metadata"]["market_analysis"] != {}


def test_a_rescore_shows_up(api_client, agent, lead):
    client = api_client(agent)
    read(client, lead)
    factor = Factor(factor="recency", axis="engagement", points=1.0, max_points=15.0, reason="Quiet for a while.")
    result = ScoreResult(score=42, fit=30, engagement=12, fit_max=55, engagement_max=45, factors=[factor])

    assert lead_score_save(lead=lead, version=lead.version, result=result)

    after = read(client, lead)
    assert after["score"] == 42
    assert after["score_breakdown"][0]["reason"] == "Quiet for a while."


def test_an_sla_settled_by_the_periodic_job_shows_up(api_client, agent, lead):
    Lead.objects.filter(pk=lead.pk).update(sla_due_at=timezone.now() - timedelta(minutes=5))
    client = api_client(agent)
    assert read(client, lead)["sla"]["status"] == SlaStatus.PENDING

    mark_sla_breaches()

    assert read(client, lead)["sla"]["status"] == SlaStatus.BREACHED


def test_a_cached_lead_is_still_hidden_from_those_who_may_not_see_it(api_client, manager, other_agent, lead):
    read(api_client(manager), lead)

    assert_error(api_client(other_agent).get(lead_url(lead.public_id)), 404, "not_found")


def test_a_cached_lead_that_is_archived_is_a_404(api_client, manager, lead):
    client = api_client(manager)
    read(client, lead)

    client.delete(lead_url(lead.public_id))

    assert_error(client.get(lead_url(lead.public_id)), 404, "not_found")


@pytest.mark.redis
def test_reads_and_writes_go_through_redis(settings, api_client, agent, lead):
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        skip_or_fail(f"Redis is not reachable at {url}")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix}
    }
    client = api_client(agent)
    try:
        read(client, lead)
        keys = redis.Redis.from_url(url).keys(f"{prefix}:*lead-repr:*")
        assert len(keys) == 1

        client.patch(lead_url(lead.public_id), {"status": "contacted"}, format="json")

        assert read(client, lead)["status"] == "contacted"
    finally:
        connection = redis.Redis.from_url(url)
        for key in connection.scan_iter(f"{prefix}:*"):
            connection.delete(key)
