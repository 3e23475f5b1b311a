"""Predictions: fair housing, factors in words, the API's fields, bad records, new leads."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.winprob import services
from integrations.winprob.models import WinModel, WinPrediction
from leads.models import Interaction
from leads.tests.api_assertions import LEADS_URL, lead_url
from leads.tests.factories import LeadFactory, seed_payload
from leads.tests.lead_events import relay_recorded_events

pytestmark = pytest.mark.django_db


def _lead(agent, *, first, last, email, language, locations, **lead):
    created = LeadFactory(assigned_to=agent, **lead)
    contact, preferences = created.contact, created.preferences
    contact.first_name, contact.last_name, contact.email, contact.preferred_language = first, last, email, language
    contact.save()
    preferences.preferred_locations = locations
    preferences.save()
    created.timeline.financing_status = "pre_approved"
    created.timeline.save()
    return created


def test_leads_differing_only_in_name_email_domain_language_and_place_get_the_same_chance(trained, score, agent):
    one = _lead(agent, first="Maria", last="Garcia", email="m@correo.example", language="es", locations=["Miami, FL"])
    two = _lead(agent, first="John", last="Smith", email="j@mail.example", language="en", locations=["Boise, ID"])
    at = timezone.now() - timedelta(hours=3)
    for lead in (one, two):
        Interaction.objects.create(lead=lead, type="call", direction="inbound", summary="Call", occurred_at=at)

    first, second = score(one, two)

    assert first.probability is not None
    assert first.probability == second.probability
    assert first.factors == second.factors


def test_each_prediction_names_its_model_and_its_factors_in_words(trained, score, agent):
    lead = LeadFactory(assigned_to=agent)  # no interactions at all

    [prediction] = score(lead)

    assert prediction.model_version == trained.version
    assert 0 < prediction.probability < 1
    assert prediction.factors
    for factor in prediction.factors:
        assert factor["text"].startswith(("+", "-")) and " pts: " in factor["text"]
    assert any(
        "never contacted" in factor["text"] or "arrived today" in factor["text"] for factor in prediction.factors
    )


def test_the_api_shows_the_chance_its_factors_and_model_in_the_same_queries(
    trained, score, agent, api_client, django_assert_max_num_queries
):
    lead = LeadFactory(assigned_to=agent)
    [prediction] = score(lead)
    client = api_client(agent)

    with django_assert_max_num_queries(4):  # token, cache stamp, lead (with the prediction joined), interactions
        body = client.get(lead_url(lead.public_id)).json()["lead"]
    listed = client.get(LEADS_URL).json()["leads"][0]

    assert body["win_probability"] == round(prediction.probability * 100, 1)
    assert body["win_model_version"] == trained.version
    assert body["win_factors"] == prediction.factors
    assert body["win_probability_reason"] is None
    assert listed["win_probability"] == body["win_probability"]


def test_a_cached_lead_shows_a_new_prediction_at_once(trained, score, agent, api_client):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    assert client.get(lead_url(lead.public_id)).json()["lead"]["win_probability"] is None  # cached now

    score(lead)

    assert client.get(lead_url(lead.public_id)).json()["lead"]["win_probability"] is not None


def test_with_no_model_the_api_says_why(agent, api_client, score):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    assert client.get(lead_url(lead.public_id)).json()["lead"]["win_probability_reason"].startswith("Not scored")

    score(lead)

    body = client.get(lead_url(lead.public_id)).json()["lead"]
    assert body["win_probability"] is None
    assert body["win_probability_reason"].startswith("No model in use yet")


def test_a_model_record_that_fails_to_load_gives_null_with_the_reason(trained, score, agent, api_client, client):
    WinModel.objects.filter(pk=trained.pk).update(parameters={**trained.parameters, "coef": [1.0, "x"]})
    lead = LeadFactory(assigned_to=agent)

    [prediction] = score(lead)
    response = api_client(agent).get(lead_url(lead.public_id))

    assert prediction.probability is None
    assert response.status_code == 200
    body = response.json()["lead"]
    assert body["win_probability"] is None
    assert body["win_probability_reason"].startswith(f"Model v{trained.version} could not be loaded")
    client.force_login(agent)
    page = client.get(f"/leads/{lead.public_id}/")
    assert page.status_code == 200 and b"could not be loaded" in page.content


def test_a_closed_lead_gets_no_chance(trained, score, agent):
    lead = LeadFactory(assigned_to=agent, status="closed")

    [prediction] = score(lead)

    assert prediction.probability is None and "closed or lost" in prediction.reason


def test_a_new_lead_is_scored_after_its_save_commits_without_training(
    trained, agent, api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(agent).post(LEADS_URL, seed_payload(), format="json")
    assert response.status_code == 201
    lead_id = response.json()["lead"]["id"]

    with django_capture_on_commit_callbacks(execute=True):
        relay_recorded_events()

    prediction = WinPrediction.objects.get(lead__public_id=lead_id)
    assert prediction.model_version == trained.version and prediction.probability is not None
    assert WinModel.objects.count() == 1  # scoring never trained


def test_scoring_all_open_leads_skips_the_ended_ones(trained):
    written = services.predict_open_leads()

    assert written == WinPrediction.objects.filter(probability__isnull=False).count() > 0
    assert not WinPrediction.objects.filter(lead__status__in=["closed", "lost"]).exists()
