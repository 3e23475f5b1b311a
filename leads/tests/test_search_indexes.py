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
