"""Every output object is declared once (``leads.core.shapes``): each function tied to a shape
with ``@renders`` returns exactly what its shape documents, checked against the schema
drf-spectacular generates from the shape (objects closed, keys required unless declared
``required=False``), on real objects in each of their states. A key added to a renderer
and not to its shape fails here, and so does a key added to a shape and not to its
renderer; a renderer with no samples here fails too."""

import inspect

import pytest
from django.test import RequestFactory
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from jsonschema import Draft202012Validator
from rest_framework.views import APIView

from integrations.plans import representations as plan_representations
from integrations.plans.selectors import what_will_happen, who_would_get
from integrations.plans.tests.conftest import plan_with
from integrations.property_alerts import api as alert_settings_api
from integrations.routing import representations as routing_representations
from integrations.routing.tests import samples as routing_samples
from integrations.webhooks import representations as webhook_representations
from integrations.webhooks.models import DeliveryStatus
from integrations.webhooks.tests.factories import WebhookDeliveryFactory, WebhookSubscriptionFactory
from leads.api import bodies, envelope
from leads.audit import history as audit
from leads.core import representations, selectors
from leads.core.inputs import LeadInput
from leads.core.services import BatchItemResult, LeadManagementService
from leads.core.shapes import RENDERERS, Shape, text
from leads.models import AuditEntry, Lead, LeadMerge
from leads.tests.api_assertions import LEADS_URL, lead_url
from leads.tests.factories import ContactFactory, InteractionFactory, LeadFactory, seed_payload

pytestmark = pytest.mark.django_db

RENDERER_MODULES = (
    representations,
    bodies,
    envelope,
    webhook_representations,
    plan_representations,
    routing_representations,
    alert_settings_api,
)


def shape_validator(shape: type[Shape]) -> Draft202012Validator:
    """A validator for what ``shape`` documents, generated as /api/v2/schema is
    (the same drf-spectacular settings and postprocessing hooks)."""

    class ShapeView(APIView):
        @extend_schema(operation_id="shape", responses={200: shape})
        def get(self, request): ...

    schema = SchemaGenerator(patterns=[path("api/v2/shape", ShapeView.as_view())]).get_schema(public=True)
    body = schema["paths"]["/api/v2/shape"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**body, "components": schema["components"]})


def mismatches(shape: type[Shape], data: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in shape_validator(shape).iter_errors(data)
    ]


# --- real objects, in each of their states ------------------------------------------------


def args(*positional, **keywords) -> tuple[tuple, dict]:
    """One call of a renderer."""
    return positional, keywords


@pytest.fixture
def worked_lead(api_client, agent, django_capture_on_commit_callbacks) -> Lead:
    """A lead made through the API with everything filled in, after the after-save work
    (analysis, score and breakdown), with an interaction and a change in its history."""
    client = api_client(agent)
    body = seed_payload(
        metadata={"crm_id": "abc-1"},
        tags=["vip"],
        timeline={"urgency_level": "high", "target_move_date": "2027-03-01", "pre_approval_amount": 450000.5},
        preferences={"property_types": ["condo"], "min_bathrooms": 1.5, "min_price": 1000, "max_price": 2000},
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(LEADS_URL, body, format="json")
        lead_id = created.json()["lead"]["id"]
        logged = client.post(
            lead_url(lead_id, interactions=True),
            {"type": "call", "summary": "Intro", "next_follow_up": "2027-01-02T10:00:00Z"},
            format="json",
        )
        updated = client.patch(lead_url(lead_id), {"status": "qualified"}, format="json", HTTP_X_REQUEST_ID="req-1")
    assert (created.status_code, logged.status_code, updated.status_code) == (201, 201, 200)
    lead = selectors.with_lead_details(Lead.objects.filter(public_id=lead_id)).get()
    assert lead.score is not None and lead.score_breakdown and lead.interactions.all()
    return lead


@pytest.fixture
def bare_leads() -> list[Lead]:
    """Leads with nothing optional (no agent, score or dates): one reached by phone only,
    one by email only."""
    leads = []
    for reach in ({"email": ""}, {"phone": ""}):
        lead = LeadFactory(assigned_to=None, contact=None)
        ContactFactory(lead=lead, **reach)
        leads.append(selectors.with_lead_details(Lead.objects.filter(pk=lead.pk)).get())
    return leads


@pytest.fixture
def merges(api_client, manager, worked_lead) -> list[LeadMerge]:
    """A merge as made, and the same merge undone."""
    client = api_client(manager)
    duplicate_id = client.post(
        LEADS_URL, seed_payload(contact={"first_name": "Jo", "phone": "+14155550199"}), format="json"
    ).json()["lead"]["id"]
    merged = client.post(
        f"{lead_url(worked_lead.public_id)}/merge",
        {"duplicate_id": duplicate_id, "prefer": {"contact.phone": "duplicate"}},
        format="json",
    )
    assert merged.status_code == 201, merged.content
    merge_id = merged.json()["merge"]["id"]
    with_parts = LeadMerge.objects.select_related("primary", "duplicate", "merged_by", "undone_by")
    as_made = with_parts.get(public_id=merge_id)
    assert client.post(f"/api/v2/merges/{merge_id}/undo").status_code == 200
    undone = with_parts.get(public_id=merge_id)
    assert (as_made.undone_at, undone.undone_by) == (None, manager)
    return [as_made, undone]


def lead_samples(request) -> list[tuple]:
    return [args(lead) for lead in [request.getfixturevalue("worked_lead"), *request.getfixturevalue("bare_leads")]]


def interaction_samples(request) -> list[tuple]:
    lead = request.getfixturevalue("worked_lead")
    anonymous = InteractionFactory(lead=lead, created_by=None)
    return [args(interaction) for interaction in [*lead.interactions.all(), anonymous]]


def audit_entry_samples(request) -> list[tuple]:
    lead = request.getfixturevalue("worked_lead")
    entries = list(AuditEntry.objects.filter(lead=lead).select_related("actor"))
    # with and without a request id; by the agent, and by the system (the score)
    assert {entry.request_id for entry in entries} >= {"", "req-1"}
    assert {entry.actor_id is None for entry in entries} == {True, False}
    return [args(entry) for entry in entries]


def merge_samples(request) -> list[tuple]:
    return [args(merge) for merge in request.getfixturevalue("merges")]


def lead_page_samples(request) -> list[tuple]:
    service = LeadManagementService(request.getfixturevalue("agent"))
    request.getfixturevalue("worked_lead")
    LeadFactory(assigned_to=request.getfixturevalue("agent"))
    first = service.list_leads(filters={}, page_size=1)
    assert first.next_cursor is not None
    by_cursor = service.list_leads(filters={}, page_size=1, cursor=first.next_cursor)
    empty = service.list_leads(filters={}, page=9)
    return [args(first), args(by_cursor), args(empty)]


def history_page_samples(request) -> list[tuple]:
    lead = request.getfixturevalue("worked_lead")
    user = request.getfixturevalue("agent")
    return [args(audit.lead_history(user=user, lead_id=lead.public_id))]


def batch_outcomes(request) -> list[BatchItemResult]:
    request.getfixturevalue("worked_lead")  # its email makes the second item a duplicate
    items = [seed_payload(contact={"first_name": "Bea", "email": "bea@example.com"}), seed_payload()]
    outcomes = LeadManagementService(request.getfixturevalue("agent")).create_leads_batch(
        [LeadInput().run_validation(item) for item in items]
    )
    invalid = BatchItemResult(2, BatchItemResult.ERROR, code="validation_error", errors={"contact": ["Required."]})
    assert [outcome.status for outcome in outcomes] == [BatchItemResult.CREATED, BatchItemResult.DUPLICATE]
    return [*outcomes, invalid]


def batch_item_samples(request) -> list[tuple]:
    return [args(index, outcome) for index, outcome in enumerate(batch_outcomes(request))]


def batch_result_samples(request) -> list[tuple]:
    items = [bodies.batch_item_data(index, outcome) for index, outcome in enumerate(batch_outcomes(request))]
    return [args(items), args([])]


def error_samples(request) -> list[tuple]:
    http_request = RequestFactory().get(LEADS_URL)
    duplicate = {"existing_lead_id": "lead_" + "a" * 24, "existing_lead_visible": False}
    taken = {"contact.email": ["Taken."]}
    return [
        args(http_request, code="not_found", message="Lead not found."),
        args(http_request, code="validation_error", message="Bad.", fields=taken),
        args(http_request, code="duplicate_lead", message="Dup.", fields=taken, details=duplicate),
    ]


def subscription_samples(request) -> list[tuple]:
    return [args(WebhookSubscriptionFactory()), args(WebhookSubscriptionFactory(active=False, events=["lead.scored"]))]


def delivery_samples(request) -> list[tuple]:
    return [args(WebhookDeliveryFactory(status=status, response_status=500)) for status in DeliveryStatus.values]


def plan_forecasts(request):
    """A lead in a plan of every step kind (one that ran, one still to come), and a manager."""
    from django.utils import timezone

    from integrations.plans import scheduler, services

    manager = request.getfixturevalue("manager")
    lead = LeadFactory(assigned_to=request.getfixturevalue("agent"))
    kinds = ["send_email", "send_text", "wait", "create_task", "add_tag", "remove_tag", "notify_manager"]
    plan = plan_with(
        {"kind": "wait", "wait_minutes": 5},
        *[{"kind": kind, "subject": "s", "body": "b", "tag": "t", "wait_minutes": 1} for kind in kinds],
        {"kind": "change_status", "status": "nurture"},
    )
    enrolment = services.enrol(lead=lead, plan=plan, reason="sample", by=manager)
    scheduler.run_due()
    forecasts = what_will_happen(lead, timezone.now())
    recipients, _ = who_would_get(plan, timezone.now(), user=manager)
    return enrolment, forecasts, recipients


def enrolment_samples(request) -> list[tuple]:
    enrolment, _, _ = plan_forecasts(request)
    from integrations.plans.selectors import enrolments_of

    return [args(enrolment), args(enrolments_of(enrolment.lead).get())]


def plan_forecast_samples(request) -> list[tuple]:
    return [args(forecast) for forecast in plan_forecasts(request)[1]]


def step_forecast_samples(request) -> list[tuple]:
    return [args(step) for forecast in plan_forecasts(request)[1] for step in forecast.steps]


def recipient_samples(request) -> list[tuple]:
    from integrations.plans.selectors import Recipient

    return [args(Recipient(LeadFactory(), None))]


def alert_settings_samples(request) -> list[tuple]:
    from django.utils import timezone

    from integrations.property_alerts.lead_section import lead_alerts_card
    from integrations.property_alerts.tests.factories import AlertMessageFactory, SubscriptionFactory

    request.getfixturevalue("db")
    paused = SubscriptionFactory(frequency="daily", paused_at=timezone.now(), note="Alerts paused: 3 not opened")
    AlertMessageFactory(lead=paused.lead)
    return [args(lead_alerts_card(LeadFactory())), args(lead_alerts_card(paused.lead))]


# Each renderer's builder of sample calls (``args``), from the test's fixtures.
SAMPLES = {
    representations.lead_data: lead_samples,
    representations.interaction_data: interaction_samples,
    representations.audit_entry_data: audit_entry_samples,
    representations.merge_data: merge_samples,
    bodies.lead_page_data: lead_page_samples,
    bodies.history_page_data: history_page_samples,
    bodies.batch_item_data: batch_item_samples,
    bodies.batch_result_data: batch_result_samples,
    envelope.error_body: error_samples,
    webhook_representations.subscription_data: subscription_samples,
    webhook_representations.new_subscription_data: subscription_samples,
    webhook_representations.delivery_data: delivery_samples,
    plan_representations.enrolment_data: enrolment_samples,
    plan_representations.plan_forecast_data: plan_forecast_samples,
    plan_representations.step_forecast_data: step_forecast_samples,
    plan_representations.recipient_data: recipient_samples,
    **routing_samples.SAMPLES,
    alert_settings_api.settings_data: alert_settings_samples,
}


@pytest.mark.parametrize("renderer", list(RENDERERS), ids=lambda renderer: renderer.__name__)
def test_each_renderer_returns_exactly_its_shape(request, renderer):
    assert renderer in SAMPLES, f"{renderer.__qualname__} is tied to a shape but has no samples in this test"
    shape = RENDERERS[renderer]

    for positional, keywords in SAMPLES[renderer](request):
        data = renderer(*positional, **keywords)

        assert mismatches(shape, data) == [], f"{renderer.__name__}{positional!r}"


def test_every_renderer_is_tied_to_a_shape():
    untied = [
        f"{module.__name__}.{name}"
        for module in RENDERER_MODULES
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and (name.endswith("_data") or name.endswith("_body"))
        and function not in RENDERERS
    ]

    assert untied == []
    assert set(SAMPLES) == set(RENDERERS)


def test_the_published_schema_documents_the_tied_shapes(api_client):
    """/api/v2/schema shows the shapes themselves, not a copy: the same keys, the same required ones."""
    components = api_client().get("/api/v2/schema").json()["components"]["schemas"]

    for shape in (
        representations.LeadShape,
        representations.InteractionShape,
        representations.AuditEntryShape,
        representations.MergeShape,
        bodies.BatchItemShape,
        envelope.ErrorShape,
        webhook_representations.NewWebhookSubscriptionShape,
        webhook_representations.WebhookDeliveryShape,
    ):
        published = components[shape.Meta.ref_name]
        generated = shape_validator(shape).schema["components"]["schemas"][shape.Meta.ref_name]
        assert (set(published["properties"]), published.get("required")) == (
            set(generated["properties"]),
            generated.get("required"),
        )
        assert set(published["properties"]) == set(shape().fields)


# --- the check can fail -----------------------------------------------------------------


def test_a_key_only_the_renderer_has_fails(worked_lead):
    data = representations.lead_data(worked_lead)
    assert mismatches(representations.LeadShape, data) == []

    for part in (data, data["contact"], data["interactions"][0], data["processing"]):
        part["new_key"] = 1

        assert any("'new_key' was unexpected" in problem for problem in mismatches(representations.LeadShape, data))
        del part["new_key"]


def test_a_key_only_the_shape_has_fails(worked_lead):
    class LeadWithNewKeyShape(representations.LeadShape):
        new_key = text()

    class ContactWithNewKeyShape(representations.LeadContactShape):
        new_key = text()

    class LeadWithNewContactKeyShape(representations.LeadShape):
        contact = ContactWithNewKeyShape()

    data = representations.lead_data(worked_lead)

    assert mismatches(LeadWithNewKeyShape, data) == ["(top): 'new_key' is a required property"]
    assert mismatches(LeadWithNewContactKeyShape, data) == ["contact: 'new_key' is a required property"]


def test_an_optional_key_may_be_left_out_but_not_misspelt():
    item = {"index": 0, "status": "created"}

    assert mismatches(bodies.BatchItemShape, item) == []
    assert mismatches(bodies.BatchItemShape, {**item, "lead": "lead_x"}) != []
