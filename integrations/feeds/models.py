"""Listing feeds: RESO Web API servers whose listings are replicated into
``integrations.market.Listing`` (through ``market.imports.listings_store``), and the
history of each feed's runs.

A feed's token is never stored: ``token_env`` names the environment variable holding it.
The rows are written by ``integrations.feeds.services`` (the admin edits the settings only).
"""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

MAX_PAGE_SIZE = 1000


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    PARTIAL = "partial", "Done, some listings rejected"
    FAILED = "failed", "Failed"


class ListingFeed(models.Model):
    name = models.SlugField(
        max_length=50,
        unique=True,
        help_text='Short name, e.g. "bareis". Listings are stored with source "reso:<name>": keep it stable.',
    )
    base_url = models.URLField(
        max_length=300, help_text="The RESO Web API service root, e.g. https://api.example.com/reso/odata"
    )
    resource = models.CharField(
        max_length=100,
        default="Property",
        validators=[RegexValidator(r"^[A-Za-z][A-Za-z0-9_]*$", "A resource name such as Property.")],
    )
    token_env = models.CharField(
        "token environment variable",
        max_length=100,
        blank=True,
        validators=[RegexValidator(r"^[A-Z_][A-Z0-9_]*$", "An environment variable name such as RESO_TOKEN_MAIN.")],
        help_text="Name of the environment variable that holds the bearer token (the token itself is never "
        "stored). Blank: no Authorization header.",
    )
    is_active = models.BooleanField(default=True, help_text="Only active feeds are synced by the periodic job")
    interval_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1)], help_text="Minutes between the end of a run and the next"
    )
    page_size = models.PositiveIntegerField(
        default=200,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PAGE_SIZE)],
        help_text="Listings asked for per page ($top)",
    )
    expand_media = models.BooleanField(
        default=True, help_text="Ask for the photos with each listing ($expand=Media); off for servers without it"
    )
    # The replication cursor: every listing up to (cursor_modified_at, cursor_listing_key),
    # in the order ModificationTimestamp, ListingKey, is imported.
    cursor_modified_at = models.DateTimeField(
        null=True, blank=True, help_text="ModificationTimestamp of the last listing imported (blank: from the start)"
    )
    cursor_listing_key = models.CharField(
        max_length=100, blank=True, help_text="ListingKey of the last listing imported at that timestamp"
    )
    # A run holds the feed until lease_until (renewed after each page): a second run waits,
    # and a run that died gives the feed back once its lease has passed.
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_status = models.CharField(max_length=10, choices=RunStatus.choices, blank=True, editable=False)
    last_received = models.PositiveIntegerField(default=0, editable=False)
    last_created = models.PositiveIntegerField(default=0, editable=False)
    last_updated = models.PositiveIntegerField(default=0, editable=False)
    last_unchanged = models.PositiveIntegerField(default=0, editable=False)
    last_rejected = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(interval_minutes__gte=1), name="listing_feed_interval_gte_1"),
            models.CheckConstraint(
                condition=Q(page_size__gte=1, page_size__lte=MAX_PAGE_SIZE), name="listing_feed_page_size_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        """The ``source`` of the listings this feed stores."""
        return f"reso:{self.name}"


class FeedRun(models.Model):
    """One run of a feed: what it received and did, page by page (the counts are saved with
    each page's listings, so a run that stopped midway shows what it committed)."""

    feed = models.ForeignKey(ListingFeed, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0, help_text="Pages committed")
    received = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejections = models.JSONField(
        default=list, blank=True, help_text="The first rejected listings: [listing key, reason]"
    )
    error = models.TextField(blank=True)
    cursor_from = models.CharField(max_length=200, blank=True, help_text="The cursor the run started from")

    class Meta:
        ordering = ["feed", "-started_at", "-id"]
        indexes = [models.Index(fields=["feed", "-started_at"], name="feed_run_recent")]

    def __str__(self) -> str:
        return f"{self.feed_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"
