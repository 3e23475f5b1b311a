"""Invariants the database itself enforces, whoever writes the rows."""

import re

import pytest
from django.db import IntegrityError, transaction

from leads.models import Contact, Lead, Preferences, Timeline, new_public_lead_id
from leads.tests.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db


def refused_by_the_database(write) -> bool:
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize(
    ("min_price", "max_price", "refused"),
    [(100, 200, False), (200, 200, False), (None, 200, False), (100, None, False), (201, 200, True)],
)
def test_min_price_may_not_exceed_max_price(min_price, max_price, refused):
    lead = LeadFactory(preferences=None)

    def write():
        Preferences.objects.create(lead=lead, min_price=min_price, max_price=max_price)

    assert refused_by_the_database(write) is refused


@pytest.mark.parametrize("field", ["min_price", "max_price"])
def test_prices_may_not_be_negative(field):
    lead = LeadFactory(preferences=None)

    assert refused_by_the_database(lambda: Preferences.objects.create(lead=lead, **{field: -1}))


def test_pre_approval_amount_may_not_be_negative():
    lead = LeadFactory(timeline=None)

    assert refused_by_the_database(lambda: Timeline.objects.create(lead=lead, pre_approval_amount=-1))


@pytest.mark.parametrize(("score", "refused"), [(0, False), (100, False), (None, False), (101, True)])
def test_score_is_between_0_and_100(score, refused):
    lead = LeadFactory()
    lead.score = score

    assert refused_by_the_database(lead.save) is refused


def test_a_negative_score_is_refused():
    lead = LeadFactory()

    assert refused_by_the_database(lambda: Lead.objects.filter(pk=lead.pk).update(score=-1))


@pytest.mark.parametrize(
    ("email", "phone", "refused"),
    [
        ("a@example.com", "", False),
        ("", "+14155550134", False),
        ("a@example.com", "+14155550134", False),
        ("", "", True),
    ],
)
def test_a_contact_needs_an_email_or_a_phone(email, phone, refused):
    lead = LeadFactory(contact=None)

    def write():
        Contact.objects.create(lead=lead, first_name="A", email=email, phone=phone)

    assert refused_by_the_database(write) is refused


def test_public_ids_are_prefixed_random_and_unique():
    ids = {new_public_lead_id() for _ in range(1000)}

    assert len(ids) == 1000
    assert all(re.fullmatch(r"lead_[0-9a-f]{24}", lead_id) for lead_id in ids)


def test_public_id_is_unique_in_the_database():
    lead = LeadFactory()

    assert refused_by_the_database(lambda: LeadFactory(public_id=lead.public_id))


def test_deleting_a_lead_deletes_its_parts():
    lead = LeadFactory()

    lead.delete()

    assert not Contact.objects.exists()
    assert not Preferences.objects.exists()
    assert not Timeline.objects.exists()


def test_lead_and_contact_read_well_in_the_admin_and_logs():
    contact = ContactFactory(first_name="Ada", last_name="Lovelace")

    assert str(contact) == "Ada Lovelace"
    assert str(contact.lead) == f"Ada Lovelace ({contact.lead.public_id})"
