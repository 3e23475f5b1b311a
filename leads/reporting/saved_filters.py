"""Saved lead-list filters ("smart lists"), one set per user."""

from django.db import IntegrityError, transaction
from django.http import QueryDict

from leads.core.filters import LeadFilter
from leads.errors import NotFound, ValidationFailed
from leads.models import SavedFilter, User

MAX_PER_USER = 30
FILTER_KEYS = tuple(LeadFilter.base_filters)


def filter_params(params: QueryDict) -> QueryDict:
    """Only the list's filter parameters, without blanks (so page links stay short)."""
    kept = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        values = [value for value in params.getlist(key) if value.strip()]
        if values:
            kept.setlist(key, values)
    return kept


def saved_filter_list(*, owner: User) -> list[SavedFilter]:
    return list(SavedFilter.objects.filter(owner=owner))


@transaction.atomic
def saved_filter_create(*, owner: User, name: str, query: QueryDict) -> SavedFilter:
    """Save the filters of ``query`` under ``name``; the same name replaces the old one."""
    name = " ".join(name.split())
    encoded = filter_params(query).urlencode()
    errors = {}
    if not name:
        errors["name"] = ["Give the smart list a name."]
    elif len(name) > 60:
        errors["name"] = ["Use at most 60 characters for the name."]
    if len(encoded) > 1000:
        errors["query"] = ["These filters are too long to save."]
    if errors:
        raise ValidationFailed(fields=errors)
    existing = SavedFilter.objects.filter(owner=owner, name=name).first()
    if existing is None and SavedFilter.objects.filter(owner=owner).count() >= MAX_PER_USER:
        raise ValidationFailed(fields={"name": [f"You can keep at most {MAX_PER_USER} smart lists."]})
    try:
        with transaction.atomic():
            saved, _ = SavedFilter.objects.update_or_create(owner=owner, name=name, defaults={"query": encoded})
    except IntegrityError:  # a parallel save of the same name won
        saved = SavedFilter.objects.get(owner=owner, name=name)
    return saved


def saved_filter_delete(*, owner: User, filter_id: int) -> None:
    deleted, _ = SavedFilter.objects.filter(owner=owner, pk=filter_id).delete()
    if not deleted:
        raise NotFound("Smart list not found.")
