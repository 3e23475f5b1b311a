"""List filters shared by the API and the agent pages."""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField

from leads.core.search import search_leads
from leads.core.validation import clean_text
from leads.models import LeadSource, LeadStatus, LeadType, UrgencyLevel, User

# The list's sort keys, by the field each sorts on; each also descending ("-score").
SORT_FIELDS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "score": "score",
    "status": "status",
    "last_contacted_at": "last_contacted_at",
    "contact__last_name": "last_name",
}


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime that must also exist in UTC (9999-12-31T23:00-05:00 does not)."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError:
            raise ValidationError("Enter a date and time between years 1 and 9999.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class SortKeyOrderingFilter(django_filters.OrderingFilter):
    """django-filter's ordering by one sort key (``?ordering=-score``), with the id as
    the tie-breaker in the same direction, so pages by number never repeat or skip a
    lead. One key, not django-filter's comma-separated list: the cleaned value is the
    key itself, which the cursor pages read (``leads.core.pagination.CURSOR_ORDERINGS``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.field_class = django_filters.ChoiceFilter.field_class  # the plain choice, not its CSV variant

    @property
    def sort_keys(self) -> list[str]:
        """Every value ``ordering`` accepts, ascending then descending per field."""
        return [value for value, _label in self.extra["choices"]]

    def filter(self, queryset, value):
        if value in EMPTY_VALUES:
            return queryset
        field = self.get_ordering_value(value)
        if field.lstrip("-").startswith("contact__"):
            # Every lead has its contact: an inner join lets PostgreSQL walk the contact's sort index.
            queryset = queryset.filter(contact__isnull=False)
        return queryset.order_by(field, "-id" if field.startswith("-") else "id")


class LeadFilter(django_filters.FilterSet):
    """The list's filters and sort key. ``assigned_to=me`` means ``actor``, or else the
    user of ``request``."""

    # distinct=False: these are columns of the lead or of a one-to-one part, so no join
    # can repeat a row, and a DISTINCT over a million rows sorts on disk (bench/ANALYSIS.md).
    status = django_filters.MultipleChoiceFilter(choices=LeadStatus.choices, distinct=False)
    lead_type = django_filters.MultipleChoiceFilter(choices=LeadType.choices, distinct=False)
    source = django_filters.MultipleChoiceFilter(choices=LeadSource.choices, distinct=False)
    urgency = django_filters.MultipleChoiceFilter(
        field_name="timeline__urgency_level", choices=UrgencyLevel.choices, distinct=False
    )
    assigned_to = django_filters.CharFilter(method="filter_assigned_to", max_length=150)
    location = django_filters.CharFilter(method="filter_location", max_length=100)
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte", min_value=0, max_value=100)
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte", min_value=0, max_value=100)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    ordering = SortKeyOrderingFilter(fields=SORT_FIELDS)

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, actor: User | None = None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.actor = actor if actor is not None else getattr(request, "user", None)

    def filter_assigned_to(self, queryset, name, value):
        value = clean_text(value)
        if value in {"none", "unassigned"}:
            return queryset.filter(assigned_to__isnull=True)
        if value == "me":
            return queryset.filter(assigned_to=self.actor)
        if value.isascii() and value.isdigit():
            user_id = int(value)
            return queryset.filter(assigned_to_id=user_id) if user_id < 2**63 else queryset.none()
        return queryset.filter(assigned_to__in=User.objects.filter(username=value).values("pk"))

    def filter_location(self, queryset, name, value):
        value = clean_text(value)
        return queryset.filter(preferences__preferred_locations__icontains=value) if value else queryset

    def filter_search(self, queryset, name, value):
        value = clean_text(value)
        return search_leads(queryset, value) if value else queryset
