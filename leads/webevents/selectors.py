"""Reads of web activity events, scoped to what the user may see: a lead's events (the
API's list, the lead page's activity), the lead an IDX website's event is about (matched
by email or phone), and the counts that scoring and the plans' triggers read."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, CharField, Count, F, IntegerField, Max, Q, Value, When
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone

from leads.core import validation
from leads.core.selectors import is_lead_id, visible_leads
from leads.errors import NotFound
from leads.models import Lead, LeadStatus, User
from leads.webevents.models import WebEvent, WebEventKind

CLOSED = (LeadStatus.CLOSED, LeadStatus.LOST)


def lead_for_events(*, user: User, lead_id: str) -> Lead:
    """The visible lead whose events are read or written (only the columns that needs);
    NotFound when it is missing or hidden."""
    lead = (
        visible_leads(user).filter(public_id=lead_id).only("pk", "public_id", "version").first()
        if is_lead_id(lead_id)
        else None
    )
    if lead is None:
        raise NotFound("Lead not found.")
    return lead


@dataclass(frozen=True)
class WebEventPage:
    events: list[WebEvent]
    total_count: int
    page: int
    page_size: int


def lead_web_events(*, user: User, lead_id: str, page: int = 1, page_size: int = 20) -> WebEventPage:
    """The visible lead's web events, newest first (by the time they happened)."""
    lead = lead_for_events(user=user, lead_id=lead_id)
    events = WebEvent.objects.filter(lead=lead).order_by("-occurred_at", "-id")
    total_count = Paginator(events, page_size).count
    offset = (page - 1) * page_size
    rows = list(events[offset : offset + page_size]) if offset < total_count else []
    for row in rows:
        row.lead = lead
    return WebEventPage(events=rows, total_count=total_count, page=page, page_size=page_size)


# --- matching an IDX website's event to a lead -------------------------------------


@dataclass(frozen=True)
class Match:
    lead: Lead | None
    matched_by: str = ""  # "email" or "phone"
    candidates: int = 0


def normalise_contact(email: str, phone: str) -> tuple[str, str]:
    """The email lower-cased and the phone in E.164 as leads store them ('' where unusable)."""
    email = (email or "").strip().lower()
    try:
        phone = validation.normalize_phone(phone or "")[0] if phone else ""
    except ValidationError:
        phone = ""
    return email, phone


def match_leads(*, user: User, contacts: list[tuple[str, str]]) -> list[Match]:
    """The lead each ``(email, phone)`` is about, among the leads ``user`` may see (two queries).

    The rule: an email match (case-insensitive) wins over a phone match (E.164, as
    leads store phones); when several leads match, an open lead (not closed or lost)
    wins over a closed one, then the most recently active (last updated) one. A Match
    with no lead when nothing matches.
    """
    contacts = [normalise_contact(email, phone) for email, phone in contacts]
    emails = {email for email, _ in contacts if email}
    phones = {phone for _, phone in contacts if phone}
    leads = visible_leads(user).annotate(
        closed_rank=Case(When(status__in=CLOSED, then=Value(1)), default=Value(0), output_field=IntegerField())
    )
    leads = leads.only("pk", "public_id", "version", "status", "updated_at").order_by(
        "closed_rank", "-updated_at", "-pk"
    )
    by_email: dict[str, list[Lead]] = defaultdict(list)
    by_phone: dict[str, list[Lead]] = defaultdict(list)
    if emails:
        for lead in leads.annotate(email_lower=Lower("contact__email")).filter(email_lower__in=emails):
            by_email[lead.email_lower].append(lead)
    if phones:
        for lead in leads.annotate(contact_phone=F("contact__phone")).filter(contact__phone__in=phones):
            by_phone[lead.contact_phone].append(lead)
    matches = []
    for email, phone in contacts:
        if by_email.get(email):
            matches.append(Match(by_email[email][0], "email", len(by_email[email])))
        elif by_phone.get(phone):
            matches.append(Match(by_phone[phone][0], "phone", len(by_phone[phone])))
        else:
            matches.append(Match(None))
    return matches


# --- what the lead page shows --------------------------------------------------------


def recent_web_events(lead: Lead, *, limit: int = 20) -> list[WebEvent]:
    """The lead's latest web events, for its page (one query)."""
    return list(WebEvent.objects.filter(lead=lead).order_by("-occurred_at", "-id")[:limit])


@dataclass(frozen=True)
class ActivitySummary:
    views_7d: int
    listings_viewed_7d: int
    saved_listings: int
    saved_searches: int
    last_at: datetime | None


def activity_summary(lead: Lead, *, now: datetime | None = None) -> ActivitySummary:
    """Views in the last 7 days (and of how many listings), listings and searches saved (one query)."""
    since = (now or timezone.now()) - timedelta(days=7)
    recent_view = Q(kind=WebEventKind.LISTING_VIEWED, occurred_at__gte=since)
    row = WebEvent.objects.filter(lead=lead).aggregate(
        views=Count("pk", filter=recent_view),
        listings=Count("listing_ref", filter=recent_view & ~Q(listing_ref=""), distinct=True),
        saved=Count("listing_ref", filter=Q(kind=WebEventKind.LISTING_SAVED), distinct=True),
        searches=Count("pk", filter=Q(kind=WebEventKind.SEARCH_SAVED)),
        last=Max("occurred_at"),
    )
    return ActivitySummary(row["views"], row["listings"], row["saved"], row["searches"], row["last"])


# --- what scoring reads --------------------------------------------------------------


@dataclass(frozen=True)
class WebEngagement:
    """A lead's web activity in the scoring window."""

    views: int = 0
    listings_viewed: int = 0
    saves: int = 0
    searches_saved: int = 0
    registered: int = 0
    inquiries: int = 0
    alert_clicks: int = 0
    last_at: datetime | None = None
    days: int = 14


def web_engagement(lead_pks: list[int], *, now: datetime | None = None, days: int = 14) -> dict[int, WebEngagement]:
    """Each lead's web activity over the last ``days`` days (one query for all of them);
    leads with none are left out."""
    if not lead_pks:
        return {}
    now = now or timezone.now()
    rows = (
        WebEvent.objects.filter(lead_id__in=lead_pks, occurred_at__gte=now - timedelta(days=days), occurred_at__lte=now)
        .order_by()
        .values("lead_id")
        .annotate(
            views=Count("pk", filter=Q(kind=WebEventKind.LISTING_VIEWED)),
            listings=Count(
                "listing_ref", filter=Q(kind=WebEventKind.LISTING_VIEWED) & ~Q(listing_ref=""), distinct=True
            ),
            saves=Count("pk", filter=Q(kind=WebEventKind.LISTING_SAVED)),
            searches=Count("pk", filter=Q(kind=WebEventKind.SEARCH_SAVED)),
            registered=Count("pk", filter=Q(kind=WebEventKind.REGISTERED)),
            inquiries=Count("pk", filter=Q(kind=WebEventKind.INQUIRY)),
            clicks=Count("pk", filter=Q(kind=WebEventKind.ALERT_CLICKED)),
            last_at=Max("occurred_at"),
        )
    )
    return {
        row["lead_id"]: WebEngagement(
            views=row["views"],
            listings_viewed=row["listings"],
            saves=row["saves"],
            searches_saved=row["searches"],
            registered=row["registered"],
            inquiries=row["inquiries"],
            alert_clicks=row["clicks"],
            last_at=row["last_at"],
            days=days,
        )
        for row in rows
    }


def web_engagement_at(at: dict[int, datetime], *, days: int = 14) -> dict[int, WebEngagement]:
    """``web_engagement`` of each lead as of its own time ``at[lead_pk]`` (scoring history
    for training): one query for all, counted here."""
    if not at:
        return {}
    window = timedelta(days=days)
    events = WebEvent.objects.filter(
        lead_id__in=list(at), occurred_at__gte=min(at.values()) - window, occurred_at__lte=max(at.values())
    ).values_list("lead_id", "kind", "listing_ref", "occurred_at")
    counts: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    listings: dict[int, set[str]] = defaultdict(set)
    last: dict[int, datetime] = {}
    for lead_pk, kind, listing_ref, occurred_at in events.iterator(chunk_size=5000):
        if not at[lead_pk] - window <= occurred_at <= at[lead_pk]:
            continue
        counts[lead_pk][kind] += 1
        if kind == WebEventKind.LISTING_VIEWED and listing_ref:
            listings[lead_pk].add(listing_ref)
        last[lead_pk] = max(last.get(lead_pk, occurred_at), occurred_at)
    return {
        lead_pk: WebEngagement(
            views=kinds[WebEventKind.LISTING_VIEWED],
            listings_viewed=len(listings[lead_pk]),
            saves=kinds[WebEventKind.LISTING_SAVED],
            searches_saved=kinds[WebEventKind.SEARCH_SAVED],
            registered=kinds[WebEventKind.REGISTERED],
            inquiries=kinds[WebEventKind.INQUIRY],
            alert_clicks=kinds[WebEventKind.ALERT_CLICKED],
            last_at=last[lead_pk],
            days=days,
        )
        for lead_pk, kinds in counts.items()
    }


# --- what the plans' triggers read ---------------------------------------------------

LISTING_KINDS = (WebEventKind.LISTING_VIEWED, WebEventKind.LISTING_SAVED, WebEventKind.ALERT_CLICKED)


def listing_key():
    """The listing an event is about: its id, else its URL (NULL for none)."""
    return Coalesce(NullIf(F("listing_ref"), Value("")), NullIf(F("listing_url"), Value("")), output_field=CharField())


def activity_in_window(*, lead_pk: int, kind: str, since: datetime, same_listing: bool) -> int:
    """How much ``kind`` activity the lead has had since ``since`` (one query): for a
    listing kind, how many listings (``same_listing``: how many times the listing seen
    most often); for any other kind, how many events."""
    events = WebEvent.objects.filter(lead_id=lead_pk, kind=kind, occurred_at__gte=since).order_by()
    if kind not in LISTING_KINDS:
        return events.count()
    keyed = events.annotate(listing=listing_key()).exclude(listing=None)
    if not same_listing:
        return keyed.aggregate(listings=Count("listing", distinct=True))["listings"]
    top = keyed.values("listing").annotate(times=Count("pk")).order_by("-times").values_list("times", flat=True)
    return top.first() or 0
