"""Back office for the listing feeds: each feed's settings, its last run (status, counts,
error) in the list, its recent runs on its page, and "Run now". The run fields are
written by the replication (``integrations.feeds.services``) only, so they are read-only
here; the token is never shown (only whether its environment variable is set)."""

import os

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from integrations.feeds import services, tasks
from integrations.feeds.models import FeedRun, ListingFeed

RUN_FIELDS = (
    "last_started_at",
    "last_finished_at",
    "last_status",
    "last_received",
    "last_created",
    "last_updated",
    "last_unchanged",
    "last_rejected",
    "last_error",
    "cursor_modified_at",
    "cursor_listing_key",
    "lease_until",
)


class FeedRunInline(admin.TabularInline):
    model = FeedRun
    extra = 0
    can_delete = False
    ordering = ("-started_at", "-id")
    fields = (
        "started_at",
        "finished_at",
        "status",
        "pages",
        "received",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "cursor_from",
        "error",
        "rejections",
    )
    readonly_fields = fields
    verbose_name_plural = f"Recent runs (the last {services.KEEP_RUNS})"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ListingFeed)
class ListingFeedAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "is_active",
        "interval_minutes",
        "last_finished_at",
        "last_status",
        "last_received",
        "last_created",
        "last_updated",
        "last_unchanged",
        "last_rejected",
        "short_last_error",
    )
    list_filter = ("is_active", "last_status")
    search_fields = ("name", "base_url")
    ordering = ("name",)
    actions = ("run_now", "restart_from_scratch")
    inlines = (FeedRunInline,)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ("listing_source", "token_status", *RUN_FIELDS)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "listing_source",
                    "base_url",
                    "resource",
                    "token_env",
                    "token_status",
                    "is_active",
                    "interval_minutes",
                    "page_size",
                    "expand_media",
                )
            },
        ),
        ("Last run", {"fields": RUN_FIELDS}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: ListingFeed | None = None):
        # The name is the listings' source: renaming would import every listing again under a new one.
        return (*self.readonly_fields, "name") if obj else self.readonly_fields

    @admin.display(description="Last error")
    def short_last_error(self, feed: ListingFeed) -> str:
        return Truncator(feed.last_error).chars(120)

    @admin.display(description="Listing source")
    def listing_source(self, feed: ListingFeed) -> str:
        return feed.source if feed.name else "reso:<name>"

    @admin.display(description="Token")
    def token_status(self, feed: ListingFeed) -> str:
        if not feed.token_env:
            return "No token (no Authorization header)"
        state = "set" if os.environ.get(feed.token_env) else "NOT SET: runs will fail"
        return f"${feed.token_env} is {state} in this process's environment"

    @admin.action(description="Run now", permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[ListingFeed]) -> None:
        feed_ids = list(queryset.values_list("pk", flat=True))
        sent = tasks.queue_feeds(feed_ids)
        if sent < len(feed_ids):
            self.message_user(
                request,
                f"Queued {sent} of {len(feed_ids)} feed(s); the broker is unreachable, the periodic job retries.",
                messages.WARNING,
            )
        else:
            self.message_user(request, f"Queued {sent} feed(s) to run now.", messages.SUCCESS)

    @admin.action(description="Restart from scratch (forget the cursor)", permissions=["change"])
    def restart_from_scratch(self, request: HttpRequest, queryset: QuerySet[ListingFeed]) -> None:
        count = services.feeds_reset_cursor(feed_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, f"{count} feed(s) will read every listing again on their next run.", messages.SUCCESS
        )
