import re

import pytest
from django.core import signing

from integrations.workflows.services import start_for_leads
from integrations.workflows.unsubscribe import unsubscribe_url
from leads.models import Lead

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/unsubscribe/\S+)")


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "http://testserver"


def emailed_link(message) -> str:
    return LINK.search(message.body).group(1)


def test_the_unsubscribe_link_in_the_welcome_email_records_the_opt_out(new_lead, client, mailoutbox, site_url):
    # given the welcome email, with the link in its body and its List-Unsubscribe header
    lead = new_lead()
    start_for_leads([(lead.pk, "created")])
    (welcome,) = mailoutbox
    path = emailed_link(welcome)
    assert welcome.extra_headers["List-Unsubscribe"] == f"<http://testserver{path}>"
    assert welcome.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # when the lead opens it, then confirms
    confirm_page = client.get(path)
    assert not Lead.objects.get(pk=lead.pk).contact.email_opt_out  # opening the link alone changes nothing
    done_page = client.post(path)

    # then the opt-out is recorded as a new version of the lead, with a note for the agent
    assert confirm_page.status_code == 200
    assert b"Stop emails?" in confirm_page.content and b'method="post"' in confirm_page.content
    assert done_page.status_code == 200
    assert b"You are unsubscribed" in done_page.content
    lead = Lead.objects.select_related("contact").get(pk=lead.pk)
    assert lead.contact.email_opt_out is True
    assert lead.version == 2
    assert lead.interactions.get().summary == "Unsubscribed from emails through the link in a message."
    assert set(lead.events.values_list("kind", "lead_version")) == {("interaction.added", 2), ("lead.updated", 2)}
    assert lead.events.get(kind="lead.updated").data == {"changed_fields": ["contact.email_opt_out", "interactions"]}


def test_unsubscribing_twice_changes_nothing_the_second_time(new_lead, client, site_url):
    lead = new_lead()
    path = unsubscribe_url(lead=lead).removeprefix("http://testserver")

    client.post(path)
    again = client.post(path)
    page = client.get(path)

    assert again.status_code == 200
    assert Lead.objects.get(pk=lead.pk).version == 2
    assert b"already unsubscribed" in page.content


def test_an_opted_out_lead_gets_no_further_email(new_lead, client, mailoutbox, site_url):
    lead = new_lead()
    client.post(unsubscribe_url(lead=lead).removeprefix("http://testserver"))
    Lead.objects.filter(pk=lead.pk).update(status="new")

    start_for_leads([(lead.pk, "created")])

    assert mailoutbox == []


def tampered(token: str) -> str:
    payload, timestamp, signature = token.split(":")
    return f"{payload}:{timestamp}:{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}"


def forged_for_another_lead(token: str, other: Lead) -> str:
    # the payload swapped for another lead's, the signature kept
    _, timestamp, signature = token.split(":")
    payload = signing.b64_encode(f'{{"lead":"{other.public_id}","channel":"email"}}'.encode()).decode()
    return f"{payload}:{timestamp}:{signature}"


@pytest.mark.parametrize("forge", ["tampered", "other_lead", "other_salt", "garbage"])
def test_a_forged_link_is_refused_with_a_friendly_page_and_changes_nothing(new_lead, client, site_url, forge):
    lead, other = new_lead(), new_lead()
    token = unsubscribe_url(lead=lead).rsplit("/", 1)[1]
    bad = {
        "tampered": lambda: tampered(token),
        "other_lead": lambda: forged_for_another_lead(token, other),
        "other_salt": lambda: signing.TimestampSigner().sign_object({"lead": other.public_id, "channel": "email"}),
        "garbage": lambda: "not-a-token",
    }[forge]()

    page = client.get(f"/unsubscribe/{bad}")
    posted = client.post(f"/unsubscribe/{bad}")

    assert (page.status_code, posted.status_code) == (400, 400)
    assert b"This link does not work" in posted.content
    assert not Lead.objects.filter(contact__email_opt_out=True).exists()
    assert set(Lead.objects.values_list("version", flat=True)) == {1}


def test_an_expired_link_is_refused(new_lead, client, settings, site_url):
    lead = new_lead()
    path = unsubscribe_url(lead=lead).removeprefix("http://testserver")
    settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS = 0  # every link is now older than allowed

    response = client.post(path)

    assert response.status_code == 400
    assert b"expired" in response.content
    assert not Lead.objects.get(pk=lead.pk).contact.email_opt_out


def test_the_page_refuses_other_methods(new_lead, client, site_url):
    lead = new_lead()

    response = client.put(unsubscribe_url(lead=lead).removeprefix("http://testserver"))

    assert response.status_code == 405
