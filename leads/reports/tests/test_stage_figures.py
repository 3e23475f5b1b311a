"""The stage figures the reports read (``Lead.furthest_stage``, ``Lead.stage_entered_at``,
``StageStay``) stay equal to a recomputation from the status history, whichever path
moved the lead: the API's PATCH, the pages' bulk action, the admin's action, creation
(API, CSV import), merges and their undo; and the funnel and time in stage read from
them give what the history gives."""

import itertools
import statistics

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from leads.core.bookkeeping import recount_stage_figures
from leads.deals.models import Deal, DealStage
from leads.imports.tasks import import_leads
from leads.models import Lead, LeadImport, LeadStatus, StageStay, StatusChange
from leads.reports.filters import parse_filters
from leads.reports.funnel import funnel_report
from leads.reports.pipeline import PIPELINE, rank
from leads.reports.stages import STAGES, stages_report
from leads.tests.api_assertions import LEADS_URL, lead_url
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

# Forward, a skip, backward, lost, reopened, closed.
MOVES = ["contacted", "showing", "qualified", "lost", "contacted", "offer", "closed"]


def move(client, lead: Lead, status: str):
    """Move ``lead`` over the API (closing records its deal first, as the API asks)."""
    if status == LeadStatus.CLOSED and not Deal.objects.filter(lead=lead).exists():
        Deal.objects.create(
            lead=lead,
            property_address="1 A St",
            price=100,
            commission_amount=3,
            stage=DealStage.CLOSED,
            closed_on="2026-11-01",
        )
    response = client.patch(lead_url(lead.public_id), {"status": status}, format="json")
    assert response.status_code == 200, response.content
    return response


def from_history(lead: Lead) -> tuple[int, object, list[tuple[str, float]]]:
    """(furthest stage, latest move, finished stays) computed from the status history."""
    changes = sorted(StatusChange.objects.filter(lead=lead), key=lambda change: (change.changed_at, change.pk))
    furthest = max((rank(change.to_status) for change in changes), default=0)
    latest = changes[-1].changed_at if changes else None
    stays = [
        (change.to_status, (following.changed_at - change.changed_at).total_seconds() / 86400)
        for change, following in itertools.pairwise(changes)
    ]
    return furthest, latest, sorted(stays)


def kept(lead: Lead) -> tuple[int, object, list[tuple[str, float]]]:
    fresh = Lead.objects.get(pk=lead.pk)
    stays = list(StageStay.objects.filter(lead=lead))
    assert all(stay.lead_created_at == fresh.created_at for stay in stays)
    return fresh.furthest_stage, fresh.stage_entered_at, sorted((stay.stage, stay.days) for stay in stays)


def assert_same(figures, expected) -> None:
    """Equal figures, the days to within a tenth of a second (SQLite's julianday)."""
    (furthest, latest, stays), (expected_furthest, expected_latest, expected_stays) = figures, expected
    assert (furthest, latest) == (expected_furthest, expected_latest)
    assert [stage for stage, _ in stays] == [stage for stage, _ in expected_stays]
    assert [days for _, days in stays] == pytest.approx([days for _, days in expected_stays], abs=1e-6)


def assert_kept_right(lead: Lead) -> None:
    assert_same(kept(lead), from_history(lead))


def test_api_moves_forward_back_lost_reopened_and_closed_keep_the_figures(api_client, manager):
    lead = LeadFactory(status=LeadStatus.NEW)
    client = api_client(manager)

    for status in MOVES:
        move(client, lead, status)
        assert_kept_right(lead)

    furthest, _, stays = kept(lead)
    assert furthest == rank("closed")
    assert [stage for stage, _ in stays] == sorted(MOVES[:-1])  # every move but the last one ended a stay


def test_a_move_to_the_same_status_changes_nothing(api_client, manager):
    lead = LeadFactory(status=LeadStatus.NEW)
    client = api_client(manager)
    move(client, lead, "contacted")
    before = kept(lead)

    move(client, lead, "contacted")

    assert kept(lead) == before


def test_a_lead_created_over_the_api_starts_in_its_first_stage(api_client, manager):
    body = {
        "lead_type": "buyer",
        "source": "website",
        "contact": {"first_name": "Ada", "last_name": "Byron", "email": "ada.figures@example.com"},
    }
    response = api_client(manager).post(LEADS_URL, body, format="json")
    assert response.status_code == 201, response.content

    lead = Lead.objects.get(public_id=response.json()["lead"]["id"])
    assert_kept_right(lead)
    assert kept(lead) == (0, lead.created_at, [])


def test_imported_leads_start_in_their_first_stage(client, agent):
    client.force_login(agent)
    text = "first_name,last_name,email,lead_type,source\nAda,Lovelace,ada.import@example.com,buyer,website\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.post(reverse("leads:imports"), {"file": SimpleUploadedFile("leads.csv", text.encode(), "text/csv")})
    import_leads(LeadImport.objects.latest("created_at").pk)

    lead = Lead.objects.get(contact__email="ada.import@example.com")
    assert_kept_right(lead)
    assert kept(lead)[1] == lead.created_at


def test_the_pages_bulk_status_action_keeps_the_figures(client, manager):
    leads = LeadFactory.create_batch(3, status=LeadStatus.NEW)
    client.force_login(manager)
    ids = [lead.public_id for lead in leads[:2]]

    for status in ("qualified", "nurture", "showing"):
        client.post(reverse("leads:lead_bulk_action"), {"action": "status", "status": status, "lead_ids": ids})

    for lead in leads:
        assert_kept_right(lead)
    assert kept(leads[0])[0] == rank("showing")
    assert [stage for stage, _ in kept(leads[0])[2]] == ["nurture", "qualified"]


def test_the_admins_status_action_keeps_the_figures(client, admin_user):
    leads = LeadFactory.create_batch(2, status=LeadStatus.NEW)
    client.force_login(admin_user)
    changelist = reverse("admin:leads_lead_changelist")

    for status in ("offer", "lost"):
        client.post(
            changelist,
            {ACTION_CHECKBOX_NAME: [lead.pk for lead in leads], "action": "change_status", "status": status},
        )
        client.post(
            changelist,
            {
                ACTION_CHECKBOX_NAME: [lead.pk for lead in leads],
                "action": "change_status",
                "status": status,
                "apply": "Apply",
            },
        )

    for lead in leads:
        assert Lead.objects.get(pk=lead.pk).status == "lost"
        assert_kept_right(lead)
        assert kept(lead)[0] == rank("offer")


def test_a_merge_and_its_undo_keep_both_leads_figures(api_client, manager):
    primary = LeadFactory(status=LeadStatus.NEW, contact__email="pat@example.com")
    duplicate = LeadFactory(status=LeadStatus.NEW, contact__email="pat.w@example.com")
    client = api_client(manager)
    for lead, moves in ((primary, ["contacted", "qualified"]), (duplicate, ["contacted", "showing", "offer"])):
        for status in moves:
            move(client, lead, status)
    before = {lead.pk: kept(lead) for lead in (primary, duplicate)}

    merged = client.post(
        f"{lead_url(primary.public_id)}/merge",
        {"duplicate_id": duplicate.public_id, "prefer": {"status": "duplicate"}},
        format="json",
    )
    assert merged.status_code == 201, merged.content
    for lead in (primary, duplicate):
        assert_kept_right(lead)
    assert kept(primary)[0] == rank("offer")  # the duplicate's history came with it
    assert kept(duplicate) == (0, None, [])

    undone = client.post(f"/api/v2/merges/{merged.json()['merge']['id']}/undo")
    assert undone.status_code == 200, undone.content
    for lead in (primary, duplicate):
        assert_kept_right(lead)
        assert_same(kept(lead), before[lead.pk])


def test_the_recount_the_migration_runs_gives_the_kept_figures(api_client, manager):
    leads = LeadFactory.create_batch(3, status=LeadStatus.NEW)
    client = api_client(manager)
    for lead, moves in zip(leads, (MOVES, MOVES[:3], []), strict=True):
        for status in moves:
            move(client, lead, status)
    before = {lead.pk: kept(lead) for lead in leads}

    recount_stage_figures(None)

    for lead in leads:
        assert_same(kept(lead), before[lead.pk])


def test_the_funnel_and_time_in_stage_after_moves_match_the_history(api_client, manager):
    leads = LeadFactory.create_batch(4, status=LeadStatus.NEW)
    client = api_client(manager)
    for index, lead in enumerate(leads):
        for status in MOVES[: 2 + index * 2]:
            move(client, lead, status)
    filters = parse_filters(manager, {})

    funnel = funnel_report(filters)
    stages = stages_report(filters)

    highest = [
        max([rank(change.to_status) for change in lead.status_changes.all()] + [rank(lead.status)])
        for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads])
    ]
    assert [row["reached"] for row in funnel.rows] == [
        sum(1 for value in highest if value >= index) for index in range(len(PIPELINE))
    ]
    stays: dict[str, list[float]] = {}
    for lead in leads:
        for stage, days in from_history(lead)[2]:
            stays.setdefault(stage, []).append(days)
    for row, status in zip(stages.rows, STAGES, strict=True):
        values = stays.get(status.value, [])
        assert row["stays"] == len(values)
        assert row["median_days"] == (round(statistics.median(values), 1) if values else None)


@pytest.mark.parametrize("extra", [{}, {"source": "zillow"}])
def test_time_in_stage_leaves_out_the_stays_of_archived_leads(api_client, manager, extra):
    kept_lead, archived_lead = LeadFactory.create_batch(2, status=LeadStatus.NEW, source="zillow")
    client = api_client(manager)
    for lead in (kept_lead, archived_lead):
        for status in MOVES[:3]:
            move(client, lead, status)
    assert client.delete(lead_url(archived_lead.public_id)).status_code in (200, 204)

    report = stages_report(parse_filters(manager, extra))

    counted = {row["stage"]: row["stays"] for row in report.rows if row["stays"]}
    assert counted == {LeadStatus(stage).label: 1 for stage, _ in from_history(kept_lead)[2]}
