"""The lead page shows the lead's website activity in its Activity, with a summary."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Role
from leads.tests.factories import LeadFactory, UserFactory
from leads.webevents.services import record_web_event

pytestmark = pytest.mark.django_db


def test_web_events_show_in_the_activity_with_a_summary_in_the_viewers_zone(client):
    # given an agent in New York and a lead who viewed a listing twice and saved it
    agent = UserFactory(username="ny_agent", role=Role.AGENT, time_zone="America/New_York")
    lead = LeadFactory(assigned_to=agent)
    at = timezone.now().replace(hour=15, minute=30, second=0, microsecond=0) - timedelta(days=1)
    for n, kind in enumerate(["listing_viewed", "listing_viewed", "listing_saved"]):
        record_web_event(
            lead=lead,
            kind=kind,
            occurred_at=at + timedelta(minutes=n),
            event_id=f"p{n}",
            listing_ref="MLS42",
            listing_url="https://idx.example.com/l/MLS42",
        )
    client.force_login(agent)

    # when the agent opens the lead page
    html = client.get(reverse("leads:lead_detail", args=[lead.public_id])).content.decode()

    # then the events are in the activity with the listing link and local time, and the summary counts them
    assert html.count('data-web-event="listing_viewed"') == 2
    assert 'data-web-event="listing_saved"' in html
    assert (
        'Saved a listing: <a href="https://idx.example.com/l/MLS42" rel="noopener noreferrer nofollow">MLS42</a>'
        in html
    )
    local = timezone.localtime(at + timedelta(minutes=2), timezone=ZoneInfo("America/New_York"))
    assert local.strftime("%H:%M") in html and ("EST" in html or "EDT" in html)
    assert 'id="web-activity-summary"' in html
    assert "<strong>2</strong> listing views in the last 7 days (1 listing)" in html
    assert "<strong>1</strong> saved listing" in html


def test_a_lead_without_web_activity_shows_no_summary(client, agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    html = client.get(reverse("leads:lead_detail", args=[lead.public_id])).content.decode()
    assert 'id="web-activity-summary"' not in html
