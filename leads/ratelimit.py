"""Request budgets (django-ratelimit, counted in the Django cache: Redis with
REDIS_URL, local memory otherwise), and the rate-limited sign-in and password
reset pages.

A budget is a fixed window: ``API_RATE_LIMIT`` ("600/m": 600 requests per minute)
per API caller; ``LOGIN_RATE_LIMIT`` ("10/m") sign-in attempts per client address and
per username, on the agents' sign-in page and the admin's alike;
``PASSWORD_RESET_IP_RATE_LIMIT`` reset requests per client address and
``PASSWORD_RESET_RATE_LIMIT`` per email address. The API's use is in ``leads.api.ratelimit``.
"""

import functools
import logging
import math
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.shortcuts import render
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# "<count>/<period>": 600/m, 10/30s, 5000/h, 100000/d.
_RATE_SHAPE = re.compile(r"[0-9]+/[0-9]*[smhd]")


@dataclass(frozen=True)
class Budget:
    """A caller's standing in its current window, after counting this request."""

    limit: int
    remaining: int
    reset_seconds: int  # until the window ends and the budget is full again
    exceeded: bool


def spend(request, *, group: str, key, rate: str) -> Budget | None:
    """Count ``request`` against the budget ``group``/``key``; None when no budget
    applies (RATELIMIT_ENABLE off) or the cache cannot be reached: the limit is a
    safeguard and must not take the site down with the cache (fail open, logged)."""
    if not _RATE_SHAPE.fullmatch(rate):
        raise ImproperlyConfigured(f'{rate!r} is not a rate: use "<count>/<period>", e.g. "600/m".')
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except (RedisError, OSError):  # the cache (Redis) is unreachable
        logger.warning("Rate limit %s not checked: the cache is unreachable", group, exc_info=True)
        return None
    if usage is None:
        return None
    return Budget(
        limit=usage["limit"],
        remaining=max(0, usage["limit"] - usage["count"]),
        reset_seconds=max(1, usage["time_left"]),
        exceeded=usage["should_limit"],
    )


def username_key(_group: str, request) -> str:
    """The username typed into the sign-in form, lower-cased: "Alice" and "alice" share a budget."""
    return request.POST.get("username", "").strip().lower()[:150]


def reset_email_key(_group: str, request) -> str:
    """The address typed into the password reset form, lower-cased."""
    return request.POST.get("email", "").strip().lower()[:254]


def _wait_seconds(budgets: list[Budget | None]) -> int | None:
    """Seconds until every spent budget among ``budgets`` is full again; None when none is spent."""
    spent = [budget.reset_seconds for budget in budgets if budget is not None and budget.exceeded]
    return max(spent) if spent else None


def sign_in_wait(request) -> int | None:
    """Count a sign-in attempt against LOGIN_RATE_LIMIT per client address and per
    username; returns the seconds to wait when either budget is spent, else None."""
    rate = settings.LOGIN_RATE_LIMIT
    budgets = [spend(request, group="login-ip", key="ip", rate=rate)]
    if username_key("", request):
        budgets.append(spend(request, group="login-username", key=username_key, rate=rate))
    return _wait_seconds(budgets)


def password_reset_wait(request) -> int | None:
    """Count a reset request against PASSWORD_RESET_IP_RATE_LIMIT per client address and
    PASSWORD_RESET_RATE_LIMIT per email address; returns the seconds to wait when either
    budget is spent, else None. Known and unknown addresses count alike, so the answer
    tells nothing about which addresses have an account."""
    budgets = [spend(request, group="reset-ip", key="ip", rate=settings.PASSWORD_RESET_IP_RATE_LIMIT)]
    if reset_email_key("", request):
        budgets.append(
            spend(request, group="reset-email", key=reset_email_key, rate=settings.PASSWORD_RESET_RATE_LIMIT)
        )
    return _wait_seconds(budgets)


def rate_limited_sign_in(view):
    """Wrap a sign-in view (ours, or the admin's ``admin.site.login``) so its POSTs spend
    the sign-in budgets. Past either one the view's form refuses without checking the
    password (its form must use ``SignInBudgetMixin``) and the page answers 429 with
    Retry-After."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        wait = sign_in_wait(request) if request.method == "POST" else None
        request.sign_in_wait = wait
        response = view(request, *args, **kwargs)
        if wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response

    return wrapper


class SignInBudgetMixin:
    """For an AuthenticationForm: a request over its sign-in budget (``rate_limited_sign_in``)
    gets a message saying when to try again, and no password is checked."""

    def clean(self):
        wait = getattr(self.request, "sign_in_wait", None)
        if wait is not None:
            raise ValidationError(f"Too many sign-in attempts. Try again in {wait} seconds.", code="rate_limited")
        return super().clean()


class RateLimitedAuthenticationForm(SignInBudgetMixin, AuthenticationForm):
    pass


class RateLimitedAdminAuthenticationForm(SignInBudgetMixin, AdminAuthenticationForm):
    pass


# The agents' sign-in page.
rate_limited_login = rate_limited_sign_in(LoginView.as_view(authentication_form=RateLimitedAuthenticationForm))


class RateLimitedPasswordResetView(PasswordResetView):
    """Django's password reset page; requests past the budgets (``password_reset_wait``)
    answer 429 with a page that says when to try again, and no email is sent."""

    def post(self, request, *args, **kwargs):
        wait = password_reset_wait(request)
        if wait is None:
            return super().post(request, *args, **kwargs)
        context = {"wait_minutes": math.ceil(wait / 60)}
        response = render(request, "registration/password_reset_limited.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response
