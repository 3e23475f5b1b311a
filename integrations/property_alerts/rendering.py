"""The alert email: subject, text and HTML for one lead's listings. A batch loads the
templates once and describes each listing once (``ListingCards``); only the links (the
message's own, signed) differ from one lead to the next."""

from dataclasses import dataclass, replace
from decimal import Decimal

from django.template.loader import get_template

from integrations.matches.models import ListingMatch, MatchReason
from integrations.property_alerts import links
from integrations.property_alerts.models import Frequency

HEADINGS = {
    Frequency.INSTANT: "A new match for your home search",
    Frequency.DAILY: "Today's matches for your home search",
    Frequency.WEEKLY: "This week's matches for your home search",
}
SCHEDULES = {
    Frequency.INSTANT: "as soon as a home matches",
    Frequency.DAILY: "once a day",
    Frequency.WEEKLY: "once a week",
}


@dataclass(frozen=True)
class Card:
    listing_id: int
    address: str
    place: str
    price: str
    old_price: str
    facts: str
    kind: str
    photo_url: str
    reason: str
    link: str = ""


def money(value: Decimal | None) -> str:
    return f"${value:,.0f}" if value is not None else ""


def listing_facts(listing) -> str:
    parts = []
    if listing.beds is not None:
        parts.append(f"{listing.beds} bd")
    if listing.baths is not None:
        parts.append(f"{listing.baths.normalize():f} ba")
    if listing.square_feet:
        parts.append(f"{listing.square_feet:,} sq ft")
    return " · ".join(parts)


def _photo(listing) -> str:
    """The cover photo's address, when it is a web address (nothing else goes in an <img>)."""
    first = (listing.photo_urls or [""])[0] if isinstance(listing.photo_urls, list) else ""
    return first if isinstance(first, str) and first.startswith(("https://", "http://")) else ""


class ListingCards:
    """Each listing of a batch described once (``old_prices``: listing id -> the price it dropped from)."""

    def __init__(self, old_prices: dict[int, Decimal]):
        self.old_prices, self.cards = old_prices, {}

    def card(self, match: ListingMatch) -> Card:
        listing = match.listing
        old = match.alerted_price if match.alerted_price is not None else self.old_prices.get(listing.pk)
        if old is not None and old <= listing.price:
            old = None
        cache_key = (listing.pk, old, match.reason)
        if cache_key not in self.cards:
            place = ", ".join(part for part in (listing.city or listing.location, listing.postal_code) if part)
            self.cards[cache_key] = Card(
                listing_id=listing.pk,
                address=listing.address or listing.get_property_type_display(),
                place=place,
                price=money(listing.price),
                old_price=money(old),
                facts=listing_facts(listing),
                kind=listing.get_property_type_display(),
                photo_url=_photo(listing),
                reason="Price drop" if old is not None else MatchReason(match.reason).label,
            )
        return self.cards[cache_key]


class AlertTemplates:
    def __init__(self):
        self.text = get_template("property_alerts/email.txt")
        self.html = get_template("property_alerts/email.html")


def subject_for(cards: list[Card]) -> str:
    if len(cards) == 1:
        card = cards[0]
        lead_in = "Price drop" if card.old_price else "New match"
        return f"{lead_in}: {card.address}, {card.place}, {card.price}"[:200]
    drops = sum(1 for card in cards if card.old_price)
    extra = f" ({drops} with a lower price)" if drops else ""
    return f"{len(cards)} homes that match your search{extra}"[:200]


def render(
    *,
    templates: AlertTemplates,
    cards: list[Card],
    message_key: str,
    frequency: str,
    first_name: str,
    agent_name: str,
    public_id: str,
    unsubscribe_link: str,
) -> tuple[str, str, str]:
    """(subject, text, html) of one alert, its links signed for ``message_key``."""
    linked = [replace(card, link=links.click_url(message_key, card.listing_id)) for card in cards]
    context = {
        "heading": HEADINGS.get(frequency, HEADINGS[Frequency.DAILY]),
        "first_name": first_name,
        "agent_name": agent_name,
        "cards": linked,
        "pixel_url": links.open_pixel_url(message_key),
        "frequency_url": links.frequency_url(public_id),
        "unsubscribe_url": unsubscribe_link,
        "schedule": SCHEDULES.get(frequency, SCHEDULES[Frequency.DAILY]),
    }
    return subject_for(cards), templates.text.render(context), templates.html.render(context)
