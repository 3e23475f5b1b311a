"""Each interaction carries its lead's source and type (kept by the triggers of
migration 0021), which the leaderboard's activity narrowed by source or type reads:
logged over the API, after the lead's source or type changes, after a merge moves
the interactions and after its undo moves them back, they equal the lead's."""

import pytest

from leads.models import Interaction, Lead
from leads.reports.filters import parse_filters
from leads.reports.leaderboard import activity_by_agent
from leads.tests.api_assertions import lead_url
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def carried(lead: Lead) -> set[tuple[str, str]]:
    return set(Interaction.objects.filter(lead=lead).values_list("lead_source", "lead_type"))


def log_call(client, lead: Lead) -> None:
    response = client.post(
        lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "Called"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_a_logged_interaction_carries_its_leads_source_and_type_and_follows_their_changes(api_client, manager):
    lead = LeadFactory(source="zillow", lead_type="buyer")
    client = api_client(manager)
    log_call(client, lead)
    assert carried(lead) == {("zillow", "buyer")}

    response = client.patch(lead_url(lead.public_id), {"source": "referral", "lead_type": "seller"}, format="json")

    assert response.status_code == 200, response.content
    assert carried(lead) == {("referral", "seller")}


def test_a_merge_and_its_undo_move_the_values_with_the_interactions(api_client, manager):
    primary = LeadFactory(source="website", lead_type="buyer", contact__email="lee@example.com")
    duplicate = LeadFactory(source="zillow", lead_type="seller", contact__email="lee.w@example.com")
    client = api_client(manager)
    for lead in (primary, duplicate):
        log_call(client, lead)

    merged = client.post(f"{lead_url(primary.public_id)}/merge", {"duplicate_id": duplicate.public_id}, format="json")
    assert merged.status_code == 201, merged.content
    assert carried(primary) == {("website", "buyer")}

    undone = client.post(f"/api/v2/merges/{merged.json()['merge']['id']}/undo")
    assert undone.status_code == 200, undone.content
    assert carried(primary) == {("website", "buyer")}
    assert carried(duplicate) == {("zillow", "seller")}


@pytest.mark.parametrize(
    "extra", [{"source": "zillow"}, {"lead_type": "seller"}, {"source": "zillow", "lead_type": "buyer"}]
)
def test_the_narrowed_activity_equals_a_count_through_the_leads(api_client, manager, agent, extra):
    client = api_client(agent)
    for source in ("zillow", "website"):
        for lead_type in ("buyer", "seller"):
            lead = LeadFactory(source=source, lead_type=lead_type, assigned_to=agent)
            log_call(client, lead)
    moved = Lead.objects.filter(assigned_to=agent).first()
    api_client(manager).patch(lead_url(moved.public_id), {"source": "referral"}, format="json")

    found = activity_by_agent(parse_filters(manager, extra), [agent.pk])

    through_leads = Interaction.objects.filter(
        created_by=agent, **{f"lead__{key}": value for key, value in extra.items()}
    ).count()
    assert found.get(agent.pk, {}).get("call", 0) == through_leads
