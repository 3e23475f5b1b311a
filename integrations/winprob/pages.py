"""The managers' backtest page (namespace "winprob", under /scoring/model/): how the
model in use (or the latest training run) did on the held-out leads against today's
rule-based score, why a model is or is not in use, and the versions to roll back to."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from integrations.winprob import presenters, selectors, services, tasks
from leads.accounts import permissions
from leads.errors import Conflict
from leads.views.common import agent_page


@require_GET
@agent_page
def backtest(request: HttpRequest) -> HttpResponse:
    permissions.require(permissions.can_see_team_reports, request.user)
    return _backtest_page(request)


def _backtest_page(request: HttpRequest, status: int = 200) -> HttpResponse:
    in_use = selectors.model_in_use()
    latest = selectors.latest_model()
    wanted = request.GET.get("version", "")
    shown = selectors.model_by_version(int(wanted)) if wanted.isdigit() and len(wanted) < 10 else None
    shown = shown or in_use or latest
    _, _, no_model_reason = services.scorer_in_use()
    context = {
        "in_use": in_use,
        "latest": latest,
        "shown": shown,
        "no_model_reason": no_model_reason,
        "report": presenters.report(shown) if shown is not None else None,
        "history": selectors.model_history(),
        "zone": timezone.get_current_timezone_name(),
    }
    return render(request, "winprob/backtest.html", context, status=status)


@require_POST
@agent_page
def activate(request: HttpRequest, version: int) -> HttpResponse:
    """A manager puts a kept model back in use; every open lead is scored again with it.
    A model that cannot be used (rejected, damaged, already in use) is a message, 409."""
    permissions.require(permissions.can_see_team_reports, request.user)
    try:
        model = services.model_activate(version=version, user=request.user)
    except Conflict as error:
        messages.error(request, error.message)
        return _backtest_page(request, status=409)
    tasks.rescore_after_rollback()
    messages.success(request, f"Model v{model.version} is in use again; open leads are being scored with it.")
    return HttpResponseRedirect(reverse("winprob:backtest"))
