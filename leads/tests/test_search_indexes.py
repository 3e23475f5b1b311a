"""Free-text search can use the trigram indexes on PostgreSQL (migration 0008): they
are built on the very expressions Django's icontains / contains compile to."""

import pytest
from django.db import connection

from leads.models import Contact
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("lookup", "term", "index"),
    [
        ("first_name__icontains", "ngoz", "contact_first_name_trgm"),
        ("last_name__icontains", "okafor", "contact_last_name_trgm"),
        ("email__icontains", "okafor@", "contact_email_trgm"),
        ("phone__contains", "5550123", "contact_phone_trgm"),
    ],
)
def test_the_search_lookups_can_use_the_trigram_indexes(lookup, term, index):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    lead = LeadFactory()
    Contact.objects.filter(lead=lead).update(
        first_name="Ngozi", last_name="Okafor", email="n.okafor@example.com", phone="+14155550123"
    )
    matches = Contact.objects.filter(**{lookup: term})

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = matches.explain()

    assert index in plan
    assert [contact.lead_id for contact in matches] == [lead.pk]


# ?ordering= value -> the index that serves it
SORT_INDEXES = {
    "score": "lead_live_score",
    "updated_at": "lead_live_updated_at",
    "last_contacted_at": "lead_live_last_contacted_at",
    "status": "lead_live_status",
    "created_at": "lead_live_created",
    "last_name": "contact_last_name_lead",
}


@pytest.mark.postgres
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(("sort_key", "index"), SORT_INDEXES.items())
def test_every_sort_key_of_the_list_reads_a_page_from_an_index(sort_key, index, descending):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    from leads.core.filters import SORT_FIELDS, LeadFilter
    from leads.models import Lead

    assert set(SORT_INDEXES) == set(SORT_FIELDS.values())  # a new sort key needs its index
    LeadFactory.create_batch(3)
    ordering = f"-{sort_key}" if descending else sort_key
    page = LeadFilter({"ordering": ordering}, queryset=Lead.objects.filter(archived_at__isnull=True)).qs[:20]

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    plan = page.explain()

    assert page.query.order_by  # the key was taken
    assert index in plan, plan
    assert "Sort Key" not in plan, plan


@pytest.mark.postgres
def test_the_location_filter_can_use_its_trigram_index():
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    from leads.core.filters import LeadFilter
    from leads.models import Lead

    lead = LeadFactory()
    lead.preferences.preferred_locations = ["Fremont", "Oakland"]
    lead.preferences.save()
    matches = LeadFilter({"location": "fremont"}, queryset=Lead.objects.all()).qs

    with connection.cursor() as cursor:
        # few rows: only with the scans a large table rules out does the plan show the index
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    plan = matches.explain()

    assert "prefs_locations_trgm" in plan, plan
    assert [found.pk for found in matches] == [lead.pk]
