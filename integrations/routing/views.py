"""The one-tap Claim of an offer alert (``/routing/claim/<token>/``): public, the signed
token in the link is the permission (bound to the offer and its agent, for claiming
only, until the offer expires). GET shows the offer and claims it at once from a small
script (a POST asking for JSON; the page says how it went in place); without scripts
the button posts the form and the answer is the page. A claim lost to a
faster agent, or an expired offer, says so (409); a bad link is a 404 page."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods

from integrations.routing import offers
from integrations.routing.errors import RoutingConflict
from integrations.routing.models import OfferState
from integrations.routing.representations import lead_summary_data
from leads.accounts.availability import user_zone
from leads.errors import NotFound
from leads.models import Lead


def _lead_url(request: HttpRequest, lead: Lead, agent_pk: int) -> str:
    if not (request.user.is_authenticated and request.user.pk == agent_pk):
        return ""
    try:
        return reverse("leads:lead_detail", args=[lead.public_id])
    except NoReverseMatch:
        return ""


def _answer(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    """The page, or for the page's script (``Accept: application/json``) what it says, as JSON."""
    if request.method == "POST" and "application/json" in request.headers.get("Accept", ""):
        keys = ("heading", "message", "lead_url")
        return JsonResponse({key: context.get(key) or "" for key in keys}, status=status)
    return render(request, "routing/claim.html", context, status=status)


@require_http_methods(["GET", "POST"])
def claim_by_token(request: HttpRequest, token: str) -> HttpResponse:
    try:
        offer = offers.offer_from_token(token)
    except NotFound as error:
        context = {"heading": "This claim link does not work", "message": error.message}
        return _answer(request, context, status=404)
    lead = Lead.objects.select_related("contact", "preferences", "timeline").get(pk=offer.lead_id)
    context = {"token": token, "summary": lead_summary_data(lead), "heading": "Lead up for grabs"}
    status = 200
    if request.method == "POST":
        try:
            offers.claim_offer_by_token(token)
        except RoutingConflict as error:
            offer.refresh_from_db()
            if offer.state != OfferState.CLAIMED:
                context.update(heading="Too late", message=error.message)
                return _answer(request, context, status=409)
        context.update(heading="It's yours", message="You claimed this lead: call them now.")
        context["lead_url"] = _lead_url(request, lead, offer.agent_id)
        return _answer(request, context)
    if offer.state == OfferState.CLAIMED:
        context.update(
            heading="It's yours", message="You claimed this lead.", lead_url=_lead_url(request, lead, offer.agent_id)
        )
    elif offer.state != OfferState.OPEN:
        context.update(heading="Too late", message=offers._not_open_message(offer.state))
    else:
        # The link is the agent's own: the time is in their zone, signed in or not.
        until = offer.expires_at.astimezone(user_zone(offer.agent))
        context.update(can_claim=True, message=f"Offered to you until {until:%H:%M %Z}. Claiming…")
    return render(request, "routing/claim.html", context, status=status)
