"""The API's own query and option serializers (list pages, create options, batch,
merge). The lead and interaction inputs, shared with the pages and the import, are
``leads.core.inputs``."""

from rest_framework import serializers

from leads.core.duplicates import OnDuplicate
from leads.core.inputs import Choice


class CreateOptions(serializers.Serializer):
    on_duplicate = Choice(OnDuplicate.CHOICES, required=False, allow_null=True)

    def validate_on_duplicate(self, value):
        return value or OnDuplicate.REJECT


MAX_BATCH_SIZE = 500


class BatchInput(serializers.Serializer):
    """POST /api/v2/leads/batch: each item is validated on its own (``LeadInput``)."""

    # null items too: each gets its own error, like any other item that is not a lead.
    leads = serializers.ListField(child=serializers.JSONField(allow_null=True), min_length=1, max_length=MAX_BATCH_SIZE)


class ListQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=100, default=20)


class LeadListQuery(ListQuery):
    cursor = serializers.CharField(max_length=200, required=False)

    def validate(self, attrs):
        if "cursor" in attrs and "page" in self.initial_data:
            raise serializers.ValidationError({"cursor": ["Use either page or cursor, not both."]})
        return attrs


class MergeInput(serializers.Serializer):
    """POST /api/v2/leads/{id}/merge: which lead to merge in, and which values win
    (``{"contact.email": "duplicate"}``; the service checks the field names)."""

    duplicate_id = serializers.CharField(max_length=40)
    prefer = serializers.DictField(
        child=Choice([("primary", "primary"), ("duplicate", "duplicate")]), required=False, default=dict
    )


class MergeUndoQuery(serializers.Serializer):
    force = serializers.BooleanField(default=False)
