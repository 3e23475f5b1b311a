"""The order channels are tried in, what each records, and what moves an alert on: an
SMS the provider reports undelivered falls back to email, one reported delivered makes
the alert delivered; channels that cannot reach the user are passed over at once."""

import pytest
from django.core import mail

from integrations.alerts import payloads, services, tasks
from integrations.alerts.models import AgentAlert, AlertStatus, DeliveryStatus
from integrations.alerts.tests.conftest import prefer, subscribe
from integrations.crm.tests.conftest import Reply
from integrations.sms.services import status_callback_url
from integrations.sms.tests.conftest import signed_callback
from leads.errors import ValidationFailed
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert_now(django_capture_on_commit_callbacks):
    """``alert_now(user, lead=None)``: an "assigned" alert made and committed; its first attempt runs."""

    def send(user, lead=None, reason="assigned"):
        lead = lead or LeadFactory(contact__first_name="Grace", contact__last_name="Hopper")
        with django_capture_on_commit_callbacks(execute=True):
            tasks.send_agent_alert(user=user, lead=lead, reason=reason, actions=payloads.assignment_actions(lead))
        return AgentAlert.objects.get(user=user, lead=lead)

    return send


def channels_of(alert) -> list[tuple[str, str, str]]:
    return [
        (delivery.channel, delivery.status, delivery.last_error) for delivery in alert.deliveries.order_by("position")
    ]


def test_sms_first_then_push_then_email_is_the_order_tried(push_service, sms_provider, alert_now, agent, client):
    # given an agent who wants texts first, and a phone subscribed to pushes
    prefer(agent, "sms,push", sms_number="+14155550199", sms_opt_in=True)
    subscribe(agent, push_service.browser())
    # when an alert is sent
    alert = alert_now(agent)
    # then it was texted (with the status callback URL of its message), push and email
    # on standby until the provider says whether it arrived
    (text,) = sms_provider.texts
    message = alert.deliveries.get(channel="sms").sms_message
    assert text.form["StatusCallback"] == status_callback_url(message)
    assert [(channel, status) for channel, status, _ in channels_of(alert)] == [
        ("sms", DeliveryStatus.SENT),
        ("push", DeliveryStatus.STANDBY),
        ("email", DeliveryStatus.STANDBY),
    ]
    alert.refresh_from_db()
    assert (alert.status, alert.delivered_via) == (AlertStatus.SENT, "sms")
    assert push_service.pushes == [] and mail.outbox == []
    # and when the provider reports it delivered, so is the alert, the rest skipped
    response = signed_callback(
        client, status_callback_url(message), {"MessageSid": text.sid, "MessageStatus": "delivered"}
    )
    assert response.status_code == 204
    alert.refresh_from_db()
    assert (alert.status, alert.delivered_via) == (AlertStatus.DELIVERED, "sms")
    assert [(channel, status) for channel, status, _ in channels_of(alert)] == [
        ("sms", DeliveryStatus.DELIVERED),
        ("push", DeliveryStatus.SKIPPED),
        ("email", DeliveryStatus.SKIPPED),
    ]
    assert alert.deliveries.get(channel="sms").delivered_at is not None


def test_an_undelivered_text_falls_back_to_email(
    sms_provider, agent, client, alert_now, django_capture_on_commit_callbacks
):
    # given an agent who wants texts
    prefer(agent, "sms", sms_number="+14155550199", sms_opt_in=True)
    alert = alert_now(agent)
    (text,) = sms_provider.texts
    message = alert.deliveries.get(channel="sms").sms_message
    assert mail.outbox == []
    # when the carrier could not deliver it
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_callback(
            client,
            status_callback_url(message),
            {"MessageSid": text.sid, "MessageStatus": "undelivered", "ErrorCode": "30005"},
        )
    assert response.status_code == 204
    # then the SMS failed with the provider's code and the email went
    alert.refresh_from_db()
    assert channels_of(alert) == [
        ("sms", DeliveryStatus.FAILED, "The text was undelivered (provider error code 30005)."),
        ("email", DeliveryStatus.SENT, ""),
    ]
    assert (alert.status, alert.delivered_via) == (AlertStatus.SENT, "email")
    (email,) = mail.outbox
    assert email.subject == "New lead: Grace Hopper"


def test_a_bad_signature_on_the_callback_changes_nothing(sms_provider, agent, client, alert_now):
    prefer(agent, "sms", sms_number="+14155550199", sms_opt_in=True)
    alert = alert_now(agent)
    (text,) = sms_provider.texts
    message = alert.deliveries.get(channel="sms").sms_message
    response = signed_callback(
        client, status_callback_url(message), {"MessageSid": text.sid, "MessageStatus": "failed"}, token="forged"
    )
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT
    assert channels_of(alert)[0][:2] == ("sms", DeliveryStatus.SENT)
    assert mail.outbox == []


def test_channels_that_cannot_reach_the_user_are_passed_over_with_the_reason(alert_settings, agent, alert_now):
    # given an agent who chose push then texts, with no browser subscribed and SMS not configured
    prefer(agent, "push,sms", sms_number="+14155550199", sms_opt_in=True)
    alert_settings.SMS_ACCOUNT_SID = ""
    alert = alert_now(agent)
    # then both were passed over, each with its reason, and the email went at once
    assert channels_of(alert) == [
        ("push", DeliveryStatus.FAILED, "No browser of theirs is subscribed to pushes."),
        ("sms", DeliveryStatus.FAILED, "SMS is not configured (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM_NUMBER)."),
        ("email", DeliveryStatus.SENT, ""),
    ]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [agent.email]


def test_a_provider_refusing_the_text_falls_back_to_email(sms_provider, agent, alert_now):
    prefer(agent, "sms", sms_number="+14155550199", sms_opt_in=True)
    sms_provider.answer(Reply(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}))
    alert = alert_now(agent)
    (sms, email) = channels_of(alert)
    assert sms[:2] == ("sms", DeliveryStatus.FAILED) and "21610" in sms[2]
    assert email == ("email", DeliveryStatus.SENT, "")


def test_an_alert_with_no_channel_left_has_failed(alert_settings, alert_now):
    # given a user with no email address and no other channel
    user = UserFactory(email="")
    alert = alert_now(user)
    assert channels_of(alert) == [
        ("push", DeliveryStatus.FAILED, "No browser of theirs is subscribed to pushes."),
        ("email", DeliveryStatus.FAILED, "They have no email address."),
    ]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FAILED


def test_the_email_carries_the_link_and_the_actions(alert_settings, agent, alert_now):
    lead = LeadFactory(contact__first_name="Grace", contact__last_name="Hopper", contact__phone="+14155550111")
    alert_now(agent, lead)
    (email,) = mail.outbox
    assert f"https://leads.example.com/leads/{lead.public_id}/" in email.body
    assert "Call: tel:+14155550111" in email.body
    assert "https://leads.example.com/notifications/" in email.body


def test_the_same_key_makes_one_alert(alert_settings, agent, alert_now):
    lead = LeadFactory()
    first = services.alert_agent(user=agent, lead=lead, reason="offer", key="offer:7")
    again = services.alert_agent(user=agent, lead=lead, reason="offer", key="offer:7")
    assert len(first) == 1 and again == []
    assert AgentAlert.objects.filter(key="offer:7").count() == 1


def test_inactive_users_are_not_alerted(alert_settings):
    assert services.alert_agent(user=UserFactory(is_active=False), lead=LeadFactory(), reason="offer") == []
    assert AgentAlert.objects.count() == 0


@pytest.mark.parametrize(
    ("reason", "actions", "field"),
    [
        ("bribe", [], "reason"),
        ("offer", [{"action": "Claim!", "title": "Claim", "url": "/x"}], "actions[0]"),
        ("offer", [{"action": "claim", "title": "Claim", "url": "javascript:alert(1)"}], "actions[0]"),
        ("offer", [{"action": "a", "title": "A", "url": "/a"}] * 4, "actions"),
    ],
)
def test_bad_arguments_are_refused_and_record_nothing(alert_settings, agent, reason, actions, field):
    with pytest.raises(ValidationFailed) as refused:
        services.alert_agent(user=agent, lead=LeadFactory(), reason=reason, actions=actions)
    assert field in refused.value.fields
    assert AgentAlert.objects.count() == 0


def test_a_path_in_an_action_is_made_absolute(alert_settings, agent):
    lead = LeadFactory()
    services.alert_agent(
        user=agent, lead=lead, reason="offer", actions=[{"action": "claim", "title": "Claim", "url": "/claims/9/"}]
    )
    alert = AgentAlert.objects.get()
    assert alert.payload["actions"] == [
        {"action": "claim", "title": "Claim", "url": "https://leads.example.com/claims/9/"}
    ]


def test_replaying_an_alert_sends_it_again_from_the_first_channel(
    alert_settings, agent, alert_now, django_capture_on_commit_callbacks
):
    alert = alert_now(agent)
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.replay_alerts([alert.pk]) == 1
    assert len(mail.outbox) == 2
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT
