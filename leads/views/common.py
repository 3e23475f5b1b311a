"""Helpers shared by the agent pages."""

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from leads import errors
from leads.models import Role, User


def agent_page(view):
    """Login required; a lead the user may not see is a 404, a forbidden action a 403."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except errors.NotFound:
            raise Http404("Not found.") from None
        except errors.PermissionDenied as exc:
            raise DjangoPermissionDenied(exc.message) from None

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(request: HttpRequest, default: str) -> str:
    """The form's ``next`` URL when it points into this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default


def render_invalid(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """The page again with the form's errors: 422, which the HTMX config swaps in."""
    return render(request, template, context, status=422)


def assignable_users() -> list[User]:
    """Active agents and managers, for the assign and filter menus."""
    return list(
        User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.MANAGER]).order_by(
            "first_name", "last_name", "username"
        )
    )
