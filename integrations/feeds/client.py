"""A RESO Web API (OData 4) client for one feed: asks for the listings changed since the
replication cursor and walks the pages (``$top``, then ``@odata.nextLink``) until the
server has no more.

The query (``Cursor.odata_filter``): ``$filter=ModificationTimestamp ge <cursor time>``
with ``$orderby=ModificationTimestamp asc,ListingKey asc``. ``ge`` rather than ``gt``:
when many listings share one timestamp (a bulk update) and a run stops between two of
them, ``gt`` would skip the rest for good. The records at exactly the cursor's time whose
key is not after the cursor's key were imported already and are dropped by the service
(``Cursor.covers``), so resuming costs re-reading the few records at that one instant.

Every page is checked before any of it is used: a JSON object with a ``value`` list of
objects, and a ``@odata.nextLink`` (if any) on the service's own scheme, host and port,
so the bearer token is never sent anywhere else. Anything else raises ``FeedError``.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests

from integrations.http_delivery import DeliveryError, Timeouts, send

ERROR_TEXT_LIMIT = 2000
SAMPLE_LIMIT = 200


class FeedError(Exception):
    """The feed could not be read any further (HTTP error, timeout, malformed page)."""

    def __init__(self, message: str):
        super().__init__(message[:ERROR_TEXT_LIMIT])
        self.message = message[:ERROR_TEXT_LIMIT]


@dataclass(frozen=True, order=True)
class Cursor:
    """The last record imported, in the order ModificationTimestamp, ListingKey."""

    modified_at: datetime
    listing_key: str

    def covers(self, modified_at: datetime, listing_key: str) -> bool:
        """True when that record is at or before the cursor (imported already)."""
        return (modified_at, listing_key) <= (self.modified_at, self.listing_key)

    def odata_filter(self) -> str:
        return f"ModificationTimestamp ge {odata_datetime(self.modified_at)}"

    def __str__(self) -> str:
        return f"{odata_datetime(self.modified_at)} / {self.listing_key or '-'}"


def odata_datetime(moment: datetime) -> str:
    """An OData DateTimeOffset literal in UTC: 2026-12-01T10:00:00Z (microseconds when any)."""
    text = moment.astimezone(UTC).isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Page:
    number: int  # 1 for the first page of a run
    url: str
    records: list[dict]
    next_url: str | None


@dataclass(frozen=True)
class FeedSettings:
    base_url: str
    resource: str
    token: str  # "" sends no Authorization header
    page_size: int
    expand_media: bool
    timeouts: Timeouts
    max_pages: int


class ResoClient:
    def __init__(self, settings: FeedSettings, *, session: requests.Session | None = None):
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["OData-MaxVersion"] = "4.0"
        if settings.token:
            self.session.headers["Authorization"] = f"Bearer {settings.token}"
        self._origin = _origin(settings.base_url)

    def first_url(self, cursor: Cursor | None) -> str:
        params = {}
        if cursor is not None:
            params["$filter"] = cursor.odata_filter()
        params["$orderby"] = "ModificationTimestamp asc,ListingKey asc"
        params["$top"] = str(self.settings.page_size)
        if self.settings.expand_media:
            params["$expand"] = "Media"
        query = urlencode(params, quote_via=quote, safe="$,:")
        return f"{self.settings.base_url.rstrip('/')}/{self.settings.resource}?{query}"

    def pages(self, cursor: Cursor | None) -> Iterator[Page]:
        """The pages of records changed since ``cursor`` (all records when None), each
        checked; raises ``FeedError`` at the first page that cannot be had or used."""
        url: str | None = self.first_url(cursor)
        seen: set[str] = set()
        number = 0
        while url is not None:
            number += 1
            if number > self.settings.max_pages:
                raise FeedError(f"Stopped after {self.settings.max_pages} pages (LISTING_FEED_MAX_PAGES)")
            seen.add(url)
            page = self._page(number, url)
            if page.next_url in seen:
                raise FeedError(f"Page {number}: @odata.nextLink {page.next_url} points back to a page already read")
            yield page
            url = page.next_url

    def _page(self, number: int, url: str) -> Page:
        try:
            response = send(self.session, "GET", url, timeouts=self.settings.timeouts)
        except DeliveryError as error:
            if error.status_code in (401, 403):
                refused = f"the server refused the token (HTTP {error.status_code})"
                raise FeedError(f"Page {number}: {refused}: {error}") from error
            raise FeedError(f"Page {number}: {error}") from error
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            content_type = response.headers.get("Content-Type", "no Content-Type")
            sample = response.text[:SAMPLE_LIMIT]
            raise FeedError(f"Page {number} from {url} is not JSON ({content_type}): {sample!r}") from None
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise FeedError(f'Page {number} from {url} has no "value" list of records')
        if not all(isinstance(record, dict) for record in body["value"]):
            raise FeedError(f'Page {number} from {url}: "value" holds something other than records (JSON objects)')
        return Page(number=number, url=url, records=body["value"], next_url=self._next_url(number, url, body))

    def _next_url(self, number: int, url: str, body: dict) -> str | None:
        link = body.get("@odata.nextLink")
        if link is None or link == "":
            return None
        if not isinstance(link, str):
            raise FeedError(f"Page {number}: @odata.nextLink is not a URL: {link!r}")
        absolute = urljoin(url, link.strip())
        if _origin(absolute) != self._origin:
            raise FeedError(
                f"Page {number}: @odata.nextLink {absolute} is not on the feed's server "
                f"({'://'.join(self._origin[:2])}:{self._origin[2]}); not followed"
            )
        return absolute


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.casefold()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return (scheme, (parts.hostname or "").casefold(), port)
