"""A listing's photos as a page of this site shows them."""

from django.conf import settings

from integrations.market.models import Listing

# A web address, an inline image or a path on this site; anything else is not put in a page.
PAGE_PHOTO_PREFIXES = ("https://", "http://", "data:image/", "/")


def page_photos(listing: Listing) -> list[str]:
    """The listing's photos, cover first. One on this site (the demo's, under SITE_URL) is given
    by its path, so the page loads it from wherever it is served (and the Content-Security-Policy's
    'self' allows it)."""
    site = settings.SITE_URL + "/"
    photos = []
    for url in listing.photo_urls or []:
        if not isinstance(url, str):
            continue
        url = url[len(site) - 1 :] if url.startswith(site) else url
        if url.startswith(PAGE_PHOTO_PREFIXES):
            photos.append(url)
    return photos
