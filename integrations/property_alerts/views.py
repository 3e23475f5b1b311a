"""The public pages and endpoints of alert emails (namespace "property_alerts", under
/alerts/): no login, the signed token in the link is the permission (``links``).

- ``frequency``: GET shows the lead's setting and a form, POST (with CSRF) changes it;
- ``open``: the 1x1 pixel, records the open;
- ``click``: records the click and redirects to the listing (only ever to the address
  ``links.listing_target`` builds from the stored listing);
- ``listing``: a listing's public page.

A tampered or expired link answers a 400 page and changes nothing; a link to something
gone, a 404."""

import base64

from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from integrations.market.models import Listing, ListingStatus
from integrations.market.photos import page_photos
from integrations.property_alerts import links, rendering, services
from integrations.property_alerts.forms import LeadFrequencyForm
from integrations.property_alerts.models import AlertSubscription
from integrations.property_alerts.selectors import default_frequency
from leads.errors import ApplicationError, NotFound
from leads.models import Lead

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _problem(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "property_alerts/link_invalid.html", {"message": error.message}, status=error.status_code)


def _lead_for(token: str) -> Lead:
    payload = links.unsign("frequency", token)
    lead = Lead.objects.select_related("contact").filter(public_id=str(payload.get("lead", ""))).first()
    if lead is None:
        raise NotFound("We no longer have your home search on file.")
    return lead


@never_cache
@require_http_methods(["GET", "POST"])
def frequency(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the lead's current setting and the choices (nothing changes). POST: the new one."""
    try:
        lead = _lead_for(token)
    except ApplicationError as error:
        return _problem(request, error)
    subscription = AlertSubscription.objects.filter(lead=lead).first()
    current = subscription.frequency if subscription else default_frequency(lead)
    if request.method == "POST":
        form = LeadFrequencyForm(request.POST)
        if form.is_valid():
            subscription = services.set_frequency(lead=lead, frequency=form.cleaned_data["frequency"], by="lead")
            context = {"lead": lead, "subscription": subscription, "schedule": _schedule(subscription.frequency)}
            return render(request, "property_alerts/frequency_done.html", context)
        context = {"lead": lead, "form": form, "token": token, "current": current}
        return render(request, "property_alerts/frequency.html", context, status=400)
    form = LeadFrequencyForm(initial={"frequency": current})
    context = {"lead": lead, "form": form, "token": token, "current": current}
    return render(request, "property_alerts/frequency.html", context)


def _schedule(value: str) -> str:
    return rendering.SCHEDULES.get(value, "never (alerts are off)")


@never_cache
@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """The 1x1 GIF; a valid link records the open first."""
    try:
        payload = links.unsign("open", token)
        services.record_open(message_key=str(payload.get("m", "")))
    except ApplicationError as error:
        return HttpResponse(error.message, status=error.status_code, content_type="text/plain")
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    """Record the click, then go to the listing's page (never to an address from the request)."""
    try:
        payload = links.unsign("click", token)
        listing_id = payload.get("x")
        if not isinstance(listing_id, int):
            raise links.InvalidAlertLink()
        listing = Listing.objects.filter(pk=listing_id).first()
        if listing is None:
            raise NotFound("This home is no longer listed.")
        target = links.listing_target(listing)
        services.record_click(message_key=str(payload.get("m", "")), listing_id=listing_id, url=target)
    except ApplicationError as error:
        return _problem(request, error)
    return HttpResponseRedirect(target)


@csp_update({"img-src": ["https:", "http:"]})  # listing photos live on the listing provider's servers
@require_GET
def listing(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = links.unsign("listing", token)
        found = Listing.objects.filter(pk=payload.get("x") if isinstance(payload.get("x"), int) else None).first()
        if found is None:
            raise NotFound("This home is no longer listed.")
    except ApplicationError as error:
        return _problem(request, error)
    photos = page_photos(found)
    context = {
        "listing": found,
        "price": rendering.money(found.price),
        "facts": rendering.listing_facts(found),
        "photos": photos[:12],
        "is_active": found.status == ListingStatus.ACTIVE,
    }
    return render(request, "property_alerts/listing.html", context)
