"""Website activity rescores the lead once its lead event is relayed: one rescoring per
relay, the lead's version unchanged, no after-save pipeline run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import PipelineJob
from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_posted_views_rescore_the_lead_with_the_reason_and_no_pipeline_run(
    api_client, agent, django_capture_on_commit_callbacks
):
    # given a lead that was scored at version 1 with no website activity
    lead = LeadFactory(assigned_to=agent, score=10, score_breakdown=[])
    version = lead.version
    jobs = PipelineJob.objects.count()
    now = timezone.now()
    views = [
        {
            "event_id": f"v{n}",
            "kind": "listing_viewed",
            "occurred_at": (now - timedelta(hours=n)).isoformat(),
            "listing_ref": f"MLS{n}",
        }
        for n in range(1, 7)
    ]

    # when an IDX website posts six listing views and the relay runs after commit
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(agent).post(f"/api/v2/leads/{lead.public_id}/events", views, format="json")
    assert response.status_code == 201

    # then the lead was rescored with the reason, at the same version, and no pipeline job was made
    lead = Lead.objects.get(pk=lead.pk)
    web = next(item for item in lead.score_breakdown if item["factor"] == "web_activity")
    assert web["reason"] == "Viewed 6 listings in the last 14 days on the website."
    assert lead.version == version
    assert lead.score != 10
    assert PipelineJob.objects.count() == jobs


def test_one_relay_of_several_leads_activity_is_one_rescoring_task(django_capture_on_commit_callbacks):
    from integrations.scoring import tasks
    from leads.events.models import LeadEvent, LeadEventKind
    from leads.tests.lead_events import relay_recorded_events
    from leads.webevents.services import record_web_event

    # given three leads with website activity (a lead event each) and an unrelated score event
    leads = [LeadFactory(score=None) for _ in range(3)]
    for n, lead in enumerate(leads):
        record_web_event(lead=lead, kind="inquiry", occurred_at=timezone.now(), event_id=f"q{n}", listing_ref="MLS1")
    events = list(LeadEvent.objects.filter(kind=LeadEventKind.LEAD_WEB_ACTIVITY))
    assert len(events) == 3

    # when one relay hands them to the subscribers
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        relay_recorded_events()

    # then one task rescored all three, each with its inquiry counted
    rescorings = [callback for callback in callbacks if getattr(callback, "func", None) is tasks.dispatch]
    assert [callback.args for callback in rescorings] == [(sorted(lead.pk for lead in leads),)]
    for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads]):
        web = next(item for item in lead.score_breakdown if item["factor"] == "web_activity")
        assert web["reason"] == "Sent 1 inquiry in the last 14 days on the website."
