"""The routing pages (namespace "routing", under /routing/): the rules and the fairness
ledger for managers; open offers (claim or pass) and the pond for agents.

Views check input and access and call ``services`` / ``selectors``; a domain conflict
(someone claimed first, the pond's daily limit) is a flash message on the page again,
answered 409 (an HTMX request gets the page with the message, which it swaps in)."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.routing import selectors, services
from integrations.routing.eligibility import Candidate, evaluate
from integrations.routing.errors import PondLimitReached
from integrations.routing.forms import AgentSettingsForm, LedgerPeriodForm, RuleForm
from integrations.routing.models import AgentRoutingProfile, Offer, OfferState, RoutingRule, SkipReason
from integrations.routing.presenters import ledger_chart, ledger_lines, ledger_totals, rule_summary
from leads.accounts import permissions
from leads.audit.models import AuditChannel
from leads.errors import Conflict, ValidationFailed
from leads.errors import PermissionDenied as DomainPermissionDenied
from leads.models import Lead, Role, Team, User
from leads.views.common import agent_page, is_htmx, safe_next

CLAIMED_FIRST = "Someone else claimed it first."


# --- which team ------------------------------------------------------------------


def _require_rules_access(user: User) -> None:
    permissions.require(permissions.can_manage_routing_rules, user)


def _teams_for(user: User) -> list[Team]:
    """The teams whose rules the user may open: every team for an admin (or a manager of
    an install without teams), else their own."""
    if permissions.can_view_all_leads(user):
        return list(Team.objects.order_by("name"))
    return [user.team] if user.team_id else []


def _chosen_team(request: HttpRequest) -> Team | None:
    """The team the page is about: ``?team=<id>`` among the user's teams, else their own
    (None: the install without teams, or an admin's rules for leads of no team)."""
    user = request.user
    if not permissions.can_view_all_leads(user):
        return user.team
    wanted = request.GET.get("team") or request.POST.get("team") or ""
    if wanted == "none":
        return None
    if wanted.isdigit():
        team = Team.objects.filter(pk=int(wanted)).first()
        if team is None:
            raise Http404("No such team.")
        return team
    return user.team


def _may_manage_team_of(user: User, rule: RoutingRule) -> bool:
    return permissions.can_view_all_leads(user) or rule.team_id == user.team_id


def _rule_for(request: HttpRequest, rule_id: int) -> RoutingRule:
    rule = RoutingRule.objects.select_related("team", "fixed_agent", "fallback_agent").filter(pk=rule_id).first()
    if rule is None or not _may_manage_team_of(request.user, rule):
        raise Http404("No such rule.")
    return rule


def _team_query(team: Team | None, user: User) -> str:
    if not permissions.can_view_all_leads(user):
        return ""
    return f"?team={team.pk if team else 'none'}"


def _rules_url(team: Team | None, user: User) -> str:
    return reverse("routing:rules") + _team_query(team, user)


def _agents_of(team: Team | None, *, also: list[User] = ()) -> list[User]:
    """Who may be in a rule's group: the team's active agents and managers (every active
    one for the install without teams), and the rule's current members however they are."""
    users = User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.MANAGER])
    if team is not None:
        users = users.filter(team=team)
    found = {user.pk: user for user in users.order_by("first_name", "last_name", "username")}
    for user in also:
        found.setdefault(user.pk, user)
    return list(found.values())


# --- the rules -------------------------------------------------------------------


@require_GET
@agent_page
def rule_list(request: HttpRequest) -> HttpResponse:
    _require_rules_access(request.user)
    team = _chosen_team(request)
    views = selectors.rules_in_order(team)
    rules = [{"view": view, "summary": rule_summary(view.rule, view.members)} for view in views]
    context = {
        "team": team,
        "teams": _teams_for(request.user) if permissions.can_view_all_leads(request.user) else [],
        "team_query": _team_query(team, request.user),
        "rules": rules,
        "warning_count": sum(1 for view in views if view.warnings),
        "movable": [view.rule.pk for view in views if not view.rule.is_catch_all],
    }
    return render(request, "routing/rules.html", context)


@require_http_methods(["GET", "POST"])
@agent_page
def rule_create(request: HttpRequest) -> HttpResponse:
    _require_rules_access(request.user)
    team = _chosen_team(request)
    return _rule_form_page(request, team=team, rule=None)


@require_http_methods(["GET", "POST"])
@agent_page
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    _require_rules_access(request.user)
    rule = _rule_for(request, rule_id)
    return _rule_form_page(request, team=rule.team, rule=rule)


def _rule_form_page(request: HttpRequest, *, team: Team | None, rule: RoutingRule | None) -> HttpResponse:
    members = list(rule.members.select_related("agent")) if rule else []
    agents = _agents_of(team, also=[member.agent for member in members])
    form = RuleForm(request.POST if request.method == "POST" else None, agents=agents, rule=rule, members=members)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            target = rule or RoutingRule(team=team)
            try:
                saved = services.rule_save(actor=request.user, rule=form.apply_to(target), members=form.members())
            except ValidationFailed as error:
                form.add_domain_errors(error.fields, error.message)
            else:
                messages.success(request, f'Rule "{saved.name}" saved. It applies to the next lead that arrives.')
                return HttpResponseRedirect(_rules_url(team, request.user), status=303)
        status = 422
    context = {
        "form": form,
        "rule": rule,
        "team": team,
        "team_query": _team_query(team, request.user),
        "rules_url": _rules_url(team, request.user),
    }
    return render(request, "routing/rule_form.html", context, status=status)


@require_POST
@agent_page
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    _require_rules_access(request.user)
    rule = _rule_for(request, rule_id)
    try:
        services.rule_delete(actor=request.user, rule=rule)
    except ValidationFailed as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f'Rule "{rule.name}" deleted.')
    return HttpResponseRedirect(_rules_url(rule.team, request.user), status=303)


@require_POST
@agent_page
def rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Move a rule one place up or down (``direction``); the catch-all stays last."""
    _require_rules_access(request.user)
    rule = _rule_for(request, rule_id)
    direction = request.POST.get("direction")
    order = [view.rule.pk for view in selectors.rules_in_order(rule.team) if not view.rule.is_catch_all]
    if direction not in ("up", "down") or rule.pk not in order:
        messages.error(request, "That rule cannot move.")
        return HttpResponseRedirect(_rules_url(rule.team, request.user), status=303)
    index = order.index(rule.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
        services.rules_reorder(actor=request.user, team=rule.team, rule_ids=order)
        messages.success(request, f'"{rule.name}" is now rule {other + 1}.')
    else:
        messages.info(request, f'"{rule.name}" is already {"first" if direction == "up" else "last"}.')
    return HttpResponseRedirect(_rules_url(rule.team, request.user) + f"#rule-{rule.pk}", status=303)


# --- the agents' routing settings ------------------------------------------------


def _agent_rows(team: Team | None, forms: dict[int, AgentSettingsForm] | None = None) -> list[dict]:
    """Each agent of the team with their settings' form and whether a lead would reach
    them right now (working hours, time off, pause, capacity: the routing's own checks)."""
    agents = _agents_of(team)
    profiles = {profile.user_id: profile for profile in AgentRoutingProfile.objects.filter(user__in=agents)}
    now_rule = RoutingRule(allow_off_hours=False)
    verdicts = evaluate([Candidate(agent, 1) for agent in agents], rule=now_rule, at=timezone.now())
    skips = dict(SkipReason.choices)
    rows = []
    for agent, verdict in zip(agents, verdicts, strict=True):
        profile = profiles.get(agent.pk)
        initial = {
            "paused": bool(profile and profile.paused),
            "capacity": profile.capacity if profile else None,
            "pond_daily_limit": profile.pond_daily_limit if profile else AgentRoutingProfile.DEFAULT_POND_DAILY_LIMIT,
        }
        form = (forms or {}).get(agent.pk) or AgentSettingsForm(initial=initial, prefix=f"agent-{agent.pk}")
        rows.append({"agent": agent, "form": form, "now": skips.get(verdict.skipped_because, "")})
    return rows


def _agents_page(request: HttpRequest, team: Team | None, forms=None, status: int = 200) -> HttpResponse:
    context = {
        "team": team,
        "teams": _teams_for(request.user) if permissions.can_view_all_leads(request.user) else [],
        "team_query": _team_query(team, request.user),
        "rows": _agent_rows(team, forms),
        "zone": timezone.get_current_timezone_name(),
    }
    return render(request, "routing/agents.html", context, status=status)


@require_GET
@agent_page
def agent_list(request: HttpRequest) -> HttpResponse:
    _require_rules_access(request.user)
    return _agents_page(request, _chosen_team(request))


@require_POST
@agent_page
def agent_settings(request: HttpRequest, user_id: int) -> HttpResponse:
    """Save one agent's paused / capacity / pond limit (the page again with errors: 422)."""
    _require_rules_access(request.user)
    agent = User.objects.filter(pk=user_id, is_active=True).first()
    if agent is None or not (permissions.can_view_all_leads(request.user) or agent.team_id == request.user.team_id):
        raise Http404("No such agent.")
    form = AgentSettingsForm(request.POST, prefix=f"agent-{agent.pk}")
    if form.is_valid():
        try:
            services.profile_update(actor=request.user, user=agent, **form.cleaned_data)
        except ValidationFailed as error:
            for name, problems in error.fields.items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
        else:
            messages.success(request, f"Saved: {agent}'s routing settings.")
            return HttpResponseRedirect(reverse("routing:agents") + _team_query(agent.team, request.user), status=303)
    return _agents_page(request, agent.team, forms={agent.pk: form}, status=422)


@require_POST
@agent_page
def pause_toggle(request: HttpRequest) -> HttpResponse:
    """An agent pauses or resumes taking routed leads (offers, round robin, the pond)."""
    paused = request.POST.get("paused") == "on"
    services.profile_update(actor=request.user, user=request.user, paused=paused)
    if paused:
        messages.success(request, "Paused: no new leads are routed to you until you resume.")
    else:
        messages.success(request, "Welcome back: new leads are routed to you again.")
    return HttpResponseRedirect(safe_next(request, reverse("routing:offers")), status=303)


# --- the fairness ledger ---------------------------------------------------------


@require_GET
@agent_page
def ledger(request: HttpRequest) -> HttpResponse:
    permissions.require(permissions.can_see_team_reports, request.user)
    team = _chosen_team(request)
    form = LedgerPeriodForm(request.GET or None)
    now = timezone.now()
    start, end, first_day, last_day = form.bounds(now)
    rows = selectors.fairness_ledger(team, start, end)
    period = form.cleaned_data["period"] if form.is_bound and form.is_valid() else form.data.get("period", "7d")
    if not form.errors:  # show the period's days in From and To
        form = LedgerPeriodForm(initial={"period": period, "start": first_day, "end": last_day})
    context = {
        "team": team,
        "teams": _teams_for(request.user) if permissions.can_view_all_leads(request.user) else [],
        "form": form,
        "period": period,
        "first_day": first_day,
        "last_day": last_day,
        "lines": ledger_lines(rows),
        "totals": ledger_totals(rows),
        "chart": ledger_chart(rows),
        "zone": timezone.get_current_timezone_name(),
    }
    return render(request, "routing/ledger.html", context)


# --- an agent's offers and the pond ----------------------------------------------


def _offers_context(request: HttpRequest) -> dict:
    profile = AgentRoutingProfile.objects.filter(user=request.user).first()
    return {
        "paused": bool(profile and profile.paused),
        "offers": list(selectors.open_offers(request.user)),
        "now": timezone.now(),
        "zone": timezone.get_current_timezone_name(),
    }


@require_GET
@agent_page
def offer_list(request: HttpRequest) -> HttpResponse:
    return render(request, "routing/offers.html", _offers_context(request))


def _conflict_page(request: HttpRequest, template: str, context, message: str, *, status: int = 409) -> HttpResponse:
    """The page again with ``message``: ``status``, or 200 for HTMX (which swaps only 2xx and 422)."""
    messages.error(request, message)
    return render(request, template, context(request), status=200 if is_htmx(request) else status)


def _own_offer(request: HttpRequest, offer_id: int) -> Offer | HttpResponse:
    """One of the user's own offers; another agent's is the offers page with the reason
    (409, as in the API); an unknown id is a 404."""
    try:
        return selectors.offer_for(request.user, offer_id)
    except Conflict as error:
        return _conflict_page(request, "routing/offers.html", _offers_context, error.message)


@require_POST
@agent_page
def offer_claim(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _own_offer(request, offer_id)
    if isinstance(offer, HttpResponse):
        return offer
    try:
        lead = services.claim_offer(offer, request.user, channel=AuditChannel.PAGE)
    except Conflict as error:
        message = _claim_refusal(offer, request.user, error)
        return _conflict_page(request, "routing/offers.html", _offers_context, message)
    messages.success(request, f"{lead.contact.full_name} is yours. Call them now.")
    return _to_lead(request, lead)


def _claim_refusal(offer: Offer, user: User, error: Conflict) -> str:
    """Words for a refused claim or pass: lost to a faster agent, or answered or expired already."""
    offer.refresh_from_db(fields=["state"])
    assignee = Lead.objects.filter(pk=offer.lead_id).values_list("assigned_to_id", flat=True).first()
    if offer.state == OfferState.WITHDRAWN or assignee not in (None, user.pk):
        return CLAIMED_FIRST
    return error.message


@require_POST
@agent_page
def offer_pass(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _own_offer(request, offer_id)
    if isinstance(offer, HttpResponse):
        return offer
    try:
        services.pass_offer(offer, request.user)
    except Conflict as error:
        message = _claim_refusal(offer, request.user, error)
        return _conflict_page(request, "routing/offers.html", _offers_context, message)
    messages.success(request, f"Passed on {offer.lead.contact.full_name}: it goes to the next agent.")
    if is_htmx(request):
        return render(request, "routing/offers.html", _offers_context(request))
    return HttpResponseRedirect(reverse("routing:offers"), status=303)


def _pond_context(request: HttpRequest) -> dict:
    user = request.user
    profile = AgentRoutingProfile.objects.filter(user=user).first()
    limit = profile.pond_daily_limit if profile else AgentRoutingProfile.DEFAULT_POND_DAILY_LIMIT
    taken = selectors.pond_takes_today(user)
    return {
        "entries": list(selectors.pond_entries(user)),
        "taken_today": taken,
        "daily_limit": limit,
        "limit_reached": taken >= limit,
        "paused": bool(profile and profile.paused),
        "now": timezone.now(),
        "zone": timezone.get_current_timezone_name(),
    }


@require_GET
@agent_page
def pond(request: HttpRequest) -> HttpResponse:
    return render(request, "routing/pond.html", _pond_context(request))


@require_POST
@agent_page
def pond_take(request: HttpRequest, lead_id: str) -> HttpResponse:
    try:
        lead = selectors.pond_lead_for(request.user, lead_id)
        lead = services.take_from_pond(lead, request.user, channel=AuditChannel.PAGE)
    except PondLimitReached as error:
        return _conflict_page(request, "routing/pond.html", _pond_context, error.message)
    except DomainPermissionDenied as error:  # paused, or another team's pond
        return _conflict_page(request, "routing/pond.html", _pond_context, error.message, status=403)
    except Conflict as error:
        message = "Someone else took it first." if "took it" in error.message else error.message
        return _conflict_page(request, "routing/pond.html", _pond_context, message)
    messages.success(request, f"{lead.contact.full_name} is yours. Call them now.")
    return _to_lead(request, lead)


def _to_lead(request: HttpRequest, lead: Lead) -> HttpResponse:
    """On to the lead's page (an HTMX request is told to go there)."""
    target = reverse("leads:lead_detail", args=[lead.public_id])
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target, status=303)
