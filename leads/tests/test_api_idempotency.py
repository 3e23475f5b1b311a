"""Idempotency-Key on the creating POSTs: a retry replays the first answer and
creates nothing; the same key on another request is refused."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from integrations import periodic
from leads.api.idempotency import request_fingerprint
from leads.api.parsers import StrictJSONParser
from leads.models import IdempotencyRecord, Interaction, Lead, LeadEvent
from leads.tests.api_assertions import LEADS_URL, assert_error, db_snapshot, lead_url
from leads.tests.concurrency import run_at_once
from leads.tests.factories import LeadFactory, UserFactory, seed_payload

BATCH_URL = f"{LEADS_URL}/batch"


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def without_timing(body: dict) -> dict:
    return {name: value for name, value in body.items() if name != "processing_time"}


# --- retries ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_ten_retries_of_one_key_create_one_lead(api_client, agent):
    client = api_client(agent)

    answers = [post(client, LEADS_URL, seed_payload(), "order-7f3a") for _ in range(10)]

    # then one lead, one after-save job, and the same 201 ten times
    assert Lead.objects.count() == 1
    assert LeadEvent.objects.count() == 1
    assert {answer.status_code for answer in answers} == {201}
    first = answers[0]
    assert "Idempotent-Replayed" not in first
    for retry in answers[1:]:
        assert retry["Idempotent-Replayed"] == "true"
        assert without_timing(retry.json()) == without_timing(first.json())
        assert retry["ETag"] == first["ETag"]
        assert retry["Location"] == first["Location"]
        assert isinstance(retry.json()["processing_time"], float)


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_is_a_422_and_changes_nothing(api_client, agent):
    client = api_client(agent)
    post(client, LEADS_URL, seed_payload(), "k-1")
    before = db_snapshot()

    response = post(client, LEADS_URL, seed_payload(lead_type="seller"), "k-1")

    error = assert_error(response, 422, "idempotency_key_reused")
    assert "different request" in error["message"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_a_422(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    post(client, LEADS_URL, seed_payload(), "k-2")

    response = post(client, lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "Hi"}, "k-2")

    assert_error(response, 422, "idempotency_key_reused")
    assert not Interaction.objects.exists()


@pytest.mark.django_db
def test_the_same_key_with_another_query_is_a_different_request(api_client, agent):
    client = api_client(agent)
    post(client, LEADS_URL, seed_payload(), "k-3")

    response = post(client, f"{LEADS_URL}?on_duplicate=attach", seed_payload(), "k-3")

    assert_error(response, 422, "idempotency_key_reused")


@pytest.mark.django_db
def test_keys_belong_to_their_user(api_client, agent, other_agent):
    post(api_client(agent), LEADS_URL, seed_payload(), "shared-key")

    response = post(
        api_client(other_agent),
        LEADS_URL,
        seed_payload(contact={"first_name": "Ann", "email": "ann@x.org"}),
        "shared-key",
    )

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Lead.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_request_keeps_nothing_so_its_key_can_be_sent_again(api_client, agent):
    client = api_client(agent)

    # given a first try that is refused for its content
    assert_error(post(client, LEADS_URL, seed_payload(lead_type="castle"), "k-4"), 400, "validation_error")
    assert not IdempotencyRecord.objects.exists()

    # then the corrected request with the same key is done
    response = post(client, LEADS_URL, seed_payload(), "k-4")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Lead.objects.count() == 1


@pytest.mark.django_db
def test_a_duplicate_409_is_not_kept(api_client, agent):
    client = api_client(agent)
    post(client, LEADS_URL, seed_payload(), "k-5")

    response = post(client, LEADS_URL, seed_payload(), "k-6")

    assert_error(response, 409, "duplicate_lead", details={"existing_lead_id", "existing_lead_visible"})
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k-5"]


@pytest.mark.parametrize("key", ["", "has space", "é-accent", "x" * 256, "tab\tinside"])
@pytest.mark.django_db
def test_a_malformed_key_is_a_400_and_changes_nothing(api_client, agent, key):
    response = api_client(agent).post(LEADS_URL, seed_payload(), format="json", HTTP_IDEMPOTENCY_KEY=key)

    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["Idempotency-Key"]
    assert not Lead.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_key_of_255_characters_is_accepted(api_client, agent):
    response = post(api_client(agent), LEADS_URL, seed_payload(), "k" * 255)

    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().key == "k" * 255


@pytest.mark.django_db
def test_an_interaction_retried_with_its_key_is_logged_once(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    body = {"type": "call", "summary": "Left a voicemail"}

    answers = [post(client, lead_url(lead.public_id, interactions=True), body, "call-1") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert Interaction.objects.filter(lead=lead).count() == 1
    assert Lead.objects.get(pk=lead.pk).version == 2
    assert [answer.has_header("Idempotent-Replayed") for answer in answers] == [False, True, True]


@pytest.mark.django_db
def test_a_batch_retried_with_its_key_creates_its_leads_once(api_client, manager):
    client = api_client(manager)
    body = {"leads": [seed_payload(), seed_payload(contact={"first_name": "Bo", "phone": "+14155550199"})]}

    first = post(client, BATCH_URL, body, "batch-1")
    retry = post(client, BATCH_URL, body, "batch-1")

    assert first.status_code == retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["results"] == first.json()["results"]
    assert first.json()["counts"]["created"] == 2
    assert Lead.objects.count() == 2


@pytest.mark.django_db
def test_requests_without_a_key_are_not_recorded(api_client, agent):
    api_client(agent).post(LEADS_URL, seed_payload(), format="json")

    assert not IdempotencyRecord.objects.exists()


# --- expiry -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_expired_key_starts_afresh(api_client, agent):
    client = api_client(agent)
    post(client, LEADS_URL, seed_payload(), "k-7")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post(client, LEADS_URL, seed_payload(contact={"first_name": "New", "email": "new@x.org"}), "k-7")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Lead.objects.count() == 2


@pytest.mark.django_db
def test_keys_expire_after_the_configured_time(settings, api_client, agent):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 2
    before = timezone.now()

    post(api_client(agent), LEADS_URL, seed_payload(), "k-8")

    record = IdempotencyRecord.objects.get()
    assert before + timedelta(hours=2) <= record.expires_at <= timezone.now() + timedelta(hours=2)


@pytest.mark.django_db
def test_the_periodic_job_purges_expired_keys_only(api_client, agent):
    client = api_client(agent)
    post(client, LEADS_URL, seed_payload(), "old")
    post(client, LEADS_URL, seed_payload(contact={"first_name": "Cy", "email": "cy@x.org"}), "fresh")
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(minutes=1))

    purged = periodic.run("purge_idempotency_keys")

    assert purged == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert Lead.objects.count() == 2


# --- concurrency (PostgreSQL) -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_retries_of_one_key_create_one_lead(api_client):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    # given an integration that sends each of three requests ten times at once
    user = UserFactory(username="portal", role="manager")
    clients = [api_client(user) for _ in range(10)]
    rounds, answers_seen = 3, []

    for round_number in range(rounds):
        body = seed_payload(contact={"first_name": "Burst", "email": f"burst{round_number}@example.com"})
        key = f"burst-{round_number}"
        answers, errors = run_at_once(10, lambda index, body=body, key=key: post(clients[index], LEADS_URL, body, key))

        # then one lead per key, and every answer is that lead's 201 (nine of them replays)
        assert errors == []
        assert [answer.status_code for answer in answers] == [201] * 10
        assert len({answer.json()["lead"]["id"] for answer in answers}) == 1
        assert sorted(answer.has_header("Idempotent-Replayed") for answer in answers) == [False] + [True] * 9
        answers_seen.extend(answers)

    assert Lead.objects.count() == rounds
    assert LeadEvent.objects.filter(kind="lead.created").count() == rounds
    replayed = sum(answer.has_header("Idempotent-Replayed") for answer in answers_seen)
    print(f"\nidempotency burst: {len(answers_seen)} requests, {Lead.objects.count()} leads, {replayed} replays")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_request_still_runs_is_a_409_after_a_short_wait(settings, api_client, agent):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    # given a first request that reserved the key and is still working: it holds the row
    record = IdempotencyRecord.objects.create(
        user=agent,
        key="slow-1",
        request_method="POST",
        request_path=LEADS_URL,
        request_hash=fingerprint_of_post(LEADS_URL, seed_payload()),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    holding, release = threading.Event(), threading.Event()

    def first_request() -> None:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.select_for_update().get(pk=record.pk)
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    worker = threading.Thread(target=first_request)
    worker.start()
    assert holding.wait(timeout=10)
    try:
        # when the retry comes in
        started = time.monotonic()
        response = post(api_client(agent), LEADS_URL, seed_payload(), "slow-1")
        waited = time.monotonic() - started
    finally:
        release.set()
        worker.join(timeout=10)

    # then it waited about IDEMPOTENCY_WAIT_SECONDS and answered 409 with Retry-After
    assert_error(response, 409, "idempotency_key_in_progress")
    assert response["Retry-After"] == "1"
    assert 0.3 <= waited < 5
    assert not Lead.objects.exists()


def fingerprint_of_post(url: str, body: dict) -> str:
    """The fingerprint the API computes for this JSON POST."""
    request = Request(APIRequestFactory().post(url, body, format="json"), parsers=[StrictJSONParser()])
    return request_fingerprint(request)
