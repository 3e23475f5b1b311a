"""Request budgets (django-ratelimit, counted in the Django cache: Redis with
REDIS_URL, local memory otherwise), and the rate-limited sign-in page.

A budget is a fixed window: ``API_RATE_LIMIT`` ("600/m": 600 requests per minute)
per API caller, ``LOGIN_RATE_LIMIT`` ("10/m") sign-in attempts per client address and
per username. The API's use is in ``leads.api.ratelimit``.
"""

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ImproperlyConfigured, ValidationError
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


class RateLimitedLoginView(LoginView):
    """Django's sign-in page; POSTs beyond LOGIN_RATE_LIMIT per client address or per
    username answer 429 with the form and a message, and the password is not checked."""

    def post(self, request, *args, **kwargs):
        rate = settings.LOGIN_RATE_LIMIT
        budgets = [spend(request, group="login-ip", key="ip", rate=rate)]
        if username_key("", request):
            budgets.append(spend(request, group="login-username", key=username_key, rate=rate))
        blocked = [budget for budget in budgets if budget is not None and budget.exceeded]
        if not blocked:
            return super().post(request, *args, **kwargs)
        wait = max(budget.reset_seconds for budget in blocked)
        form = _TooManyAttemptsForm(request, data=request.POST, wait=wait)
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(wait)
        return response


class _TooManyAttemptsForm(AuthenticationForm):
    """The sign-in form as a client over its budget sees it: the typed username is
    kept, the message says when to try again, and no password is checked."""

    def __init__(self, request, *, wait: int, **kwargs):
        super().__init__(request, **kwargs)
        self.wait = wait

    def clean(self):
        raise ValidationError(f"Too many sign-in attempts. Try again in {self.wait} seconds.", code="rate_limited")
