"""LeadFilter's sort key (django-filter's OrderingFilter, one key) and ``assigned_to=me``."""

import pytest
from django.test import RequestFactory

from leads.core.filters import SORT_FIELDS, LeadFilter
from leads.models import Lead
from leads.tests.api_assertions import LEADS_URL, assert_error
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def ordered_ids(params: dict, **kwargs) -> list[int]:
    lead_filter = LeadFilter(params, queryset=Lead.objects.all(), **kwargs)
    assert lead_filter.is_valid(), lead_filter.errors
    return list(lead_filter.qs.values_list("pk", flat=True))


def test_every_sort_key_is_accepted_both_ways():
    assert LeadFilter.base_filters["ordering"].sort_keys == [
        key for name in SORT_FIELDS.values() for key in (name, f"-{name}")
    ]
    for key in LeadFilter.base_filters["ordering"].sort_keys:
        assert LeadFilter({"ordering": key}, queryset=Lead.objects.all()).is_valid(), key


def test_a_sort_key_sorts_on_its_field_and_breaks_ties_by_id_in_the_same_direction():
    low, high_first, high_second = LeadFactory(score=10), LeadFactory(score=90), LeadFactory(score=90)

    assert ordered_ids({"ordering": "score"}) == [low.pk, high_first.pk, high_second.pk]
    assert ordered_ids({"ordering": "-score"}) == [high_second.pk, high_first.pk, low.pk]


def test_last_name_sorts_on_the_contact():
    leads = {name: LeadFactory(contact__last_name=name) for name in ("Young", "Adams", "Morris")}

    assert ordered_ids({"ordering": "last_name"}) == [leads[name].pk for name in ("Adams", "Morris", "Young")]


@pytest.mark.parametrize("value", ["score,status", "contact__last_name", "id", "--score", "Score"])
def test_only_one_of_the_sort_keys_is_accepted_with_the_same_message_as_before(api_client, agent, value):
    error = assert_error(api_client(agent).get(LEADS_URL, {"ordering": value}), 400, "validation_error")

    assert error["fields"] == {"ordering": [f"Select a valid choice. {value} is not one of the available choices."]}


def test_assigned_to_me_is_the_actor_or_else_the_requests_user(agent, other_agent):
    mine, theirs = LeadFactory(assigned_to=agent), LeadFactory(assigned_to=other_agent)
    request = RequestFactory().get(LEADS_URL)
    request.user = other_agent

    assert ordered_ids({"assigned_to": "me"}, actor=agent) == [mine.pk]
    assert ordered_ids({"assigned_to": "me"}, request=request) == [theirs.pk]
    assert ordered_ids({"assigned_to": "me"}, request=request, actor=agent) == [mine.pk]
