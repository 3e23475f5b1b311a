"""Texts and emails from leads: signed webhooks, STOP/START, replies that pause plans."""

import pytest
from twilio.request_validator import RequestValidator

from integrations.plans import services
from integrations.plans.models import Consent, EnrolmentState, StepKind
from integrations.plans.reply_address import reply_address
from integrations.plans.tests.conftest import plan_with
from integrations.sms.tests.conftest import SMS_TOKEN
from leads.models import FollowUpTask, Interaction, InteractionDirection, Lead, LeadEvent

pytestmark = pytest.mark.django_db

INBOUND_URL = "https://leads.example.com/sms/inbound"


def post_text(client, params, *, token=SMS_TOKEN):
    signature = RequestValidator(token).compute_signature(INBOUND_URL, params)
    return client.post("/sms/inbound", params, HTTP_X_TWILIO_SIGNATURE=signature)


def text_from(lead, body):
    return {"MessageSid": "SM" + "1" * 32, "From": lead.contact.phone, "To": "+15005550006", "Body": body}


def test_a_text_with_a_bad_signature_is_refused_and_nothing_is_saved(client, provider, lead):
    before = (Interaction.objects.count(), LeadEvent.objects.count())

    response = post_text(client, text_from(lead, "STOP"), token="not-the-token")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert (Interaction.objects.count(), LeadEvent.objects.count()) == before
    assert Lead.objects.get(pk=lead.pk).contact.sms_opt_out is False


def test_a_text_from_the_lead_is_an_inbound_interaction_that_pauses_its_plans(
    client, provider, lead, django_capture_on_commit_callbacks
):
    enrolment = services.enrol(lead=lead, plan=plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}), reason="t")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_text(client, text_from(lead, "Yes! Can we see it Saturday?"))

    assert response.status_code == 200 and b"<Response>" in response.content
    (interaction,) = Interaction.objects.filter(lead=lead)
    assert (interaction.type, interaction.direction) == ("text", InteractionDirection.INBOUND)
    assert interaction.notes == "Yes! Can we see it Saturday?"
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.PAUSED
    assert FollowUpTask.objects.filter(lead=lead, title__startswith="Lead replied (text)").count() == 1


def test_stop_opts_the_lead_out_of_texts_and_start_opts_it_back_in(client, provider, lead):
    assert post_text(client, text_from(lead, " Stop ")).status_code == 200
    lead.contact.refresh_from_db()
    assert lead.contact.sms_opt_out is True
    assert Consent.objects.get(lead=lead, channel="text").granted is False

    assert post_text(client, text_from(lead, "START")).status_code == 200
    lead.contact.refresh_from_db()
    assert lead.contact.sms_opt_out is False
    consent = Consent.objects.get(lead=lead, channel="text")
    assert (consent.granted, consent.source) == (True, "START reply")


def test_a_text_from_an_unknown_number_is_dropped(client, provider, lead):
    params = {"MessageSid": "SM1", "From": "+14155559999", "To": "+15005550006", "Body": "hi"}
    assert post_text(client, params).status_code == 200
    assert not Interaction.objects.exists()


@pytest.fixture
def inbound_secret(settings):
    settings.PLANS_INBOUND_EMAIL_SECRET = "s3cret-for-tests"
    return "s3cret-for-tests"


def test_an_email_reply_to_the_signed_address_is_logged_and_pauses_plans(
    client, lead, inbound_secret, django_capture_on_commit_callbacks
):
    enrolment = services.enrol(lead=lead, plan=plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}), reason="t")
    form = {
        "from": "Katherine <kat@example.com>",
        "to": f"Plans <{reply_address(lead.public_id)}>",
        "subject": "Re: Hi Katherine",
        "text": "Sounds good, call me tomorrow.",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/plans/inbound-email/{inbound_secret}", form)  # multipart/form-data

    assert response.status_code == 204
    (interaction,) = Interaction.objects.filter(lead=lead)
    assert (interaction.type, interaction.direction) == ("email", InteractionDirection.INBOUND)
    assert "Sounds good" in interaction.notes
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.PAUSED


@pytest.mark.parametrize(
    ("to", "status"),
    [
        ("reply+lead_000000000000000000000000.0123456789abcdef0123456789abcdef@reply.leads.example.com", 404),
        ("someone@example.com", 404),
    ],
)
def test_an_email_with_a_bad_token_is_refused_and_nothing_is_saved(client, lead, inbound_secret, to, status):
    forged = reply_address(lead.public_id).replace(".", ".f", 1)  # the lead's id with a wrong mac
    for address in (to, forged):
        response = client.post(f"/plans/inbound-email/{inbound_secret}", {"from": "x@example.com", "to": address})
        assert response.status_code == status
    assert not Interaction.objects.exists() and not LeadEvent.objects.exists()


def test_the_inbound_email_webhook_needs_its_secret(client, lead, inbound_secret, settings):
    form = {"from": "x@example.com", "to": reply_address(lead.public_id)}
    assert client.post("/plans/inbound-email/wrong", form).status_code == 403
    settings.PLANS_INBOUND_EMAIL_SECRET = ""
    assert client.post("/plans/inbound-email/", form).status_code == 404
    assert client.post(f"/plans/inbound-email/{inbound_secret}", form).status_code == 403
    assert client.post("/plans/inbound-email/x", {"to": "y"}).status_code == 403
    assert not Interaction.objects.exists()


def test_the_inbound_email_webhook_refuses_a_post_without_its_fields(client, inbound_secret):
    response = client.post(f"/plans/inbound-email/{inbound_secret}", {"subject": "hi"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"from", "to"}
