"""Texts through a Twilio-compatible provider on loopback (basic auth, form fields, the
sid it answers), and the provider's status callbacks: signed (``X-Twilio-Signature``,
made with the ``twilio`` package's algorithm and the auth token) they move the message
forward and tell the sender's listener; a bad signature is a 403 that changes nothing;
bad input is a 400 and never a 500."""

import base64

import pytest

from integrations.crm.tests.conftest import Reply
from integrations.http_delivery import PermanentDeliveryError, TransientDeliveryError
from integrations.sms import services
from integrations.sms.client import send_sms
from integrations.sms.models import SmsMessage, SmsStatus
from integrations.sms.tests.conftest import SMS_FROM, SMS_SID, SMS_TOKEN, signed_callback

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """What the "test" purpose's listener heard: (message id, previous status, new status)."""
    calls = []
    services.listen("test", lambda message, previous: calls.append((message.pk, previous, message.status)))
    return calls


def test_the_client_posts_the_form_with_basic_auth_and_returns_the_sid(provider):
    sent = send_sms(to="+14155550134", body="Hello", status_callback_url="https://leads.example.com/sms/status/x")
    (text,) = provider.texts
    assert text.path == f"/2010-04-01/Accounts/{SMS_SID}/Messages.json"
    assert text.authorization == "Basic " + base64.b64encode(f"{SMS_SID}:{SMS_TOKEN}".encode()).decode()
    assert text.form == {
        "To": "+14155550134",
        "From": SMS_FROM,
        "Body": "Hello",
        "StatusCallback": "https://leads.example.com/sms/status/x",
    }
    assert (sent.sid, sent.status) == (text.sid, "queued")


def test_wrong_credentials_are_a_permanent_failure(provider, settings):
    settings.SMS_AUTH_TOKEN = "not-the-token"
    with pytest.raises(PermanentDeliveryError, match="HTTP 401"):
        send_sms(to="+14155550134", body="Hello", status_callback_url="https://leads.example.com/cb")


def test_a_provider_error_is_transient(provider):
    provider.answer(Reply(503, {"message": "try later"}))
    with pytest.raises(TransientDeliveryError, match="HTTP 503"):
        send_sms(to="+14155550134", body="Hello")


def test_without_configuration_nothing_is_sent(provider, settings):
    settings.SMS_ACCOUNT_SID = ""
    with pytest.raises(PermanentDeliveryError, match="not configured"):
        send_sms(to="+14155550134", body="Hello")
    assert provider.texts == []


def test_send_text_records_the_message_with_its_sid_and_callback_url(provider):
    message = services.send_text(to="+14155550134", body="New lead", purpose="test")
    (text,) = provider.texts
    assert text.form["StatusCallback"] == f"https://leads.example.com/sms/status/{message.public_id}"
    message.refresh_from_db()
    assert (message.status, message.provider_sid, message.to, message.body) == (
        SmsStatus.QUEUED,
        text.sid,
        "+14155550134",
        "New lead",
    )


def test_a_refused_text_is_recorded_as_not_sent(provider):
    provider.answer(Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    with pytest.raises(PermanentDeliveryError, match="21211"):
        services.send_text(to="+14155550134", body="New lead", purpose="test")
    message = SmsMessage.objects.get()
    assert message.status == SmsStatus.NOT_SENT and "Invalid 'To'" in message.error


def test_a_signed_callback_moves_the_message_and_tells_its_listener(provider, client, heard):
    message = services.send_text(to="+14155550134", body="New lead", purpose="test")
    url = services.status_callback_url(message)
    for status in ("sent", "delivered"):
        response = signed_callback(client, url, {"MessageSid": message.provider_sid, "MessageStatus": status})
        assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == SmsStatus.DELIVERED and message.status_changed_at is not None
    assert heard == [(message.pk, "queued", "sent"), (message.pk, "sent", "delivered")]


def test_a_late_callback_does_not_move_a_message_back(provider, client, heard):
    message = services.send_text(to="+14155550134", body="New lead", purpose="test")
    url = services.status_callback_url(message)
    signed_callback(
        client, url, {"MessageSid": message.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    response = signed_callback(client, url, {"MessageSid": message.provider_sid, "MessageStatus": "sent"})
    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.status, message.error_code) == (SmsStatus.UNDELIVERED, "30003")
    assert heard == [(message.pk, "queued", "undelivered")]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda params, url: ({**params, "MessageStatus": "failed"}, url), id="changed form"),
        pytest.param(
            lambda params, url: (params, url.replace("leads.example.com", "evil.example.com")), id="other url"
        ),
    ],
)
def test_a_bad_signature_is_refused_with_403_and_changes_nothing(provider, client, heard, tamper):
    message = services.send_text(to="+14155550134", body="New lead", purpose="test")
    url = services.status_callback_url(message)
    params = {"MessageSid": message.provider_sid, "MessageStatus": "delivered"}
    signed_params, signed_url = tamper(params, url)
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(SMS_TOKEN).compute_signature(signed_url, signed_params)
    response = client.post(url.removeprefix("https://leads.example.com"), params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    message.refresh_from_db()
    assert message.status == SmsStatus.QUEUED and heard == []


def test_a_callback_signed_with_another_token_or_unsigned_is_refused(provider, client):
    message = services.send_text(to="+14155550134", body="New lead", purpose="test")
    url = services.status_callback_url(message)
    params = {"MessageSid": message.provider_sid, "MessageStatus": "delivered"}
    assert signed_callback(client, url, params, token="someone-elses-token").status_code == 403
    assert client.post(url.removeprefix("https://leads.example.com"), params).status_code == 403
    message.refresh_from_db()
    assert message.status == SmsStatus.QUEUED


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"MessageStatus": "exploded"}, 400, "MessageStatus"),
        ({}, 400, "MessageStatus"),
        ({"MessageSid": "SMnot-this-one", "MessageStatus": "delivered"}, 400, "MessageSid"),
    ],
)
def test_bad_input_is_a_400_with_the_field_and_changes_nothing(provider, client, params, status, field):
    message = services.send_text(to="+14155550134", body="New lead", purpose="test")
    response = signed_callback(client, services.status_callback_url(message), params)
    assert response.status_code == status
    assert field in response.json()["error"]["fields"]
    message.refresh_from_db()
    assert message.status == SmsStatus.QUEUED


def test_a_callback_for_an_unknown_message_is_a_404(provider, client):
    for token in ("0c6e1d8e-2f1b-4c47-9d7c-2f4a3b1e9a10", "not-a-uuid"):
        url = f"https://leads.example.com/sms/status/{token}"
        response = signed_callback(client, url, {"MessageSid": "SM1", "MessageStatus": "delivered"})
        assert response.status_code == 404


def test_the_callback_takes_only_posts(provider, client):
    assert client.get("/sms/status/0c6e1d8e-2f1b-4c47-9d7c-2f4a3b1e9a10").status_code == 405
